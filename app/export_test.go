package app

import (
	"strings"
	"testing"
	"time"
)

// The admin downloads the reports of a range as a CSV file; a bad range is
// refused with the reason.
func TestExportOverHTTP(t *testing.T) {
	base, _ := startDemo(t)
	rider := login(t, base, "13800138001", DemoPassword)
	if status, rep := submitReport(t, rider, "export-1", map[string]string{
		"category": "road_damage", "description": "井盖缺失", "lat": "28.1960", "lng": "112.9770",
	}, "road-clean.jpg"); status != 201 {
		t.Fatalf("submit: %d %v", status, rep)
	}
	admin := login(t, base, "admin", adminPassword)
	today := time.Now().In(time.FixedZone("CST", 8*3600)).Format(time.DateOnly)
	resp, body := rawRequest(t, "GET", base+"/api/v1/admin/export/reports.csv?from="+today, "", admin.token, nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("export: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"))
	}
	if lines := strings.Split(strings.TrimSpace(string(body)), "\n"); len(lines) != 2 || !strings.Contains(lines[1], "井盖缺失") {
		t.Fatalf("export body:\n%s", body)
	}
	resp, body = rawRequest(t, "GET", base+"/api/v1/admin/export/reports.csv?from=2026-11-30&to=2026-11-01", "", admin.token, nil)
	if resp.StatusCode != 422 || !strings.Contains(string(body), "before the first") {
		t.Fatalf("a reversed range: %d %s", resp.StatusCode, body)
	}
	resp, _ = rawRequest(t, "GET", base+"/api/v1/admin/export/figures.csv?from="+today, "", admin.token, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("figures export: %d", resp.StatusCode)
	}

	// The figures page offers the download to admins only.
	web := newWebUser(t, base)
	web.logIn("admin", adminPassword)
	if _, page := web.get("/figures"); !strings.Contains(page, `action="/api/v1/admin/export/reports.csv"`) {
		t.Error("the admin's figures page has no CSV download")
	}
	off := newWebUser(t, base)
	off.logIn("officer1", DemoPassword)
	if _, page := off.get("/figures"); strings.Contains(page, "export/reports.csv") {
		t.Error("an officer's figures page offers the admin's download")
	}
}
