package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// The councils' JSON API, through the application as New builds it.

type itemJSON struct {
	ID         string `json:"id"`
	StationID  string `json:"station_id"`
	AuthorName string `json:"author_name"`
	Status     string `json:"status"`
	Supports   int    `json:"supports"`
	Supported  bool   `json:"supported"`
	PhotoURL   string `json:"photo_url"`
	ProposalID string `json:"proposal_id"`
	Timeline   []struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"timeline"`
}

type receiptJSON struct {
	Code     string   `json:"code"`
	Choice   []string `json:"choice"`
	Replayed bool     `json:"replayed"`
}

type proposalJSON struct {
	ID       string    `json:"id"`
	State    string    `json:"state"`
	Opens    time.Time `json:"opens"`
	Closes   time.Time `json:"closes"`
	RollSize int       `json:"roll_size"`
	FromItem string    `json:"from_item"`
	Tally    *struct {
		Ballots int `json:"ballots"`
	} `json:"tally"`
	Outcomes []struct {
		N    int    `json:"n"`
		Kind string `json:"kind"`
		Text string `json:"text"`
	} `json:"outcomes"`
	OnRoll  *bool         `json:"on_roll"`
	MyVotes []receiptJSON `json:"my_votes"`
}

type resultsJSON struct {
	Ballots int  `json:"ballots"`
	Roll    int  `json:"roll"`
	Passed  bool `json:"passed"`
	Counts  []struct {
		Option string `json:"option"`
		Votes  int    `json:"votes"`
	} `json:"counts"`
	Receipts []struct {
		Code   string   `json:"code"`
		Choice []string `json:"choice"`
	} `json:"receipts"`
	Mine []string `json:"mine"`
}

// call sends a JSON request and returns the status and the raw answer, so a
// test can read a problem's detail.
func call(t *testing.T, c *client, method, path string, body any) (int, []byte) {
	t.Helper()
	var b []byte
	ctype := ""
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
		ctype = "application/json"
	}
	resp, data := rawRequest(t, method, c.base+path, ctype, c.token, b)
	return resp.StatusCode, data
}

// detail is a problem's detail.
func detail(t *testing.T, data []byte) string {
	t.Helper()
	var p problemDoc
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatalf("not a problem document: %s", data)
	}
	return p.Detail
}

// postItem posts a feedback item as a phone would: a multipart form with
// an optional photo.
func postItem(t *testing.T, c *client, station, category, text string, photo []byte) (int, itemJSON, []byte) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("category", category)
	_ = mw.WriteField("text", text)
	if photo != nil {
		w, _ := mw.CreateFormFile("photo", "photo.jpg")
		_, _ = w.Write(photo)
	}
	mw.Close()
	resp, data := rawRequest(t, "POST", c.base+"/api/v1/stations/"+station+"/feedback", mw.FormDataContentType(), c.token, body.Bytes())
	var it itemJSON
	if resp.StatusCode == http.StatusCreated {
		if err := json.Unmarshal(data, &it); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, it, data
}

func feedbackCount(t *testing.T, c *client, station string) int {
	t.Helper()
	var out struct{ Items []itemJSON }
	c.must("GET", "/api/v1/stations/"+station+"/feedback?limit=100", nil, &out, 200)
	return len(out.Items)
}

func proposalCount(t *testing.T, c *client, station string) int {
	t.Helper()
	var out struct{ Proposals []proposalJSON }
	c.must("GET", "/api/v1/stations/"+station+"/proposals", nil, &out, 200)
	return len(out.Proposals)
}

func awardEntries(t *testing.T, c *client) int {
	t.Helper()
	var st statementView
	c.must("GET", "/api/v1/points/statement", nil, &st, 200)
	n := 0
	for _, e := range st.Entries {
		if e.Kind == "award" {
			n++
		}
	}
	return n
}

// utc8 formats a time as the API's messages do.
func utc8(t time.Time) string { return t.In(time.FixedZone("UTC+8", 8*3600)).Format(time.RFC3339) }

// TestCouncilOverHTTP walks a council's life through the API: check-in,
// membership, the feedback pool with its supports and answers, a proposal
// adopted from an item with its award, the vote with receipts, the close by
// time, the published result and the outcomes; and every refusal on the
// way, with bad input refused with nothing written.
func TestCouncilOverHTTP(t *testing.T) {
	_, base := mustApp(t, testEnv(t, nil))
	admin := login(t, base, "admin", adminPassword)
	stations := map[string]string{}
	admins := map[string]*client{}
	for i, name := range []string{"议事驿站", "别的驿站"} {
		var st struct{ ID string }
		admin.must("POST", "/api/v1/stations", map[string]any{"name": name, "lat": 28.19 + float64(i)/100, "lng": 112.97}, &st, 201)
		u := createStaff(t, admin, fmt.Sprintf("council-sa-%d", i), "station_admin")
		admin.must("POST", "/api/v1/stations/"+st.ID+"/admins", map[string]string{"user_id": u.ID}, nil, 200)
		stations[name], admins[name] = st.ID, loginAs(t, base, fmt.Sprintf("council-sa-%d", i))
	}
	s1, s2 := stations["议事驿站"], stations["别的驿站"]
	sa1, sa2 := admins["议事驿站"], admins["别的驿站"]
	riderA := registerRider(t, base, "13900139001")
	riderB := registerRider(t, base, "13900139002")
	riderC := registerRider(t, base, "13900139003")

	// Check-in: once a day counts.
	var ci struct {
		First    bool `json:"first"`
		Visitors int  `json:"visitors"`
		Member   bool `json:"member"`
	}
	riderA.must("POST", "/api/v1/stations/"+s1+"/checkin", nil, &ci, 200)
	if !ci.First || ci.Visitors != 1 || ci.Member {
		t.Errorf("first check-in = %+v, want first, 1 visitor, not yet a member", ci)
	}
	riderA.must("POST", "/api/v1/stations/"+s1+"/checkin", nil, &ci, 200)
	if ci.First || ci.Visitors != 1 {
		t.Errorf("second check-in = %+v, want not first and still 1 visitor", ci)
	}
	var visits struct {
		Days []struct {
			Visitors int `json:"visitors"`
		} `json:"days"`
	}
	sa1.must("GET", "/api/v1/stations/"+s1+"/visits?days=7", nil, &visits, 200)
	if len(visits.Days) != 7 || visits.Days[6].Visitors != 1 {
		t.Errorf("visits = %+v, want 7 days ending with 1 visitor today", visits.Days)
	}
	if got := sa2.do("GET", "/api/v1/stations/"+s1+"/visits", nil, nil); got != 403 {
		t.Errorf("another station's admin reading the visits: %d, want 403", got)
	}

	// Membership.
	riderA.must("POST", "/api/v1/stations/"+s1+"/council/join", nil, nil, 200)
	riderB.must("POST", "/api/v1/stations/"+s2+"/council/join", nil, nil, 200)
	riderC.must("POST", "/api/v1/stations/"+s1+"/council/join", nil, nil, 200)
	var council struct {
		Members int `json:"members"`
		Roster  []struct {
			RiderID string `json:"rider_id"`
			Name    string `json:"name"`
		} `json:"roster"`
		Member bool `json:"member"`
	}
	riderA.must("GET", "/api/v1/stations/"+s1+"/council", nil, &council, 200)
	if council.Members != 2 || !council.Member || len(council.Roster) != 2 {
		t.Fatalf("council as A = %+v, want 2 members, A among them", council)
	}
	for _, m := range council.Roster {
		if m.RiderID != "" || strings.Contains(m.Name, "13900139") {
			t.Errorf("a rider sees roster entry %+v: want a display name only", m)
		}
	}
	sa1.must("GET", "/api/v1/stations/"+s1+"/council", nil, &council, 200)
	if council.Roster[0].RiderID == "" {
		t.Errorf("the station's admin sees no member ids to remove: %+v", council.Roster)
	}

	// Feedback: post, supports.
	status, item, data := postItem(t, riderA, s1, "facilities", "充电插座不够用，高峰时排队。", nil)
	if status != 201 || item.Status != "open" {
		t.Fatalf("A posting: %d %s", status, data)
	}
	if got, data := call(t, riderB, "POST", "/api/v1/feedback/"+item.ID+"/support", nil); got != 403 || !strings.Contains(detail(t, data), "join the council") {
		t.Errorf("B (another station's member) supporting: %d %s, want 403 saying to join", got, data)
	}
	var sup struct{ Supports int }
	riderC.must("POST", "/api/v1/feedback/"+item.ID+"/support", nil, &sup, 200)
	if sup.Supports != 1 {
		t.Errorf("supports after C = %d, want 1", sup.Supports)
	}
	if got := riderC.do("POST", "/api/v1/feedback/"+item.ID+"/support", nil, nil); got != 409 {
		t.Errorf("C supporting again: %d, want 409", got)
	}
	if got := riderA.do("POST", "/api/v1/feedback/"+item.ID+"/support", nil, nil); got != 422 {
		t.Errorf("A supporting their own item: %d, want 422", got)
	}
	var got itemJSON
	riderC.must("GET", "/api/v1/feedback/"+item.ID, nil, &got, 200)
	if got.Supports != 1 || !got.Supported || got.AuthorName == "" {
		t.Errorf("item as C = %+v, want 1 support, supported by C, the author's name", got)
	}

	// A photo that is an image is kept and served.
	jpeg, err := os.ReadFile("testdata/road-clean.jpg")
	if err != nil {
		t.Fatal(err)
	}
	status, withPhoto, data := postItem(t, riderA, s1, "safety", "门口台阶破损。", jpeg)
	if status != 201 || withPhoto.PhotoURL == "" {
		t.Fatalf("posting with a photo: %d %s", status, data)
	}
	resp, _ := rawRequest(t, "GET", base+withPhoto.PhotoURL, "", riderB.token, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" {
		t.Errorf("the item's photo: %d %s, want 200 image/jpeg", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	// The station's admins answer: only those of the item's station.
	if got := sa2.do("POST", "/api/v1/feedback/"+item.ID+"/transition", map[string]string{"to": "under_review"}, nil); got != 403 {
		t.Errorf("another station's admin moving the item: %d, want 403", got)
	}
	if got := riderC.do("POST", "/api/v1/feedback/"+item.ID+"/transition", map[string]string{"to": "under_review"}, nil); got != 403 {
		t.Errorf("a rider moving the item: %d, want 403", got)
	}
	sa1.must("POST", "/api/v1/feedback/"+item.ID+"/transition", map[string]string{"to": "under_review"}, nil, 200)

	// C leaves before voting opens, so is not on its roll.
	riderC.must("POST", "/api/v1/council/leave", nil, nil, 204)
	var home struct {
		StationID  string `json:"station_id"`
		LastChange *struct {
			Kind string `json:"kind"`
		} `json:"last_change"`
	}
	riderC.must("GET", "/api/v1/me/council", nil, &home, 200)
	if home.StationID != "" || home.LastChange == nil || home.LastChange.Kind != "leave" {
		t.Errorf("C's council after leaving = %+v", home)
	}
	if got := riderC.do("POST", "/api/v1/council/leave", nil, nil); got != 409 {
		t.Errorf("leaving with no home council: %d, want 409", got)
	}

	// A proposal from the item, with a short window that closes by time.
	before := walletOf(riderA)
	now := time.Now()
	var p1 proposalJSON
	sa1.must("POST", "/api/v1/stations/"+s1+"/proposals", map[string]any{
		"title": "增加充电插座", "kind": "yes_no_abstain", "opens": now.Add(-time.Second), "closes": now.Add(5 * time.Second),
		"quorum_pct": 50, "from_item": item.ID}, &p1, 201)
	sa1.must("POST", "/api/v1/proposals/"+p1.ID+"/open", nil, &p1, 200)
	var r1 receiptJSON
	if got, data := call(t, riderA, "POST", "/api/v1/proposals/"+p1.ID+"/votes", map[string]any{"choice": []string{"yes"}}); got != 201 {
		t.Fatalf("A voting on the open proposal: %d %s (if 409 closed: the 5 s window passed before the vote; the machine is very slow)", got, data)
	} else if err := json.Unmarshal(data, &r1); err != nil || r1.Code == "" {
		t.Fatalf("A's receipt: %s", data)
	}
	var again receiptJSON
	if got, data := call(t, riderA, "POST", "/api/v1/proposals/"+p1.ID+"/votes", map[string]any{"choice": []string{"yes"}}); got != 200 {
		t.Errorf("the same vote again: %d %s, want 200", got, data)
	} else if err := json.Unmarshal(data, &again); err != nil || again.Code != r1.Code || !again.Replayed {
		t.Errorf("the same vote again = %s, want the first receipt %s, replayed", data, r1.Code)
	}
	if got, data := call(t, riderA, "GET", "/api/v1/proposals/"+p1.ID+"/results", nil); got != 409 {
		t.Errorf("results before the count: %d %s, want 409", got, data)
	}
	if p1.RollSize != 1 {
		t.Errorf("P1's roll = %d, want 1 (A; C left before it opened)", p1.RollSize)
	}

	// The item was adopted into the proposal, and its author paid once.
	riderA.must("GET", "/api/v1/feedback/"+item.ID, nil, &got, 200)
	if got.Status != "adopted" || got.ProposalID != p1.ID {
		t.Errorf("the item after the proposal = %+v, want adopted into %s", got, p1.ID)
	}
	after := walletOf(riderA)
	if after.Earned <= before.Earned || awardEntries(t, riderA) != 1 {
		t.Errorf("A's points: earned %d → %d with %d award entries, want one award", before.Earned, after.Earned, awardEntries(t, riderA))
	}
	if got := sa1.do("POST", "/api/v1/stations/"+s1+"/proposals", map[string]any{
		"title": "再来一次", "kind": "yes_no_abstain", "opens": now, "closes": now.Add(time.Hour), "quorum_pct": 50, "from_item": item.ID}, nil); got != 409 {
		t.Errorf("a second proposal from the same item: %d, want 409", got)
	}
	if got := sa1.do("POST", "/api/v1/feedback/"+item.ID+"/transition", map[string]string{"to": "adopted"}, nil); got != 409 {
		t.Errorf("adopting the adopted item again: %d, want 409", got)
	}
	if w := walletOf(riderA); w.Earned != after.Earned || awardEntries(t, riderA) != 1 {
		t.Errorf("A's points after the repeated adoptions: earned %d, want %d, one award", w.Earned, after.Earned)
	}

	// A second proposal, an approval ballot with a long window: a draft is
	// the station admins' only; once open, a member who joined since is
	// refused.
	var p2 proposalJSON
	sa1.must("POST", "/api/v1/stations/"+s1+"/proposals", map[string]any{
		"title": "下月活动", "kind": "approval", "options": []string{"a", "b", "c"}, "max_approvals": 2,
		"opens": now.Add(-time.Second), "closes": now.Add(time.Hour), "quorum_pct": 10}, &p2, 201)
	if got := riderA.do("GET", "/api/v1/proposals/"+p2.ID, nil, nil); got != 404 {
		t.Errorf("a rider reading a draft: %d, want 404", got)
	}
	if got := sa2.do("GET", "/api/v1/proposals/"+p2.ID, nil, nil); got != 404 {
		t.Errorf("another station's admin reading a draft: %d, want 404", got)
	}
	if n, m := proposalCount(t, riderA, s1), proposalCount(t, sa1, s1); n != 1 || m != 2 {
		t.Errorf("proposals listed: %d for a rider, %d for the admin; want 1 and 2 (the draft)", n, m)
	}
	sa1.must("PATCH", "/api/v1/proposals/"+p2.ID, map[string]any{"title": "下月活动安排"}, nil, 200)
	if got := sa2.do("POST", "/api/v1/proposals/"+p2.ID+"/open", nil, nil); got != 404 {
		t.Errorf("another station's admin opening the draft: %d, want 404", got)
	}
	sa1.must("POST", "/api/v1/proposals/"+p2.ID+"/open", nil, nil, 200)
	if got := sa1.do("PATCH", "/api/v1/proposals/"+p2.ID, map[string]any{"title": "改"}, nil); got != 409 {
		t.Errorf("editing an open proposal: %d, want 409", got)
	}
	riderC.must("POST", "/api/v1/stations/"+s1+"/council/join", nil, nil, 200)
	if got, data := call(t, riderC, "POST", "/api/v1/proposals/"+p2.ID+"/votes", map[string]any{"choice": []string{"a"}}); got != 403 || !strings.Contains(detail(t, data), "roll") {
		t.Errorf("C (joined after opening) voting: %d %s, want 403 about the roll", got, data)
	}
	riderA.must("POST", "/api/v1/proposals/"+p2.ID+"/votes", map[string]any{"choice": []string{"a", "b"}}, nil, 201)
	var view proposalJSON
	riderA.must("GET", "/api/v1/proposals/"+p2.ID, nil, &view, 200)
	if view.OnRoll == nil || !*view.OnRoll || len(view.MyVotes) != 1 || view.Tally != nil {
		t.Errorf("P2 as A = on_roll %v, my votes %+v, tally %v; want on the roll, one vote, no tally before close", view.OnRoll, view.MyVotes, view.Tally)
	}
	riderC.must("GET", "/api/v1/proposals/"+p2.ID, nil, &view, 200)
	if view.OnRoll == nil || *view.OnRoll {
		t.Errorf("P2 as C: on_roll %v, want false", view.OnRoll)
	}
	if got, data := call(t, riderA, "GET", "/api/v1/proposals/"+p2.ID+"/results", nil); got != 409 || !strings.Contains(detail(t, data), "after voting closes at "+utc8(p2.Closes)) {
		t.Errorf("results before close: %d %s, want 409 naming the close %s", got, data, utc8(p2.Closes))
	}
	if got := sa1.do("POST", "/api/v1/proposals/"+p2.ID+"/outcomes", map[string]string{"kind": "decision", "text": "先做"}, nil); got != 409 {
		t.Errorf("an outcome before close: %d, want 409", got)
	}

	// Removal by the station's admin, with a reason the rider reads.
	if got := sa2.do("DELETE", "/api/v1/stations/"+s1+"/council/members/"+council.Roster[0].RiderID, map[string]string{"reason": "x"}, nil); got != 403 {
		t.Errorf("another station's admin removing a member: %d, want 403", got)
	}
	var cMe struct{ User struct{ ID string } }
	riderC.must("GET", "/api/v1/me", nil, &cMe, 200)
	sa1.must("DELETE", "/api/v1/stations/"+s1+"/council/members/"+cMe.User.ID, map[string]string{"reason": "重复账号"}, nil, 204)
	var removed struct {
		StationID  string `json:"station_id"`
		LastChange *struct {
			Kind   string `json:"kind"`
			Reason string `json:"reason"`
		} `json:"last_change"`
	}
	riderC.must("GET", "/api/v1/me/council", nil, &removed, 200)
	if removed.StationID != "" || removed.LastChange == nil || removed.LastChange.Kind != "removed" || removed.LastChange.Reason != "重复账号" {
		t.Errorf("C after removal = %+v", removed)
	}

	t.Run("bad input is refused and writes nothing", func(t *testing.T) {
		items := feedbackCount(t, riderA, s1)
		for name, text := range map[string]string{"empty": "  ", "5000 characters": strings.Repeat("长", 5000)} {
			if status, _, data := postItem(t, riderA, s1, "facilities", text, nil); status != 422 {
				t.Errorf("%s item text: %d %s, want 422", name, status, data)
			}
		}
		if status, _, data := postItem(t, riderA, s1, "facilities", "照片", []byte("this is plain text, not a picture")); status != 422 || !strings.Contains(string(data), "photo") {
			t.Errorf("a photo that is not an image: %d %s, want 422 about the photo", status, data)
		}
		if status, _, data := postItem(t, riderB, s1, "facilities", "不是成员", nil); status != 403 || !strings.Contains(detail(t, data), "Join this station's council") {
			t.Errorf("a non-member posting: %d %s, want 403 saying to join", status, data)
		}
		if n := feedbackCount(t, riderA, s1); n != items {
			t.Errorf("feedback items after refused posts: %d, want %d", n, items)
		}

		drafts := proposalCount(t, sa1, s1)
		now := time.Now()
		for name, body := range map[string]map[string]any{
			"closes before it opens": {"title": "t", "kind": "yes_no_abstain", "opens": now.Add(time.Hour), "closes": now},
			"quorum of 101 %":        {"title": "t", "kind": "yes_no_abstain", "opens": now, "closes": now.Add(time.Hour), "quorum_pct": 101},
		} {
			if got, data := call(t, sa1, "POST", "/api/v1/stations/"+s1+"/proposals", body); got != 422 {
				t.Errorf("a proposal whose window %s: %d %s, want 422", name, got, data)
			}
		}
		if n := proposalCount(t, sa1, s1); n != drafts {
			t.Errorf("proposals after refused puts: %d, want %d", n, drafts)
		}

		for name, choice := range map[string][]string{"a choice not on the ballot": {"z"}, "too many approvals": {"a", "b", "c"}} {
			if got, data := call(t, riderA, "POST", "/api/v1/proposals/"+p2.ID+"/votes", map[string]any{"choice": choice}); got != 422 {
				t.Errorf("%s: %d %s, want 422", name, got, data)
			}
		}
		var view proposalJSON
		riderA.must("GET", "/api/v1/proposals/"+p2.ID, nil, &view, 200)
		if len(view.MyVotes) != 1 || !slices.Equal(view.MyVotes[0].Choice, []string{"a", "b"}) {
			t.Errorf("A's votes on P2 after refused ones = %+v, want the one vote for a and b", view.MyVotes)
		}
	})

	// The close by time: read until it has closed and been counted.
	eventually(t, time.Minute, "P1 to close", func() bool {
		view = proposalJSON{}
		riderA.must("GET", "/api/v1/proposals/"+p1.ID, nil, &view, 200)
		return view.State == "closed"
	})
	if view.Tally == nil || view.Tally.Ballots != 1 {
		t.Errorf("P1 closed: tally %+v, want 1 ballot", view.Tally)
	}
	var res resultsJSON
	riderA.must("GET", "/api/v1/proposals/"+p1.ID+"/results", nil, &res, 200)
	if len(res.Receipts) != 1 || res.Receipts[0].Code != r1.Code || !slices.Equal(res.Receipts[0].Choice, []string{"yes"}) {
		t.Errorf("published receipts = %+v, want A's %s for yes", res.Receipts, r1.Code)
	}
	if !slices.Equal(res.Mine, []string{r1.Code}) || res.Roll != 1 || !res.Passed {
		t.Errorf("results = %+v, want mine %s, roll 1, passed", res, r1.Code)
	}
	if got, data := call(t, riderA, "POST", "/api/v1/proposals/"+p1.ID+"/votes", map[string]any{"choice": []string{"no"}}); got != 409 || !strings.Contains(detail(t, data), utc8(p1.Closes)) {
		t.Errorf("a vote after close: %d %s, want 409 naming the close %s", got, data, utc8(p1.Closes))
	}

	// Outcomes: the decision, then progress; only the station's admins.
	if got := riderA.do("POST", "/api/v1/proposals/"+p1.ID+"/outcomes", map[string]string{"kind": "decision", "text": "通过"}, nil); got != 403 {
		t.Errorf("a rider recording an outcome: %d, want 403", got)
	}
	if got := sa2.do("POST", "/api/v1/proposals/"+p1.ID+"/outcomes", map[string]string{"kind": "decision", "text": "通过"}, nil); got != 403 {
		t.Errorf("another station's admin recording an outcome: %d, want 403", got)
	}
	if got := sa1.do("POST", "/api/v1/proposals/"+p1.ID+"/outcomes", map[string]string{"kind": "progress", "text": "已采购"}, nil); got != 422 {
		t.Errorf("progress before the decision: %d, want 422", got)
	}
	sa1.must("POST", "/api/v1/proposals/"+p1.ID+"/outcomes", map[string]string{"kind": "decision", "text": "通过，增加四个插座"}, nil, 200)
	sa1.must("POST", "/api/v1/proposals/"+p1.ID+"/outcomes", map[string]string{"kind": "progress", "text": "插座已采购"}, nil, 200)
	riderB.must("GET", "/api/v1/proposals/"+p1.ID, nil, &view, 200)
	if len(view.Outcomes) != 2 || view.Outcomes[0].Kind != "decision" || view.Outcomes[1].Kind != "progress" || view.FromItem != item.ID {
		t.Errorf("P1's outcomes = %+v from %q, want decision then progress, from %s", view.Outcomes, view.FromItem, item.ID)
	}
	// The OpenAPI document describes the feedback form's real fields, so
	// that a generated client sends what the server reads.
	var spec struct {
		Paths map[string]map[string]struct {
			RequestBody struct {
				Content map[string]struct {
					Schema struct {
						Properties map[string]any
					}
				}
			} `json:"requestBody"`
		}
	}
	riderA.must("GET", "/api/openapi.json", nil, &spec, 200)
	form := spec.Paths["/api/v1/stations/{id}/feedback"]["post"].RequestBody.Content["multipart/form-data"].Schema.Properties
	for _, f := range []string{"category", "text", "photo"} {
		if form[f] == nil {
			t.Errorf("the feedback form's field %q is not described (have %v)", f, form)
		}
	}
}
