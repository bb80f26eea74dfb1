package app

import (
	"html"
	"net/http"
	"net/url"
	"slices"
	"strings"
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

// TestActorRoleSameOnAPIAndPages: the role a person acts in is decided in
// one place (reports.Access), so an admin acting through a page and through
// the API is recorded as an admin both times, and an officer as an officer.
// (The copies once differed: the API took the admin role from one
// permission, the pages from another.)
func TestActorRoleSameOnAPIAndPages(t *testing.T) {
	w := newReportWorld(t)
	submit := func(key, lat string) string {
		status, rep := submitReport(t, w.rider, key, map[string]string{"category": "road_damage", "lat": lat, "lng": "112.975"}, "road-clean.jpg")
		if status != 201 {
			t.Fatalf("submit: %d %v", status, rep)
		}
		return rep["id"].(string)
	}
	viaAPI, viaPage, byOfficer := submit("role-1", "28.193"), submit("role-2", "28.196"), submit("role-3", "28.199")
	w.admin.must("POST", "/api/v1/reports/"+viaAPI+"/actions", map[string]any{"action": "acknowledge"}, nil, 200)

	actOnPage := func(login, password, id string) {
		u := newWebUser(t, w.base)
		u.logIn(login, password)
		status, page := u.get("/reports/" + id)
		m := csrfField.FindStringSubmatch(page)
		if status != 200 || m == nil {
			t.Fatalf("the report page as %s: status %d", login, status)
		}
		form := url.Values{"action": {"acknowledge"}, "csrf": {html.UnescapeString(m[1])}}
		req, _ := http.NewRequest("POST", w.base+"/reports/"+id+"/act", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if status, page := u.send(req); status != 200 {
			t.Fatalf("acknowledge on the page as %s: status %d\n%.500s", login, status, page)
		}
	}
	actOnPage("admin", adminPassword, viaPage)
	actOnPage("officer-a", "staff-password", byOfficer)

	for id, want := range map[string]string{viaAPI: "admin", viaPage: "admin", byOfficer: "officer"} {
		var r struct {
			Timeline []struct {
				Action    string `json:"action"`
				ActorRole string `json:"actor_role"`
			} `json:"timeline"`
		}
		w.admin.must("GET", "/api/v1/reports/"+id, nil, &r, 200)
		got := ""
		for _, e := range r.Timeline {
			if e.Action == "acknowledge" {
				got = e.ActorRole
			}
		}
		if got != want {
			t.Errorf("report %s: acknowledged as %q, want %q (timeline %+v)", id, got, want, r.Timeline)
		}
	}
}
