package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// postMeToo confirms a nearby report as a phone's API client would:
// photos are "small.jpg" (a small generated JPEG), "road-clean.jpg" (a
// phone's photo as the form sends it, well over the default body limit) or
// "garbage.jpg".
func postMeToo(t *testing.T, c *client, ref string, photos ...string) (int, map[string]any) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if ref != "" {
		_ = mw.WriteField("ref", ref)
	}
	for _, p := range photos {
		data := smallJPEG(t)
		switch p {
		case "garbage.jpg":
			data = []byte("this is not a photo")
		case "road-clean.jpg":
			var err error
			if data, err = os.ReadFile("testdata/road-clean.jpg"); err != nil {
				t.Fatal(err)
			}
		}
		w, _ := mw.CreateFormFile("photo", p)
		_, _ = w.Write(data)
	}
	mw.Close()
	req, _ := http.NewRequest("POST", c.base+"/api/v1/reports/metoo", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.send(req)
}

type nearbyView struct {
	Reports []struct {
		Ref       string    `json:"ref"`
		Distance  int       `json:"distance_m"`
		CreatedAt time.Time `json:"created_at"`
		Status    string    `json:"status"`
		MeToo     int       `json:"me_too"`
		Confirmed bool      `json:"confirmed"`
		Thumb     string    `json:"thumb"`
	}
}

func nearbyPath(q map[string]string) string {
	v := url.Values{}
	for k, s := range q {
		v.Set(k, s)
	}
	return "/api/v1/reports/nearby?" + v.Encode()
}

