package app

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/nuanxin/nuanxin/storage"
	"github.com/nuanxin/nuanxin/storage/storagetest"
)

// TestReadyzFollowsStores: /readyz answers 200 while both stores answer and
// 503 once the object store is gone, while /healthz stays 200.
func TestReadyzFollowsStores(t *testing.T) {
	s3, err := storage.StartEmbeddedS3(t.TempDir(), storagetest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	_, base := mustApp(t, testEnv(t, map[string]string{
		"NUANXIN_S3_ENDPOINT": s3.Endpoint, "NUANXIN_S3_ACCESS_KEY": s3.AccessKey, "NUANXIN_S3_SECRET_KEY": s3.SecretKey,
	}))
	c := &client{t: t, base: base}
	c.must("GET", "/readyz", nil, nil, 200)
	s3.Stop()
	c.must("GET", "/readyz", nil, nil, 503)
	c.must("GET", "/healthz", nil, nil, 200)
}

// TestDemoCity seeds the demo twice: the city is there with every cell
// assigned, its printed logins work, and the second run changes nothing.
func TestDemoCity(t *testing.T) {
	env := testEnv(t, map[string]string{"NUANXIN_DEMO": "true"})
	cfg, err := ParseConfig(nil, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	a, err := New(context.Background(), cfg, storagetest.Logger(), &out)
	if err != nil {
		t.Fatal(err)
	}
	cells := a.Grid.Cells()
	if len(cells) < 24 {
		t.Errorf("demo city has %d cells, want a few dozen", len(cells))
	}
	for _, c := range cells {
		if c.Assignment.Primary == nil || c.Assignment.Backup == nil {
			t.Errorf("cell %s lacks a primary or backup officer", c.Code)
		}
	}
	if _, ok := a.Grid.Locate(28.1960, 112.9770); !ok {
		t.Error("Wuyi Square (五一广场) is in no demo cell")
	}
	for _, want := range []string{"officer1", "station1", "13800138001", DemoPassword} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("printed logins lack %q:\n%s", want, out.String())
		}
	}
	for _, login := range []string{"officer1", "station1", "13800138001"} {
		if _, err := a.Accounts.Login(context.Background(), login, DemoPassword, ""); err != nil {
			t.Errorf("demo login %s: %v", login, err)
		}
	}
	users, err := a.Accounts.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	a.Close()

	a2, err := New(context.Background(), cfg, storagetest.Logger(), io.Discard)
	if err != nil {
		t.Fatalf("second demo seed: %v", err)
	}
	defer a2.Close()
	again, err := a2.Accounts.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != len(users) || len(a2.Grid.Cells()) != len(cells) {
		t.Errorf("second seed: %d accounts and %d cells, want %d and %d", len(again), len(a2.Grid.Cells()), len(users), len(cells))
	}
}
