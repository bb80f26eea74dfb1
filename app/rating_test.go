package app

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// problemOf posts body as c and returns the status and the problem
// document of a refusal.
func problemOf(t *testing.T, c *client, path string, body any) (int, map[string]any) {
	t.Helper()
	j, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", c.base+path, bytes.NewReader(j))
	req.Header.Set("Content-Type", "application/json")
	return c.send(req)
}

// Satisfaction (回访) through the API: who may rate, list disputes and
// uphold, with the route × role table; refusals answered 4xx with nothing
// written; the dispute reaching the admins and the uphold the reporter.
func TestRatingRouteTable(t *testing.T) {
	w := newReportWorld(t)
	status, rep := submitReport(t, w.rider, "rate-1", westCell, "road-clean.jpg")
	if status != 201 {
		t.Fatalf("submit: %d %v", status, rep)
	}
	id, ticket := rep["id"].(string), rep["ticket"].(string)
	acts := "/api/v1/reports/" + id + "/actions"
	rate := "/api/v1/reports/" + ticket + "/rate" // a ticket number names the report too
	entries := func() int { return len(w.timeline(t, id).Timeline) }
	refuse := func(what string, c *client, path string, body map[string]any, want int, code string) {
		t.Helper()
		before := entries()
		got, p := problemOf(t, c, path, body)
		if got != want {
			t.Errorf("%s: %d %v, want %d", what, got, p["detail"], want)
		}
		if p["detail"] == "" || p["detail"] == nil {
			t.Errorf("%s: no detail", what)
		}
		if code != "" && p["code"] != code {
			t.Errorf("%s: code %v, want %s", what, p["code"], code)
		}
		if n := entries(); n != before {
			t.Errorf("%s wrote %d timeline entries", what, n-before)
		}
	}
	unsatisfied := map[string]any{"rating": "unsatisfied", "comment": "井盖还是松的，踩上去会动"}

	refuse("rating an open report", w.rider, rate, map[string]any{"rating": "satisfied"}, 409, "rate.not_resolved")
	for _, a := range []string{"verify", "resolve"} {
		body := map[string]any{"action": a}
		if a == "verify" {
			body["severity"] = 1
		}
		w.officer.must("POST", acts, body, nil, 200)
	}

	for _, tc := range []struct {
		who  string
		c    *client
		body map[string]any
		want int
	}{
		{"other rider", w.otherRider, unsatisfied, 404},
		{"officer of the cell", w.officer, unsatisfied, 403},
		{"officer of another cell", w.stranger, unsatisfied, 403},
		{"admin, not the reporter", w.admin, unsatisfied, 404},
		{"a rating that is none", w.rider, map[string]any{"rating": "great"}, 422},
		{"unsatisfied without a reason", w.rider, map[string]any{"rating": "unsatisfied", "comment": "  "}, 422},
		{"no rating", w.rider, map[string]any{"comment": "好"}, 422},
	} {
		refuse("rate by "+tc.who, tc.c, rate, tc.body, tc.want, "")
	}
	// The rider's home page asks for the rating, and stops once it is given.
	home := newWebUser(t, w.base)
	home.logIn("13800138011", "rider-password")
	toRate := `href="/reports/` + id + `#rate"`
	if _, page := home.get("/"); !strings.Contains(page, toRate) || !strings.Contains(page, "待评价") {
		t.Errorf("the rider's home page does not ask to rate the resolved report (%s)", toRate)
	}
	var entry map[string]any
	w.rider.must("POST", rate, unsatisfied, &entry, 201)
	if _, page := home.get("/"); strings.Contains(page, toRate) {
		t.Error("the rider's home page still asks to rate a report rated already")
	}
	if entry["action"] != "rate" || entry["reason"] != "unsatisfied" || entry["note"] != unsatisfied["comment"] {
		t.Errorf("rate entry = %v", entry)
	}
	refuse("rating twice", w.rider, rate, map[string]any{"rating": "satisfied"}, 409, "rate.done")
	var r struct {
		Rating   string `json:"rating"`
		Disputed bool   `json:"disputed"` // omitted when false
		Status   string `json:"status"`
	}
	w.rider.must("GET", "/api/v1/reports/"+id, nil, &r, 200)
	if r.Rating != "unsatisfied" || !r.Disputed || r.Status != "resolved" {
		t.Errorf("report after the rating = %+v", r)
	}

	// The disputes list: admins only.
	var list struct {
		Disputes []struct {
			ID, Ticket, Cell, Comment string
		}
	}
	w.admin.must("GET", "/api/v1/admin/disputes", nil, &list, 200)
	if len(list.Disputes) != 1 || list.Disputes[0].ID != id || list.Disputes[0].Ticket != ticket || list.Disputes[0].Comment != unsatisfied["comment"] {
		t.Errorf("disputes = %+v", list.Disputes)
	}
	for _, c := range []*client{w.rider, w.officer, w.stranger} {
		if got := c.do("GET", "/api/v1/admin/disputes", nil, nil); got != 403 {
			t.Errorf("disputes list by a non-admin: %d, want 403", got)
		}
	}
	if got := kinds(t, w.admin); len(got) == 0 || got[0] != "rate" {
		t.Errorf("the admin's inbox = %v, want the unsatisfied rating first", got)
	}

	// Uphold: the admin, with a note; an officer of the cell is refused
	// with 403 report.admins_only although report:handle lets them post
	// other actions there.
	uphold := map[string]any{"action": "uphold", "note": "已按标准更换井盖，复查无松动"}
	refuse("uphold by the rider", w.rider, acts, uphold, 403, "")
	refuse("uphold by the officer of the cell", w.officer, acts, uphold, 403, "report.admins_only")
	refuse("uphold by an officer of another cell", w.stranger, acts, uphold, 404, "")
	refuse("uphold without a note", w.admin, acts, map[string]any{"action": "uphold"}, 422, "")
	r.Disputed = false
	w.admin.must("POST", acts, uphold, &r, 200)
	if r.Status != "resolved" || r.Disputed {
		t.Errorf("report after the uphold = %+v", r)
	}
	refuse("upholding twice", w.admin, acts, uphold, 409, "")
	w.admin.must("GET", "/api/v1/admin/disputes", nil, &list, 200)
	if len(list.Disputes) != 0 {
		t.Errorf("disputes after the uphold = %+v", list.Disputes)
	}
	var inbox struct {
		Notifications []struct{ Kind, Note string }
	}
	w.rider.must("GET", "/api/v1/inbox", nil, &inbox, 200)
	if len(inbox.Notifications) == 0 || inbox.Notifications[0].Kind != "uphold" || inbox.Notifications[0].Note != uphold["note"] {
		t.Errorf("the rider's inbox = %+v, want the uphold with its note first", inbox.Notifications)
	}
	v := w.timeline(t, id)
	if last := v.Timeline[len(v.Timeline)-1]; last.Action != "uphold" || last.ActorRole != "admin" || last.Note != uphold["note"] {
		t.Errorf("last timeline entry = %+v", last)
	}
}