func TestMeTooRouteTable(t *testing.T) {
	w := newReportWorld(t)
	status, rep := submitReport(t, w.rider, "metoo-1", westCell, "road-clean.jpg")
	if status != 201 {
		t.Fatalf("submit: %d %v", status, rep)
	}
	id := rep["id"].(string)
	here := map[string]string{"category": "road_damage", "lat": "28.1952", "lng": "112.9752"} // about 28 m away

	// The lookup: riders (not their own reports) and admins; officers not.
	var seen nearbyView
	w.otherRider.must("GET", nearbyPath(here), nil, &seen, 200)
	if len(seen.Reports) != 1 {
		t.Fatalf("the other rider sees %d nearby reports, want 1", len(seen.Reports))
	}
	n := seen.Reports[0]
	if n.Distance < 20 || n.Distance > 40 || n.Status != "submitted" || n.MeToo != 0 || n.Confirmed || n.Thumb == "" || n.CreatedAt.IsZero() {
		t.Errorf("nearby item %+v", n)
	}
	raw, _ := json.Marshal(seen)
	for _, leak := range []string{id, fmt.Sprint(rep["ticket"]), "井盖缺失", "13800138011", "骑手0"} {
		if strings.Contains(string(raw), leak) {
			t.Errorf("the lookup shows %q to another rider: %s", leak, raw)
		}
	}
	var own nearbyView
	w.rider.must("GET", nearbyPath(here), nil, &own, 200)
	if len(own.Reports) != 0 {
		t.Errorf("the reporter is offered %d reports, want none (their own)", len(own.Reports))
	}
	w.admin.must("GET", nearbyPath(here), nil, nil, 200)
	for _, tc := range []struct {
		who  string
		c    *client
		path string
		want int
	}{
		{"officer", w.officer, nearbyPath(here), 403},
		{"no category", w.otherRider, nearbyPath(map[string]string{"lat": "28.195", "lng": "112.975"}), 422},
		{"unknown category", w.otherRider, nearbyPath(map[string]string{"category": "nope", "lat": "28.195", "lng": "112.975"}), 422},
		{"lat not a number", w.otherRider, nearbyPath(map[string]string{"category": "road_damage", "lat": "north", "lng": "112.975"}), 422},
		{"lat out of range", w.otherRider, nearbyPath(map[string]string{"category": "road_damage", "lat": "95", "lng": "112.975"}), 422},
		{"thumb, other rider", w.otherRider, n.Thumb, 200},
		{"thumb, another rider's ref", w.rider, n.Thumb, 404},
		{"thumb, officer", w.officer, n.Thumb, 403},
		{"thumb, altered ref", w.otherRider, "/api/v1/reports/nearby/" + alter(n.Ref) + "/thumb", 404},
	} {
		if got := tc.c.do("GET", tc.path, nil, nil); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.who, got, tc.want)
		}
	}

	// Confirming: refusals write nothing.
	eventually(t, 15*time.Second, "the report's photo and thumbnail", func() bool { return w.objectCount(t) == 2 })
	entries, objects := len(w.timeline(t, id).Timeline), w.objectCount(t)
	for _, tc := range []struct {
		who    string
		c      *client
		ref    string
		photos []string
		want   int
	}{
		{"officer", w.officer, n.Ref, nil, 403},
		{"the reporter, with another rider's ref", w.rider, n.Ref, nil, 404},
		{"no ref", w.otherRider, "", nil, 422},
		{"an altered ref", w.otherRider, alter(n.Ref), nil, 404},
		{"two photos", w.otherRider, n.Ref, []string{"small.jpg", "small.jpg"}, 422},
		{"not a photo", w.otherRider, n.Ref, []string{"garbage.jpg"}, 415},
	} {
		got, p := postMeToo(t, tc.c, tc.ref, tc.photos...)
		if got != tc.want {
			t.Errorf("me too by %s: %d %v, want %d", tc.who, got, p["detail"], tc.want)
		}
		if got >= 400 && got != 403 && p["detail"] == "" {
			t.Errorf("me too by %s: no detail", tc.who)
		}
		if n := len(w.timeline(t, id).Timeline); n != entries {
			t.Errorf("after the refused confirmation by %s the timeline has %d entries, want %d", tc.who, n, entries)
		}
		if n := w.objectCount(t); n != objects {
			t.Errorf("after the refused confirmation by %s the store holds %d objects, want %d", tc.who, n, objects)
		}
	}

	// Confirmed with a phone's photo; a second time refused.
	got, p := postMeToo(t, w.otherRider, n.Ref, "road-clean.jpg")
	if got != 201 || p["recorded"] != true || p["me_too"] != float64(1) {
		t.Fatalf("me too: %d %v", got, p)
	}
	if _, leaked := p["id"]; leaked {
		t.Errorf("the confirmation's answer names the report: %v", p)
	}
	if got, p := postMeToo(t, w.otherRider, n.Ref); got != 409 || p["code"] != "metoo.done" {
		t.Errorf("a second confirmation: %d %v, want 409 metoo.done", got, p)
	}
	w.otherRider.must("GET", nearbyPath(here), nil, &seen, 200)
	if len(seen.Reports) != 1 || !seen.Reports[0].Confirmed || seen.Reports[0].MeToo != 1 {
		t.Errorf("nearby after confirming: %+v", seen.Reports)
	}

	// Who sees what: the officer the count and the photo, the reporter the
	// step without it; the other rider still not the report.
	var report map[string]any
	w.officer.must("GET", "/api/v1/reports/"+id, nil, &report, 200)
	if report["me_too"] != float64(1) {
		t.Errorf("the officer sees me_too %v, want 1", report["me_too"])
	}
	staffView, riderView := w.timeline(t, id), timelineOf(t, w.rider, id)
	seq := 0
	for _, e := range staffView.Timeline {
		if e.Action == "me_too" {
			seq = e.Seq
			if len(e.Photos) != 1 || e.ActorRole != "rider" {
				t.Errorf("the staff's me_too step: %+v", e)
			}
		}
	}
	if seq == 0 {
		t.Fatal("no me_too step on the timeline")
	}
	for _, e := range riderView.Timeline {
		if e.Action == "me_too" && len(e.Photos) != 0 {
			t.Errorf("the reporter's me_too step carries the photo: %+v", e)
		}
	}
	photo := fmt.Sprintf("/api/v1/reports/%s/messages/%d/photos/1", id, seq)
	for _, tc := range []struct {
		who  string
		c    *client
		want int
	}{
		{"officer", w.officer, 200},
		{"admin", w.admin, 200},
		{"reporter", w.rider, 404},
		{"confirming rider", w.otherRider, 404},
		{"officer of another cell", w.stranger, 404},
	} {
		if got := tc.c.do("GET", photo, nil, nil); got != tc.want {
			t.Errorf("the confirmation's photo for the %s: %d, want %d", tc.who, got, tc.want)
		}
	}
	w.otherRider.must("GET", "/api/v1/reports/"+id, nil, nil, 404)

	// The inbox: the officer who has the report, not the reporter.
	eventually(t, 10*time.Second, "the officer's notification", func() bool { return slices.Contains(kinds(t, w.officer), "me_too") })
	if slices.Contains(kinds(t, w.rider), "me_too") {
		t.Error("the reporter's inbox has the confirmation")
	}
}

// timelineOf is the report's timeline as c sees it.
func timelineOf(t *testing.T, c *client, id string) timelineView {
	t.Helper()
	var v timelineView
	c.must("GET", "/api/v1/reports/"+id, nil, &v, 200)
	return v
}

// alter changes one character in the middle of a ref.
func alter(ref string) string {
	b := []byte(ref)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}
