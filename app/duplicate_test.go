package app

import (
	"net/http"
	"strings"
	"testing"
)

// A rider whose report repeats another rider's is told it was reported
// already, in the API and on the page, in Chinese and English, and never
// shown that report's id, ticket or a link to it. A rider whose report
// repeats their own gets the link; officers and admins get it too.
func TestDuplicateOfAnotherRider(t *testing.T) {
	w := newReportWorld(t)
	firstID, firstTicket := submitted(t, w.rider, "dup-first", westCell)

	// The other rider files the same problem at the same place.
	status, out := submitReport(t, w.otherRider, "dup-second", westCell, "road-clean.jpg")
	if status != 201 {
		t.Fatalf("second report: %d %v", status, out)
	}
	dupID, _ := out["id"].(string)
	leaks := func(what, body string) {
		t.Helper()
		for _, s := range []string{firstID, firstTicket} {
			if strings.Contains(body, s) {
				t.Errorf("%s shows the first rider's report (%s)", what, s)
			}
		}
	}
	if out["already_reported"] != true || out["duplicate_of"] != nil || out["duplicate_state"] != "probable" {
		t.Errorf("the submission's answer: already_reported %v, duplicate_of %v, state %v; want true, none, probable",
			out["already_reported"], out["duplicate_of"], out["duplicate_state"])
	}

	t.Run("API", func(t *testing.T) {
		res, body := rawRequest(t, "GET", w.base+"/api/v1/reports/"+dupID, "", w.otherRider.token, nil)
		if res.StatusCode != 200 || !strings.Contains(string(body), `"already_reported":true`) {
			t.Errorf("the rider's report: %d %s", res.StatusCode, body)
		}
		leaks("the rider's report in the API", string(body))
		res, body = rawRequest(t, "GET", w.base+"/api/v1/reports/mine", "", w.otherRider.token, nil)
		if res.StatusCode != 200 || !strings.Contains(string(body), `"already_reported":true`) {
			t.Errorf("the rider's list: %d %s", res.StatusCode, body)
		}
		leaks("the rider's list in the API", string(body))
		// And the link they would have been given still opens nothing.
		w.otherRider.must("GET", "/api/v1/reports/"+firstID, nil, nil, 404)
		w.otherRider.must("GET", "/api/v1/reports/"+firstTicket, nil, nil, 404)

		for _, staff := range []struct {
			who string
			c   *client
		}{{"officer", w.officer}, {"admin", w.admin}} {
			var got struct {
				DuplicateOf       string `json:"duplicate_of"`
				DuplicateOfTicket string `json:"duplicate_of_ticket"`
				AlreadyReported   bool   `json:"already_reported"`
			}
			staff.c.must("GET", "/api/v1/reports/"+dupID, nil, &got, 200)
			if got.DuplicateOf != firstID || got.DuplicateOfTicket != firstTicket || got.AlreadyReported {
				t.Errorf("%s sees duplicate_of %q (%q), already_reported %v; want %s (%s)", staff.who, got.DuplicateOf, got.DuplicateOfTicket, got.AlreadyReported, firstID, firstTicket)
			}
		}
	})

	t.Run("pages", func(t *testing.T) {
		other := newWebUser(t, w.base)
		other.logIn("13800138012", "rider-password")
		status, page := other.get("/reports/" + dupID)
		if status != 200 || !strings.Contains(page, "已有其他骑手上报过这个问题") {
			t.Errorf("the rider's page: %d, says already reported: %v", status, strings.Contains(page, "已有其他骑手上报过这个问题"))
		}
		leaks("the rider's page", page)
		req, _ := http.NewRequest("GET", w.base+"/reports/"+dupID, nil)
		req.AddCookie(&http.Cookie{Name: "nx_lang", Value: "en"})
		if _, page := other.send(req); !strings.Contains(page, "Already reported by another rider") {
			t.Error("the rider's page in English does not say it was already reported by another rider")
		}
		_, list := other.get("/reports")
		leaks("the rider's list page", list)

		officer := newWebUser(t, w.base)
		officer.logIn("officer-a", "staff-password")
		_, page = officer.get("/reports/" + dupID)
		if !strings.Contains(page, `href="/reports/`+firstID+`">`+firstTicket+`<`) {
			t.Error("the officer's page does not link the first report by its ticket")
		}
		if strings.Contains(page, "已有其他骑手上报过这个问题") {
			t.Error("the officer's page hides the link")
		}
	})

	t.Run("own duplicate", func(t *testing.T) {
		// The first rider files the same problem again: theirs to open.
		status, out := submitReport(t, w.rider, "dup-own", westCell, "road-clean.jpg")
		if status != 201 || out["duplicate_of"] != firstID || out["duplicate_of_ticket"] != firstTicket || out["already_reported"] != nil {
			t.Fatalf("own duplicate: %d duplicate_of %v (%v), already_reported %v", status, out["duplicate_of"], out["duplicate_of_ticket"], out["already_reported"])
		}
		rider := newWebUser(t, w.base)
		rider.logIn("13800138011", "rider-password")
		_, page := rider.get("/reports/" + out["id"].(string))
		if !strings.Contains(page, `href="/reports/`+firstID+`">`+firstTicket+`<`) {
			t.Error("the rider's page does not link their own earlier report")
		}
	})
}
