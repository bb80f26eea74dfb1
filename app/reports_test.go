package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// submitReport posts a report as the API client of a phone would.
func submitReport(t *testing.T, c *client, key string, fields map[string]string, photos ...string) (int, map[string]any) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	for _, p := range photos {
		data, err := os.ReadFile("testdata/" + p)
		if err != nil {
			t.Fatal(err)
		}
		w, _ := mw.CreateFormFile("photos", p)
		_, _ = w.Write(data)
	}
	mw.Close()
	req, _ := http.NewRequest("POST", c.base+"/api/v1/reports", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+c.token)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	data, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(data, &out)
	return resp.StatusCode, out
}

type reportWorld struct {
	app                      *App
	base                     string
	admin, officer, stranger *client
	rider, otherRider        *client
	officerID, strangerID    string
}

// newReportWorld: two cells; "officer" holds T-0001, "stranger" holds T-0002.
func newReportWorld(t *testing.T) reportWorld {
	t.Helper()
	a, base := mustApp(t, testEnv(t, nil))
	return worldOn(t, a, base)
}

var westCell = map[string]string{"category": "road_damage", "description": "井盖缺失", "lat": "28.195", "lng": "112.975"}

func TestReportAPI(t *testing.T) {
	w := newReportWorld(t)
	status, first := submitReport(t, w.rider, "key-1", westCell, "road-clean.jpg")
	if status != 201 {
		t.Fatalf("submit: %d %v", status, first)
	}
	id := first["id"].(string)
	if first["cell"] != "T-0001" || first["status"] != "submitted" {
		t.Errorf("report = %v", first)
	}
	if _, leaked := first["reporter_id"]; leaked {
		t.Error("the API shows the reporter's id")
	}
	status, again := submitReport(t, w.rider, "key-1", westCell, "road-clean.jpg")
	if status != 200 || again["id"] != id {
		t.Errorf("retry with the same key: %d id %v, want 200 and %s", status, again["id"], id)
	}
	changed := map[string]string{"category": "sanitation", "lat": "28.195", "lng": "112.975"}
	if status, _ := submitReport(t, w.rider, "key-1", changed, "road-clean.jpg"); status != 422 {
		t.Errorf("same key, other body: %d, want 422", status)
	}
	if status, p := submitReport(t, w.rider, "key-2", westCell, "road.heic"); status != 415 || !strings.Contains(fmt.Sprint(p["detail"]), "JPEG, PNG or WebP") {
		t.Errorf("HEIC: %d %v, want 415 naming the formats that work", status, p["detail"])
	}
	if status, _ := submitReport(t, w.rider, "", westCell, "road-clean.jpg"); status != 422 {
		t.Errorf("no Idempotency-Key: %d, want 422", status)
	}
	if status, _ := submitReport(t, w.officer, "key-3", westCell, "road-clean.jpg"); status != 403 {
		t.Errorf("an officer submitting: %d, want 403", status)
	}

	// Who sees it.
	w.rider.must("GET", "/api/v1/reports/"+id, nil, nil, 200)
	w.rider.must("GET", "/api/v1/reports/"+id+"/photos/1?thumb=true", nil, nil, 200)
	w.officer.must("GET", "/api/v1/reports/"+id, nil, nil, 200)
	w.admin.must("GET", "/api/v1/reports/"+id, nil, nil, 200)
	w.otherRider.must("GET", "/api/v1/reports/"+id, nil, nil, 404)
	w.otherRider.must("GET", "/api/v1/reports/"+id+"/photos/1", nil, nil, 404)
	w.stranger.must("GET", "/api/v1/reports/"+id, nil, nil, 404)
	var mine struct{ Reports []map[string]any }
	w.otherRider.must("GET", "/api/v1/reports/mine", nil, &mine, 200)
	if len(mine.Reports) != 0 {
		t.Errorf("another rider's list shows %d reports", len(mine.Reports))
	}

	// Who acts on it.
	act := func(c *client, body map[string]any) int {
		return c.do("POST", "/api/v1/reports/"+id+"/actions", body, nil)
	}
	if got := act(w.stranger, map[string]any{"action": "acknowledge"}); got != 404 {
		t.Errorf("officer of another cell acknowledging: %d, want 404", got)
	}
	if got := act(w.rider, map[string]any{"action": "acknowledge"}); got != 403 {
		t.Errorf("rider acknowledging: %d, want 403", got)
	}
	if got := act(w.officer, map[string]any{"action": "start"}); got != 409 {
		t.Errorf("start before verify: %d, want 409", got)
	}
	if got := act(w.officer, map[string]any{"action": "acknowledge"}); got != 200 {
		t.Errorf("acknowledge: %d", got)
	}
	if got := act(w.officer, map[string]any{"action": "verify", "severity": 2, "note": "属实"}); got != 200 {
		t.Errorf("verify: %d", got)
	}
	// Refused for want of the permission, before the status is looked at;
	// TestReopenIsForAdmins tries it where the status allows reopening.
	if got := act(w.officer, map[string]any{"action": "reopen"}); got != 403 {
		t.Errorf("officer reopening a verified report: %d, want 403", got)
	}
	var rep struct {
		Status   string
		Timeline []map[string]any
	}
	w.rider.must("GET", "/api/v1/reports/"+id, nil, &rep, 200)
	if rep.Status != "verified" || len(rep.Timeline) != 3 {
		t.Errorf("rider sees status %s with %d timeline entries, want verified with 3", rep.Status, len(rep.Timeline))
	}
	for _, e := range rep.Timeline {
		if _, ok := e["actor_id"]; ok {
			t.Error("the timeline names the actor")
		}
	}

	// The inbox: the officer heard of the new report, the rider of each step.
	var inbox struct {
		Notifications []struct{ Kind, ReportID string }
		Unread        int
	}
	w.officer.must("GET", "/api/v1/inbox", nil, &inbox, 200)
	if len(inbox.Notifications) != 1 || inbox.Notifications[0].Kind != "submit" {
		t.Errorf("officer inbox = %+v", inbox)
	}
	w.rider.must("GET", "/api/v1/inbox", nil, &inbox, 200)
	if len(inbox.Notifications) != 2 || inbox.Unread != 2 {
		t.Errorf("rider inbox = %+v, want acknowledge and verify", inbox)
	}

	// The officer's queue and figures.
	var q struct {
		Reports []map[string]any
		Counts  map[string]int
	}
	w.officer.must("GET", "/api/v1/queue", nil, &q, 200)
	if len(q.Reports) != 1 || q.Counts["verified"] != 1 {
		t.Errorf("officer queue = %+v", q)
	}
	w.stranger.must("GET", "/api/v1/queue", nil, &q, 200)
	if len(q.Reports) != 0 {
		t.Errorf("another cell's officer sees %d reports", len(q.Reports))
	}
	var fig struct{ Cells []map[string]any }
	w.officer.must("GET", "/api/v1/figures", nil, &fig, 200)
	if len(fig.Cells) != 1 || fig.Cells[0]["acked_in_time_share"] != 1.0 {
		t.Errorf("figures = %+v", fig)
	}
}

