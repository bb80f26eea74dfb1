package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nuanxin/nuanxin/open311"
)

var ticketForm = regexp.MustCompile(`^\d{8}-\d{4,}$`)

// submitted files a report for c at westCell and returns its id and ticket.
func submitted(t *testing.T, c *client, key string, fields map[string]string) (id, ticket string) {
	t.Helper()
	status, out := submitReport(t, c, key, fields, "road-clean.jpg")
	if status != 201 {
		t.Fatalf("submit %s: status %d %v", key, status, out)
	}
	id, _ = out["id"].(string)
	ticket, _ = out["ticket"].(string)
	if !ticketForm.MatchString(ticket) {
		t.Fatalf("submit %s: ticket %q, want DAY-NNNN", key, ticket)
	}
	return id, ticket
}

// open311Get reads a GeoReport path, without credentials as clients do.
func open311Get(t *testing.T, base, path string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(base + open311.Prefix + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// A report is found by its ticket number wherever by its id: the API, the
// page and Open311, whose service_request_id is the ticket. Access is the
// same either way: another rider, or an officer of another cell, is told
// "not found" by ticket exactly as by id. A malformed ticket is a 4xx that
// says what a ticket looks like.
func TestTicketLookup(t *testing.T) {
	w := newReportWorld(t)
	id, ticket := submitted(t, w.rider, "ticket-1", westCell)
	_, second := submitted(t, w.rider, "ticket-2", map[string]string{"category": "sanitation", "lat": "28.196", "lng": "112.976"})
	if ticket[:9] != second[:9] || second[9:] != "0002" || ticket[9:] != "0001" {
		t.Errorf("tickets %s then %s, want 0001 then 0002 of one day", ticket, second)
	}

	t.Run("API", func(t *testing.T) {
		for _, c := range []struct {
			who  string
			c    *client
			want int
		}{{"reporter", w.rider, 200}, {"officer", w.officer, 200}, {"admin", w.admin, 200}, {"another rider", w.otherRider, 404}, {"officer of another cell", w.stranger, 404}} {
			for _, ref := range []string{id, ticket} {
				var got struct{ ID, Ticket string }
				if status := c.c.do("GET", "/api/v1/reports/"+ref, nil, &got); status != c.want {
					t.Errorf("%s GET %s: %d, want %d", c.who, ref, status, c.want)
				} else if status == 200 && (got.ID != id || got.Ticket != ticket) {
					t.Errorf("%s GET %s: %s %s, want %s %s", c.who, ref, got.ID, got.Ticket, id, ticket)
				}
			}
		}
		// The other forms of the same number.
		short := ticket[:9] + strings.TrimLeft(ticket[9:], "0")
		w.rider.must("GET", "/api/v1/reports/"+short, nil, nil, 200)
		// An action by ticket acts on the report.
		w.officer.must("POST", "/api/v1/reports/"+ticket+"/actions", map[string]any{"action": "acknowledge"}, nil, 200)
		var after struct{ Status string }
		w.rider.must("GET", "/api/v1/reports/"+id, nil, &after, 200)
		if after.Status != "acknowledged" {
			t.Errorf("after acknowledging by ticket the report is %s", after.Status)
		}
		res, body := rawRequest(t, "GET", w.base+"/api/v1/reports/20261340-0001", "", w.rider.token, nil)
		if res.StatusCode != 422 || !strings.Contains(string(body), "not a ticket number") {
			t.Errorf("a day that does not exist: %d %s, want 422 saying what a ticket is", res.StatusCode, body)
		}
		w.rider.must("GET", "/api/v1/reports/"+ticket[:9]+"9999", nil, nil, 404)
	})

	t.Run("pages", func(t *testing.T) {
		rider, other := newWebUser(t, w.base), newWebUser(t, w.base)
		rider.logIn("13800138011", "rider-password")
		other.logIn("13800138012", "rider-password")
		for _, ref := range []string{id, ticket} {
			status, page := rider.get("/reports/" + ref)
			if status != 200 || !strings.Contains(page, `id="report-ticket">`+ticket+`<`) {
				t.Errorf("the reporter's page by %s: %d, ticket shown: %v", ref, status, strings.Contains(page, ticket))
			}
			if status, _ := other.get("/reports/" + ref); status != 404 {
				t.Errorf("another rider's page by %s: %d, want 404", ref, status)
			}
		}
		if status, page := rider.get("/reports"); status != 200 || !strings.Contains(page, ticket) || !strings.Contains(page, second) {
			t.Errorf("the rider's list: %d, tickets shown: %v %v", status, strings.Contains(page, ticket), strings.Contains(page, second))
		}
		if status, page := rider.get("/reports/2026-11-29-0001"); status != 422 || !strings.Contains(page, "不是有效的工单号") {
			t.Errorf("a malformed ticket's page: %d, want 422 saying so", status)
		}
		officer := newWebUser(t, w.base)
		officer.logIn("officer-a", "staff-password")
		if status, page := officer.get("/queue"); status != 200 || !strings.Contains(page, second) {
			t.Errorf("the queue: %d, ticket shown: %v", status, strings.Contains(page, second))
		}
		// The inbox names the report by its ticket.
		eventually(t, 5*time.Second, "the officer's inbox to name the ticket", func() bool {
			status, page := officer.get("/inbox")
			return status == 200 && strings.Contains(page, second)
		})
	})

	t.Run("Open311", func(t *testing.T) {
		for _, path := range []string{"/requests/" + ticket + ".json", "/requests/" + id + ".json",
			"/requests.json?service_request_id=" + ticket, "/requests.json?service_request_id=" + id} {
			status, body := open311Get(t, w.base, path)
			var got []map[string]any
			if err := json.Unmarshal(body, &got); status != 200 || err != nil || len(got) != 1 || got[0]["service_request_id"] != ticket {
				t.Errorf("GET %s: %d %s; want the report with service_request_id %s", path, status, body, ticket)
			}
		}
		status, body := open311Get(t, w.base, "/requests.json")
		if !strings.Contains(string(body), `"service_request_id":"`+ticket+`"`) || strings.Contains(string(body), id) {
			t.Errorf("requests.json: %d, lists the ticket and not the id? %s", status, body)
		}
		for _, path := range []string{"/requests/20261340-0001.json", "/requests.json?service_request_id=20261129-0000"} {
			if status, body := open311Get(t, w.base, path); status != 400 || !strings.Contains(string(body), "ticket number") {
				t.Errorf("GET %s: %d %s, want 400 saying what a ticket number is", path, status, body)
			}
		}
		if status, _ := open311Get(t, w.base, "/requests/"+ticket[:9]+"9999.json"); status != 404 {
			t.Errorf("an unclaimed ticket: %d, want 404", status)
		}
	})
}

// A report stored before ticket numbers existed gets one when the next
// instance starts (the migration runs at start), and is found by it.
func TestTicketMigrationAtStart(t *testing.T) {
	shared := sharedStores(t)
	a, baseA := mustApp(t, testEnv(t, shared))
	admin := login(t, baseA, "admin", adminPassword)
	ctx := context.Background()
	filed := time.Date(2026, 1, 5, 2, 0, 0, 0, time.UTC)
	old := bson.D{{Key: "_id", Value: "0123456789abcdef01234567"}, {Key: "category", Value: "sanitation"}, {Key: "created_at", Value: filed},
		{Key: "status", Value: "resolved"}, {Key: "seq", Value: 1}, {Key: "photos", Value: bson.A{}}}
	if _, err := a.Stores.DB.Collection("reports").InsertOne(ctx, old); err != nil {
		t.Fatal(err)
	}
	// As a release before tickets left it: no marker of the migration.
	if _, err := a.Stores.DB.Collection("report_tickets_meta").DeleteMany(ctx, bson.D{}); err != nil {
		t.Fatal(err)
	}
	_, baseB := mustApp(t, testEnv(t, shared))
	var got struct{ ID, Ticket string }
	login(t, baseB, "admin", adminPassword).must("GET", "/api/v1/reports/20260105-0001", nil, &got, 200)
	if got.ID != "0123456789abcdef01234567" || got.Ticket != "20260105-0001" {
		t.Errorf("after the start the old report is %s with ticket %q", got.ID, got.Ticket)
	}
	admin.must("GET", "/api/v1/reports/20260105-0001", nil, nil, 200)
}

// The rider's page and list tell a missed deadline as a miss: "overdue
// since", never "will acknowledge by". The officer's page says since when
// too.
func TestReportPromiseBecomesMiss(t *testing.T) {
	_, base := mustApp(t, testEnv(t, map[string]string{"NUANXIN_ACKNOWLEDGE_WITHIN": "2s"}))
	admin := login(t, base, "admin", adminPassword)
	admin.must("POST", "/api/v1/grid/import?mode=replace", twoCells(t), nil, 200)
	officerID := createStaff(t, admin, "officer-a", "officer").ID
	admin.must("PUT", "/api/v1/grid/cells/T-0001/officers", map[string]string{"primary_id": officerID}, nil, 200)
	(&client{t: t, base: base}).must("POST", "/api/v1/accounts", map[string]any{"phone": "13800138011", "display_name": "骑手", "password": "rider-password", "work": "food_delivery", "accept_privacy": true}, nil, 201)
	api := login(t, base, "13800138011", "rider-password")
	id, _ := submitted(t, api, "promise", westCell)
	var r struct {
		AckDue time.Time `json:"ack_due"`
	}
	api.must("GET", "/api/v1/reports/"+id, nil, &r, 200)
	due := r.AckDue.In(time.FixedZone("CST", 8*3600)).Format("15:04")

	rider := newWebUser(t, base)
	rider.logIn("13800138011", "rider-password")
	if time.Now().Before(r.AckDue) {
		if _, page := rider.get("/reports/" + id); !strings.Contains(page, "网格员将在 "+due+" 前确认收到") {
			t.Errorf("before the deadline the page does not promise it by %s", due)
		}
	}
	time.Sleep(time.Until(r.AckDue) + 100*time.Millisecond)
	_, page := rider.get("/reports/" + id)
	if strings.Contains(page, "网格员将在") || !strings.Contains(page, "确认已超时：网格员应在 "+due+" 前确认收到") {
		t.Errorf("after the deadline the page still promises, or does not say it was missed since %s", due)
	}
	_, list := rider.get("/reports")
	if strings.Contains(list, "网格员将在") || !strings.Contains(list, "确认已超时") {
		t.Errorf("after the deadline the list still promises, or does not say it was missed")
	}
	req, _ := http.NewRequest("GET", base+"/reports/"+id, nil)
	req.AddCookie(&http.Cookie{Name: "nx_lang", Value: "en"}) // the language switch's cookie
	if _, page := rider.send(req); !strings.Contains(page, "The acknowledgement is overdue since "+due) {
		t.Errorf("in English the page does not say the acknowledgement is overdue since %s", due)
	}
	officer := newWebUser(t, base)
	officer.logIn("officer-a", "staff-password")
	if _, page := officer.get("/reports/" + id); !strings.Contains(page, "应于 "+due+" 前") {
		t.Errorf("the officer's page does not say the deadline %s was missed", due)
	}
}
