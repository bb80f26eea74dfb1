package app

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigRejects(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"bad duration", map[string]string{"NUANXIN_ACKNOWLEDGE_WITHIN": "soon"}, "acknowledge-within"},
		{"reload too slow", map[string]string{"NUANXIN_RELOAD_INTERVAL": "10s"}, "5s"},
		{"S3 without keys", map[string]string{"NUANXIN_S3_ENDPOINT": "minio:9000"}, "ACCESS_KEY"},
		{"short bucket", map[string]string{"NUANXIN_S3_BUCKET": "nx"}, "3 characters"},
		{"bad log level", map[string]string{"NUANXIN_LOG_LEVEL": "loud"}, "log level"},
		{"categories not JSON", map[string]string{"NUANXIN_CATEGORIES_FILE": write("a.json", "road")}, "JSON list"},
		{"category twice", map[string]string{"NUANXIN_CATEGORIES_FILE": write("b.json", `[{"code":"x","zh":"甲","en":"X"},{"code":"x","zh":"乙","en":"Y"}]`)}, "twice"},
		{"category without name", map[string]string{"NUANXIN_CATEGORIES_FILE": write("c.json", `[{"code":"x","zh":"甲"}]`)}, "en name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseConfig(nil, func(k string) string { return c.env[k] }, io.Discard)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want one mentioning %q", err, c.want)
			}
		})
	}
	cfg, err := ParseConfig(nil, func(k string) string {
		if k == "NUANXIN_CATEGORIES_FILE" {
			return write("ok.json", `[{"code":"pothole","zh":"坑洼","en":"Pothole"}]`)
		}
		return ""
	}, io.Discard)
	if err != nil || len(cfg.Categories) != 1 || cfg.Categories[0].Code != "pothole" {
		t.Errorf("good categories file: %+v, %v", cfg.Categories, err)
	}
	if cfg.Addr != ":8080" || cfg.Storage.DataDir != "./data" || cfg.AcknowledgeWithin.String() != "10m0s" {
		t.Errorf("defaults: addr %q data %q ack %s", cfg.Addr, cfg.Storage.DataDir, cfg.AcknowledgeWithin)
	}
}
