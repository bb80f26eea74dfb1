package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nuanxin/nuanxin/grid"
	"github.com/nuanxin/nuanxin/storage"
	"github.com/nuanxin/nuanxin/storage/storagetest"
)

const adminPassword = "admin-test-password"

// testEnv is the environment of a test instance on its own embedded stores.
func testEnv(t testing.TB, extra map[string]string) func(string) string {
	env := map[string]string{
		"NUANXIN_ADDR":            "127.0.0.1:0",
		"NUANXIN_DATA_DIR":        t.TempDir(),
		"NUANXIN_ADMIN_PASSWORD":  adminPassword,
		"NUANXIN_LOG_LEVEL":       "warn",
		"NUANXIN_RELOAD_INTERVAL": "200ms",
	}
	for k, v := range extra {
		env[k] = v
	}
	return func(k string) string { return env[k] }
}

// testLogger discards what the application logs.
func testLogger() *slog.Logger { return storagetest.Logger() }

// mustApp builds an application as Run does and serves it until the test
// ends, through App.Serve as Run does.
func mustApp(t testing.TB, getenv func(string) string) (*App, string) {
	t.Helper()
	cfg, err := ParseConfig(nil, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(context.Background(), cfg, testLogger(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := listen(t)
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		stop()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
		a.Close()
	})
	return a, "http://" + ln.Addr().String()
}

// client is a small JSON API client for tests.
type client struct {
	t     testing.TB
	base  string
	token string
}

func (c *client) do(method, path string, body any, out any) int {
	c.t.Helper()
	var r io.Reader
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case []byte:
		r, ctype = bytes.NewReader(b), "application/geo+json"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if r != nil {
		req.Header.Set("Content-Type", ctype)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			c.t.Fatalf("%s %s: decode %s: %v", method, path, data, err)
		}
	}
	if resp.StatusCode >= 400 && out != nil {
		c.t.Logf("%s %s -> %d %s", method, path, resp.StatusCode, data)
	}
	return resp.StatusCode
}

// send sends req as c and returns the status and the JSON answer, whatever
// it is: the resource, or the problem document of a refusal.
func (c *client) send(req *http.Request) (int, map[string]any) {
	c.t.Helper()
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(data, &out)
	return resp.StatusCode, out
}

func (c *client) must(method, path string, body any, out any, want int) {
	c.t.Helper()
	if got := c.do(method, path, body, out); got != want {
		c.t.Fatalf("%s %s: status %d, want %d", method, path, got, want)
	}
}

func login(t testing.TB, base, login, password string) *client {
	t.Helper()
	c := &client{t: t, base: base}
	var out struct{ Token string }
	c.must("POST", "/api/v1/auth/login", map[string]string{"login": login, "password": password}, &out, 200)
	c.token = out.Token
	return c
}

type user struct {
	ID string `json:"id"`
}

func createStaff(t testing.TB, admin *client, username, kind string) user {
	t.Helper()
	var u user
	admin.must("POST", "/api/v1/admin/users", map[string]string{"username": username, "display_name": username, "password": "staff-password", "kind": kind}, &u, 201)
	return u
}

