package app

import (
	"slices"
	"testing"
)

// TestReopenIsForAdmins guards "reopen is for admins" on the JSON API on its
// own: the reports are in a status that allows reopening (the admin is
// offered it and does it), so only the permission can refuse the officer of
// the report's own cell. Were officers granted report:reopen, they would
// get 200 here, not 403.
func TestReopenIsForAdmins(t *testing.T) {
	w := newReportWorld(t)
	cases := []struct {
		name  string
		where map[string]string // far enough apart not to be duplicates
		close []map[string]any  // the officer's actions that close it
		want  string            // the closed status
	}{
		{"rejected", map[string]string{"category": "road_damage", "lat": "28.193", "lng": "112.975"},
			[]map[string]any{{"action": "reject", "reason": "not_a_problem"}}, "rejected"},
		{"resolved", map[string]string{"category": "road_damage", "lat": "28.197", "lng": "112.975"},
			[]map[string]any{{"action": "verify", "severity": 1}, {"action": "resolve", "note": "已修复"}}, "resolved"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			officer, admin := *w.officer, *w.admin
			officer.t, admin.t = t, t
			status, rep := submitReport(t, w.rider, "reopen-"+tc.name, tc.where, "road-clean.jpg")
			if status != 201 {
				t.Fatalf("submit: %d %v", status, rep)
			}
			path := "/api/v1/reports/" + rep["id"].(string)
			if rep["cell"] != "T-0001" {
				t.Fatalf("the report is in cell %v, want T-0001, the officer's own", rep["cell"])
			}
			for _, a := range tc.close {
				officer.must("POST", path+"/actions", a, nil, 200)
			}

			type view struct {
				Status  string   `json:"status"`
				Allowed []string `json:"allowed_actions"`
			}
			var byAdmin, byOfficer view
			admin.must("GET", path, nil, &byAdmin, 200)
			if byAdmin.Status != tc.want || !slices.Contains(byAdmin.Allowed, "reopen") {
				t.Fatalf("the admin sees status %q offering %v; want %s offering reopen", byAdmin.Status, byAdmin.Allowed, tc.want)
			}
			officer.must("GET", path, nil, &byOfficer, 200)
			if slices.Contains(byOfficer.Allowed, "reopen") {
				t.Errorf("the officer of the cell is offered %v; want no reopen", byOfficer.Allowed)
			}

			if got := officer.do("POST", path+"/actions", map[string]any{"action": "reopen", "note": "再看看"}, nil); got != 403 {
				t.Errorf("the officer of the report's cell reopening a %s report: status %d, want 403", tc.want, got)
			}
			officer.must("GET", path, nil, &byOfficer, 200)
			if byOfficer.Status != tc.want {
				t.Errorf("after the officer's refused reopen the status is %q, want %s", byOfficer.Status, tc.want)
			}

			var reopened view
			admin.must("POST", path+"/actions", map[string]any{"action": "reopen", "note": "复查"}, &reopened, 200)
			if reopened.Status != "acknowledged" {
				t.Errorf("the admin reopened it to %q, want acknowledged", reopened.Status)
			}
		})
	}
}