// The live stream tells the rider when their report changes.
func TestLiveStream(t *testing.T) {
	w := newReportWorld(t)
	req, _ := http.NewRequest("GET", w.base+"/api/v1/live", nil)
	req.Header.Set("Authorization", "Bearer "+w.rider.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("content type %q", ct)
	}
	lines := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			if n > 0 {
				lines <- string(buf[:n])
			}
			if err != nil {
				close(lines)
				return
			}
		}
	}()
	status, rep := submitReport(t, w.rider, "live-1", westCell, "road-clean.jpg")
	if status != 201 {
		t.Fatal(status)
	}
	w.officer.must("POST", "/api/v1/reports/"+rep["id"].(string)+"/actions", map[string]any{"action": "acknowledge"}, nil, 200)
	var got strings.Builder
	deadline := time.After(10 * time.Second)
	for !strings.Contains(got.String(), `"status":"acknowledged"`) {
		select {
		case s, ok := <-lines:
			if !ok {
				t.Fatalf("stream ended; got:\n%s", got.String())
			}
			got.WriteString(s)
		case <-deadline:
			t.Fatalf("no acknowledged event within 10 s; got:\n%s", got.String())
		}
	}
	if !strings.Contains(got.String(), "event: report") {
		t.Errorf("stream lacks report events:\n%s", got.String())
	}
}