// twoCells is a 2-cell map over central Changsha.
func twoCells(t testing.TB) []byte {
	t.Helper()
	b, err := grid.MarshalFeatureCollection(grid.GridCells("T", "芙蓉区", 112.97, 28.19, 0.01, 2, 1))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEndToEnd runs the whole program on port 0 as a user would: ready, the
// admin logs in, imports a map, creates an officer and assigns them; SIGTERM
// (context cancel) shuts it down cleanly.
func TestEndToEnd(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	var out bytes.Buffer
	go func() {
		done <- Run(ctx, nil, testEnv(t, map[string]string{"NUANXIN_LOG_LEVEL": "info"}), &syncWriter{w: &out}, func(a string) { addrc <- a })
	}()
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("run ended before listening: %v", err)
	}
	anon := &client{t: t, base: base}
	anon.must("GET", "/readyz", nil, nil, 200)
	anon.must("GET", "/healthz", nil, nil, 200)
	var spec struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	anon.must("GET", "/api/openapi.json", nil, &spec, 200)
	if spec.OpenAPI != "3.1.0" || spec.Paths["/api/v1/grid/import"] == nil {
		t.Errorf("openapi %q with %d paths; want 3.1.0 describing /api/v1/grid/import", spec.OpenAPI, len(spec.Paths))
	}

	admin := login(t, base, "admin", adminPassword)
	var res grid.ImportResult
	admin.must("POST", "/api/v1/grid/import?mode=replace", twoCells(t), &res, 200)
	if res.Cells != 2 || res.Added != 2 {
		t.Errorf("import = %+v, want 2 cells added", res)
	}
	officer := createStaff(t, admin, "officer-e2e", "officer")
	admin.must("PUT", "/api/v1/grid/cells/T-0001/officers", map[string]string{"primary_id": officer.ID}, nil, 200)
	var loc struct {
		Assigned bool
		Code     string
	}
	off := login(t, base, "officer-e2e", "staff-password")
	off.must("GET", "/api/v1/grid/locate?lat=28.195&lng=112.975", nil, &loc, 200)
	if !loc.Assigned || loc.Code != "T-0001" {
		t.Errorf("locate = %+v, want T-0001", loc)
	}
	var m bytes.Buffer
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(&m, resp.Body)
	resp.Body.Close()
	t.Logf("%s", grepLines(m.String(), "nuanxin_http_requests_total"))
	for _, want := range []string{`nuanxin_http_requests_total{method="POST",route="/api/v1/grid/import",status="200"} 1`, "nuanxin_http_request_duration_seconds_bucket", "nuanxin_store_errors_total"} {
		if !strings.Contains(m.String(), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop within 30 s of cancel")
	}
	if !strings.Contains(out.String(), "msg=stopped") {
		t.Errorf("log lacks the clean stop:\n%s", out.String())
	}
}

// TestTwoInstances runs two servers on the same stores: a change made through
// one is in force on the other within 5 seconds (in practice within one
// reload or live interval).
func TestTwoInstances(t *testing.T) {
	shared := sharedStores(t)
	_, baseA := mustApp(t, testEnv(t, shared))
	b, baseB := mustApp(t, testEnv(t, shared))

	adminA := login(t, baseA, "admin", adminPassword)
	officer := createStaff(t, adminA, "officer-two", "officer")
	offB := login(t, baseB, "officer-two", "staff-password")
	// Not yet an officer anywhere: B refuses the grid.
	offB.must("GET", "/api/v1/grid/cells", nil, nil, 403)

	adminA.must("POST", "/api/v1/grid/import?mode=replace", twoCells(t), nil, 200)
	adminA.must("PUT", "/api/v1/grid/cells/T-0002/officers", map[string]string{"primary_id": officer.ID}, nil, 200)

	start := time.Now()
	eventually(t, 5*time.Second, "B to apply A's map and assignment", func() bool {
		var out struct {
			Cells []struct {
				Code    string
				Primary *struct{ ID string }
			}
		}
		if offB.do("GET", "/api/v1/grid/cells", nil, &out) != 200 || len(out.Cells) != 2 {
			return false
		}
		c, ok := b.Grid.Locate(28.195, 112.985)
		return ok && c.Code == "T-0002" && out.Cells[1].Primary != nil && out.Cells[1].Primary.ID == officer.ID
	})
	t.Logf("change reached instance B after %s", time.Since(start).Round(10*time.Millisecond))

	// Disabling on A stops the officer's session on B as soon as B reads
	// the accounts revision (one live interval, 500 ms by default), though
	// B has the session and the account cached.
	offB.must("GET", "/api/v1/me", nil, nil, 200)
	start = time.Now()
	adminA.must("PUT", "/api/v1/admin/users/"+officer.ID+"/disabled", map[string]bool{"disabled": true}, nil, 200)
	eventually(t, 5*time.Second, "B to refuse the disabled officer", func() bool {
		return offB.do("GET", "/api/v1/me", nil, nil) == 401
	})
	t.Logf("the disable reached instance B after %s", time.Since(start).Round(10*time.Millisecond))
}

// sharedStores starts an embedded document store and object store outside
// any application and returns the settings that point applications at them,
// for tests of several instances sharing stores.
func sharedStores(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	uri, stopDocs, err := storage.StartEmbeddedMongo(dir+"/docs", storagetest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopDocs)
	s3, err := storage.StartEmbeddedS3(dir+"/objects", storagetest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s3.Stop)
	return map[string]string{
		"NUANXIN_MONGO_URI": uri, "NUANXIN_S3_ENDPOINT": s3.Endpoint,
		"NUANXIN_S3_ACCESS_KEY": s3.AccessKey, "NUANXIN_S3_SECRET_KEY": s3.SecretKey,
		"NUANXIN_RELOAD_INTERVAL": "1s",
	}
}

func eventually(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// BenchmarkColdStart measures a start on an empty data dir with embedded
// stores up to the first 200 from /readyz.
func BenchmarkColdStart(b *testing.B) {
	for b.Loop() {
		ctx, cancel := context.WithCancel(context.Background())
		addrc := make(chan string, 1)
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- Run(ctx, nil, testEnv(b, nil), io.Discard, func(a string) { addrc <- a }) }()
		addr := <-addrc
		for {
			resp, err := http.Get("http://" + addr + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
			time.Sleep(time.Millisecond)
		}
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms-to-ready")
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// String is what was written, if w is a bytes.Buffer.
func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.w.(*bytes.Buffer); ok {
		return b.String()
	}
	return ""
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
