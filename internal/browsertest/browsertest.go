// Package browsertest starts the headless Chromium that the browser tests
// (web, and the accessibility audit in app) drive, one way for all of them.
package browsertest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Path finds the browser: NUANXIN_CHROMIUM, else /usr/bin/chromium. Without
// one the test is skipped, except in CI (CI set to anything), which must run
// the browser tests and fails instead.
func Path(t testing.TB) string {
	t.Helper()
	path := os.Getenv("NUANXIN_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("no Chromium at %s (set NUANXIN_CHROMIUM): CI must run the browser tests", path)
		}
		t.Skipf("no Chromium at %s (set NUANXIN_CHROMIUM); skipping the browser tests", path)
	}
	return path
}

// Start starts a headless Chromium with a fresh profile, in Chinese, and
// returns the context of its first tab; the browser stops when the test
// ends, or after timeout. extra adds to the options (a window size).
func Start(t testing.TB, timeout time.Duration, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	opts := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(Path(t)),
		chromedp.Headless,
		chromedp.NoSandbox, // tests run as root in containers
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("lang", "zh-CN"),
		chromedp.Flag("accept-lang", "zh-CN,zh"),
		chromedp.UserDataDir(t.TempDir()),
	}, extra...)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	stop := func() {
		bcancel()
		acancel()
		cancel()
	}
	// Started now, so that new tabs (browser contexts) are targets in it.
	if err := chromedp.Do(bctx); err != nil {
		stop()
		t.Fatalf("start Chromium: %v", err)
	}
	t.Cleanup(stop)
	return bctx
}
