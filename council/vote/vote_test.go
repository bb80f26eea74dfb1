package vote

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nuanxin/nuanxin/storage/storagetest"
)

// clock is a test clock shared by the services of one test.
type clock struct{ t atomic.Int64 }

func (c *clock) now() time.Time          { return time.Unix(0, c.t.Load()) }
func (c *clock) set(t time.Time)         { c.t.Store(t.UnixNano()) }
func (c *clock) advance(d time.Duration) { c.t.Add(int64(d)) }

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func newService(db *mongo.Database, c *clock) *Service {
	s := NewService(db, storagetest.Logger())
	s.now = c.now
	return s
}

func newClock() *clock {
	c := &clock{}
	c.set(t0)
	return c
}

// recorder is a Notifier that keeps what it was told.
type recorder struct {
	mu      sync.Mutex
	notices []Notice
}

func (r *recorder) Notify(_ context.Context, n Notice) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notices = append(r.notices, n)
	return nil
}

func (r *recorder) count(k NoticeKind) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, x := range r.notices {
		if x.Kind == k {
			n++
		}
	}
	return n
}

func draft(kind Kind, secret bool, opts ...string) Draft {
	return Draft{StationID: "st1", Title: "Longer opening hours", Body: "Open until midnight?", Kind: kind,
		Options: opts, Secret: secret, Opens: t0, Closes: t0.Add(48 * time.Hour), QuorumPct: 50, CreatedBy: "admin1"}
}

func members(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("m%05d", i)
	}
	return out
}

func mustCreate(t testing.TB, s *Service, d Draft) Proposal {
	t.Helper()
	p, err := s.Create(context.Background(), d)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	return p
}

func mustOpen(t testing.TB, s *Service, id string, roll []string) Proposal {
	t.Helper()
	p, err := s.Open(context.Background(), id, roll)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return p
}

func mustCast(t testing.TB, s *Service, id, m string, choice ...string) Receipt {
	t.Helper()
	r, err := s.Cast(context.Background(), id, m, choice)
	if err != nil {
		t.Fatalf("cast %s %v: %v", m, choice, err)
	}
	return r
}

func count(t testing.TB, c *mongo.Collection, filter any) int64 {
	t.Helper()
	n, err := c.CountDocuments(context.Background(), filter)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func rawDocs(t testing.TB, c *mongo.Collection) []bson.D {
	t.Helper()
	cur, err := c.Find(context.Background(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var out []bson.D
	if err := cur.All(context.Background(), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func asMap(d bson.D) map[string]any {
	m := map[string]any{}
	for _, e := range d {
		m[e.Key] = e.Value
	}
	return m
}

func votesOf(tl Tally, option string) int {
	for _, c := range tl.Counts {
		if c.Option == option {
			return c.Votes
		}
	}
	return -1
}

func TestBadInput(t *testing.T) {
	db := storagetest.Docs(t)
	s := newService(db, newClock())
	ctx := context.Background()
	cases := []struct {
		name  string
		edit  func(d *Draft)
		field string
	}{
		{"closes before opens", func(d *Draft) { d.Closes = d.Opens.Add(-time.Hour) }, "closes"},
		{"closes when opens", func(d *Draft) { d.Closes = d.Opens }, "closes"},
		{"window over 60 days", func(d *Draft) { d.Closes = d.Opens.Add(61 * 24 * time.Hour) }, "closes"},
		{"quorum above 100", func(d *Draft) { d.QuorumPct = 101 }, "quorum_pct"},
		{"quorum below 0", func(d *Draft) { d.QuorumPct = -1 }, "quorum_pct"},
		{"pass below half", func(d *Draft) { d.PassPct = 40 }, "pass_pct"},
		{"no title", func(d *Draft) { d.Title = "  " }, "title"},
		{"unknown kind", func(d *Draft) { d.Kind = "ranked" }, "kind"},
		{"one option", func(d *Draft) { d.Kind, d.Options = OneOf, []string{"a"} }, "options"},
		{"21 options", func(d *Draft) { d.Kind, d.Options = OneOf, members(21) }, "options"},
		{"duplicate option", func(d *Draft) { d.Kind, d.Options = OneOf, []string{"a", "a"} }, "options"},
		{"max approvals above options", func(d *Draft) { d.Kind, d.Options, d.MaxApprovals = Approval, []string{"a", "b"}, 3 }, "max_approvals"},
		{"no station", func(d *Draft) { d.StationID = "" }, "station_id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := draft(YesNoAbstain, false)
			tc.edit(&d)
			_, err := s.Create(ctx, d)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("got %v, want a FieldError on %s", err, tc.field)
			}
		})
	}
	if n := count(t, s.proposals, bson.D{}); n != 0 {
		t.Fatalf("%d proposals stored after bad input, want 0", n)
	}

	t.Run("choices", func(t *testing.T) {
		p := mustCreate(t, s, Draft{StationID: "st1", Title: "Canteen menu", Kind: Approval, Options: []string{"noodles", "rice", "dumplings"},
			MaxApprovals: 2, Opens: t0, Closes: t0.Add(time.Hour), CreatedBy: "a"})
		mustOpen(t, s, p.ID, []string{"m1"})
		for _, bad := range [][]string{{"pizza"}, {"noodles", "rice", "dumplings"}, {}, {"rice", "rice"}} {
			if _, err := s.Cast(ctx, p.ID, "m1", bad); !errors.Is(err, ErrBadChoice) {
				t.Errorf("cast %q: got %v, want ErrBadChoice", bad, err)
			}
		}
		if n := count(t, s.ballots(p.ID), bson.D{}); n != 0 {
			t.Errorf("%d ballots after bad choices, want 0", n)
		}
		r := mustCast(t, s, p.ID, "m1", "rice", "noodles")
		if !slices.Equal(r.Choice, []string{"noodles", "rice"}) {
			t.Errorf("choice %v, want ballot order [noodles rice]", r.Choice)
		}
		y := mustCreate(t, s, draft(YesNoAbstain, false))
		mustOpen(t, s, y.ID, []string{"m1"})
		if _, err := s.Cast(ctx, y.ID, "m1", []string{"yes", "no"}); !errors.Is(err, ErrBadChoice) {
			t.Errorf("yes and no: got %v, want ErrBadChoice", err)
		}
	})
}

// TestConcurrentVotes: 2,000 members vote at once on one proposal.
func TestConcurrentVotes(t *testing.T) {
	db := storagetest.Docs(t)
	c := newClock()
	s := newService(db, c)
	p := mustCreate(t, s, draft(YesNoAbstain, false))
	roll := members(2000)
	mustOpen(t, s, p.ID, roll)
	c.advance(time.Hour)
	want := map[string]int{}
	choices := make([]string, len(roll))
	for i := range roll {
		choices[i] = []string{Yes, No, Abstain}[i%3]
		want[choices[i]]++
	}
	receipts := make([]string, len(roll))
	var wg sync.WaitGroup
	for i, m := range roll {
		wg.Go(func() {
			r, err := s.Cast(context.Background(), p.ID, m, []string{choices[i]})
			if err != nil {
				t.Errorf("cast %s: %v", m, err)
				return
			}
			receipts[i] = r.Code
		})
	}
	wg.Wait()
	if n := count(t, s.ballots(p.ID), bson.D{}); n != 2000 {
		t.Fatalf("%d ballots stored, want 2000", n)
	}
	c.set(p.Closes.Add(s.settle))
	tl, err := s.Results(context.Background(), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []string{Yes, No, Abstain} {
		if got := votesOf(tl, o); got != want[o] {
			t.Errorf("%s: got %d votes, want %d", o, got, want[o])
		}
	}
	if tl.Ballots != 2000 || tl.Roll != 2000 || tl.TurnoutPct != 100 || !tl.QuorumMet {
		t.Errorf("tally %d ballots of %d (%.1f %%, quorum %v), want 2000 of 2000", tl.Ballots, tl.Roll, tl.TurnoutPct, tl.QuorumMet)
	}
	// yes 667, no 667: not more than half of yes+no.
	if tl.Passed {
		t.Errorf("passed with yes %d, no %d", want[Yes], want[No])
	}
	published := map[string]string{}
	for _, r := range tl.Receipts {
		published[r.Code] = r.Choice[0]
	}
	for i, code := range receipts {
		if published[code] != choices[i] {
			t.Fatalf("receipt %s of %s: published %q, want %q", code, roll[i], published[code], choices[i])
		}
	}
}

func TestRetryChangeAndHistory(t *testing.T) {
	db := storagetest.Docs(t)
	c := newClock()
	s := newService(db, c)
	p := mustCreate(t, s, draft(OneOf, false, "red", "green", "blue"))
	mustOpen(t, s, p.ID, []string{"m1", "m2"})
	r1 := mustCast(t, s, p.ID, "m1", "red")
	again := mustCast(t, s, p.ID, "m1", "red")
	if again.Code != r1.Code || !again.Replayed {
		t.Fatalf("retry: got %+v, want receipt %s replayed", again, r1.Code)
	}
	// Another instance retrying finds the same ballot too.
	other := newService(db, c)
	if r := mustCast(t, other, p.ID, "m1", "red"); r.Code != r1.Code {
		t.Fatalf("retry on another instance: receipt %s, want %s", r.Code, r1.Code)
	}
	if n := count(t, s.ballots(p.ID), bson.D{}); n != 1 {
		t.Fatalf("%d ballots after retries, want 1", n)
	}
	r2 := mustCast(t, s, p.ID, "m1", "blue")
	if r2.Code == r1.Code {
		t.Fatal("a changed vote kept the old receipt")
	}
	mustCast(t, s, p.ID, "m2", "blue")
	h, err := s.History(context.Background(), p.ID, "m1")
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[0].Choice[0] != "red" || h[1].Choice[0] != "blue" {
		t.Fatalf("history %+v, want red then blue", h)
	}
	if _, err := s.Results(context.Background(), p.ID); !errors.Is(err, ErrNotClosed) {
		t.Fatalf("results before close: got %v, want ErrNotClosed", err)
	}
	if _, err := s.Edit(context.Background(), p.ID, draft(OneOf, false, "a", "b")); !errors.Is(err, ErrOpen) {
		t.Fatalf("edit while open: got %v, want ErrOpen", err)
	}
	c.set(p.Closes.Add(s.settle))
	tl, err := s.Results(context.Background(), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if votesOf(tl, "blue") != 2 || votesOf(tl, "red") != 0 || tl.Winner != "blue" || !tl.Passed {
		t.Fatalf("tally %+v, want blue 2, red 0, passed", tl.Counts)
	}
	if len(tl.Receipts) != 2 {
		t.Fatalf("%d receipts published, want 2 (current votes only)", len(tl.Receipts))
	}
}

func TestClosedAndRoll(t *testing.T) {
	db := storagetest.Docs(t)
	c := newClock()
	s := newService(db, c)
	ctx := context.Background()
	p := mustCreate(t, s, draft(YesNoAbstain, false))
	if _, err := s.Cast(ctx, p.ID, "m1", []string{Yes}); !errors.Is(err, ErrNotOpen) {
		t.Fatalf("cast before open: got %v, want ErrNotOpen", err)
	}
	mustOpen(t, s, p.ID, []string{"m1", "m2"})
	// Opening again, with a roll that has grown since, changes nothing.
	if q := mustOpen(t, s, p.ID, []string{"m1", "m2", "late"}); q.RollSize != 2 {
		t.Fatalf("roll size after second open: %d, want 2", q.RollSize)
	}
	if _, err := s.Cast(ctx, p.ID, "late", []string{Yes}); !errors.Is(err, ErrNotOnRoll) {
		t.Fatalf("member who joined after opening: got %v, want ErrNotOnRoll", err)
	}
	mustCast(t, s, p.ID, "m1", Yes)
	c.set(p.Closes)
	_, err := s.Cast(ctx, p.ID, "m2", []string{Yes})
	var ce *ClosedError
	if !errors.Is(err, ErrClosed) || !errors.As(err, &ce) || !ce.At.Equal(p.Closes) {
		t.Fatalf("vote after close: got %v, want ErrClosed at %s", err, p.Closes)
	}
	if n := count(t, s.ballots(p.ID), bson.D{}); n != 1 {
		t.Fatalf("%d ballots, want 1", n)
	}
}

// TestSecretBallotUnlinkable reads the raw collections of a secret ballot
// and looks for anything that ties a member to a choice.
func TestSecretBallotUnlinkable(t *testing.T) {
	db := storagetest.Docs(t)
	c := newClock()
	s := newService(db, c)
	ctx := context.Background()
	p := mustCreate(t, s, draft(YesNoAbstain, true))
	roll := members(200)
	mustOpen(t, s, p.ID, roll)
	// Cast one at a time, in roll order, first half yes, second half no:
	// were ballots stored in cast order, their order would give it away.
	castOrder := make([]string, len(roll))
	receipts := map[string]string{}
	for i, m := range roll {
		castOrder[i] = Yes
		if i >= len(roll)/2 {
			castOrder[i] = No
		}
		r := mustCast(t, s, p.ID, m, castOrder[i])
		receipts[r.Code] = castOrder[i]
	}
	if _, err := s.Cast(ctx, p.ID, roll[0], []string{Yes}); !errors.Is(err, ErrFinal) {
		t.Fatalf("secret vote again: got %v, want ErrFinal", err)
	}
	if _, err := s.Cast(ctx, p.ID, roll[0], []string{No}); !errors.Is(err, ErrFinal) {
		t.Fatalf("secret vote changed: got %v, want ErrFinal", err)
	}
	check := func(t *testing.T) {
		rollDocs := rawDocs(t, s.roll(p.ID))
		if len(rollDocs) != len(roll) {
			t.Fatalf("%d roll entries, want %d", len(rollDocs), len(roll))
		}
		for _, d := range rollDocs {
			m := asMap(d)
			if len(m) != 2 || m["voted"] != true {
				t.Fatalf("roll entry %v holds more than the member and 'voted'", d)
			}
		}
		var filled []string
		for _, d := range rawDocs(t, s.ballots(p.ID)) {
			m := asMap(d)
			for k, v := range m {
				if k != "_id" && k != "choice" && k != "receipt" {
					t.Fatalf("ballot %v has field %q", d, k)
				}
				if strings.Contains(fmt.Sprint(v), "m0") {
					t.Fatalf("ballot %v names a member", d)
				}
			}
			if _, ok := m["receipt"]; ok {
				filled = append(filled, fmt.Sprint(m["choice"].(bson.A)[0]))
			}
		}
		if len(filled) != len(roll) {
			t.Fatalf("%d ballots filled, want %d", len(filled), len(roll))
		}
		// In cast order the first 100 are yes. Ballots in natural order
		// should agree with the cast order about half the time; in
		// insertion order they would agree always.
		same := 0
		for i := range filled {
			if filled[i] == castOrder[i] {
				same++
			}
		}
		if same > len(roll)*80/100 {
			t.Fatalf("the ballots' natural order matches the cast order at %d of %d places", same, len(roll))
		}
	}
	t.Run("while open", check)
	c.set(p.Closes.Add(s.settle))
	tl, err := s.Results(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("after close", check)
	if votesOf(tl, Yes) != 100 || votesOf(tl, No) != 100 || tl.Ballots != 200 {
		t.Fatalf("tally %+v, want 100 yes, 100 no", tl.Counts)
	}
	for _, r := range tl.Receipts {
		if receipts[r.Code] != r.Choice[0] {
			t.Fatalf("receipt %s published with %v, voter was given %q", r.Code, r.Choice, receipts[r.Code])
		}
	}
	if len(tl.Receipts) != len(receipts) {
		t.Fatalf("%d receipts published, want %d", len(tl.Receipts), len(receipts))
	}
}

// TestSecretCrashRecovery: a vote whose roll entry went in but whose
// ballot did not (a crash between the two) is neither doubled nor lost.
func TestSecretCrashRecovery(t *testing.T) {
	db := storagetest.Docs(t)
	c := newClock()
	s := newService(db, c)
	ctx := context.Background()
	p := mustCreate(t, s, draft(YesNoAbstain, true))
	mustOpen(t, s, p.ID, []string{"m1", "m2", "m3"})
	rec, err := s.openRecord(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Crash after step 2 for m1 and m3: slot claimed, roll entry pending.
	crash := func(m string) string {
		slot, err := s.claimSlot(ctx, rec)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.roll(p.ID).InsertOne(ctx, rollEntry{ID: m, Pending: slot, Since: c.now()}); err != nil {
			t.Fatal(err)
		}
		return slot
	}
	crash("m1")
	crash("m3")
	if _, err := s.Cast(ctx, p.ID, "m1", []string{Yes}); !errors.Is(err, ErrBusy) {
		t.Fatalf("retry while the first may be in flight: got %v, want ErrBusy", err)
	}
	c.advance(2 * pendingGrace)
	r := mustCast(t, s, p.ID, "m1", Yes)
	if _, err := s.Cast(ctx, p.ID, "m1", []string{Yes}); !errors.Is(err, ErrFinal) {
		t.Fatalf("after recovery: got %v, want ErrFinal", err)
	}
	mustCast(t, s, p.ID, "m2", No)
	// m3 never retries; the close scrubs the link and counts nothing for m3.
	c.set(p.Closes.Add(s.settle))
	tl, err := s.Results(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if tl.Ballots != 2 || votesOf(tl, Yes) != 1 || votesOf(tl, No) != 1 {
		t.Fatalf("tally %d ballots %+v, want yes 1, no 1", tl.Ballots, tl.Counts)
	}
	if !slices.ContainsFunc(tl.Receipts, func(x PublishedReceipt) bool { return x.Code == r.Code }) {
		t.Fatal("the recovered vote's receipt is not published")
	}
	if n := count(t, s.roll(p.ID), bson.D{{Key: "pending", Value: bson.D{{Key: "$exists", Value: true}}}}); n != 0 {
		t.Fatalf("%d roll entries still link to a slot after close", n)
	}
}

// TestTwoInstancesClose: two services on one database read a closed
// proposal at once; one tally is frozen and both return it.
func TestTwoInstancesClose(t *testing.T) {
	db := storagetest.Docs(t)
	c := newClock()
	var rec recorder
	a, b := newService(db, c), newService(db, c)
	a.SetNotifier(&rec)
	b.SetNotifier(&rec)
	p := mustCreate(t, a, draft(YesNoAbstain, false))
	mustOpen(t, a, p.ID, members(10))
	mustOpen(t, b, p.ID, members(10))
	for i, m := range members(10) {
		mustCast(t, []*Service{a, b}[i%2], p.ID, m, Yes)
	}
	c.set(p.Closes.Add(a.settle))
	var wg sync.WaitGroup
	got := make([]Tally, 8)
	for i := range got {
		wg.Go(func() {
			tl, err := []*Service{a, b}[i%2].Results(context.Background(), p.ID)
			if err != nil {
				t.Error(err)
			}
			got[i] = tl
		})
	}
	wg.Wait()
	for _, tl := range got[1:] {
		if !tl.CountedAt.Equal(got[0].CountedAt) || tl.Ballots != got[0].Ballots {
			t.Fatalf("instances returned different tallies: %+v vs %+v", tl, got[0])
		}
	}
	if n := count(t, a.tallies, bson.D{}); n != 1 {
		t.Fatalf("%d tallies frozen, want 1", n)
	}
	if !got[0].Passed || got[0].Ballots != 10 {
		t.Fatalf("tally %+v, want 10 ballots, passed", got[0])
	}
	if rec.count(NoticeOpened) != 1 || rec.count(NoticeResult) != 1 {
		t.Fatalf("notices: %d opened, %d result; want 1 each", rec.count(NoticeOpened), rec.count(NoticeResult))
	}
}

func TestCompute(t *testing.T) {
	p := &Proposal{Kind: YesNoAbstain, QuorumPct: 50, PassPct: 50}
	ballots := func(cs ...string) []PublishedReceipt {
		var out []PublishedReceipt
		for i, c := range cs {
			out = append(out, PublishedReceipt{Code: fmt.Sprint(i), Choice: []string{c}})
		}
		return out
	}
	cases := []struct {
		name   string
		p      *Proposal
		roll   int
		votes  []PublishedReceipt
		quorum bool
		passed bool
	}{
		{"majority", p, 4, ballots(Yes, Yes, No), true, true},
		{"abstain does not count against", p, 4, ballots(Yes, Abstain, Abstain), true, true},
		{"exactly half fails", p, 4, ballots(Yes, No), true, false},
		{"no quorum", p, 10, ballots(Yes, Yes), false, false},
		{"tie among options", &Proposal{Kind: OneOf, Options: []string{"a", "b"}, PassPct: 50}, 2, ballots("a", "b"), true, false},
		{"two thirds needed", &Proposal{Kind: YesNoAbstain, PassPct: 66.7}, 3, ballots(Yes, Yes, No), true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tl := compute(tc.p, tc.roll, tc.votes, t0)
			if tl.QuorumMet != tc.quorum || tl.Passed != tc.passed {
				t.Fatalf("quorum %v passed %v, want %v %v", tl.QuorumMet, tl.Passed, tc.quorum, tc.passed)
			}
		})
	}
}

// TestVoter: the page asks whether to offer a ballot; the answer follows
// the frozen roll and, on either kind of ballot, whether the member voted.
func TestVoter(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s := newService(storagetest.Docs(t), c)
	for _, secret := range []bool{false, true} {
		p := mustCreate(t, s, draft(YesNoAbstain, secret))
		if on, voted, err := s.Voter(ctx, p.ID, "m00000"); err != nil || on || voted {
			t.Errorf("secret=%v: before opening Voter = %v %v %v, want false false", secret, on, voted, err)
		}
		mustOpen(t, s, p.ID, members(2))
		c.set(p.Opens.Add(time.Minute))
		if on, voted, err := s.Voter(ctx, p.ID, "m00000"); err != nil || !on || voted {
			t.Errorf("secret=%v: on the roll, not voted: Voter = %v %v %v", secret, on, voted, err)
		}
		if on, _, err := s.Voter(ctx, p.ID, "late"); err != nil || on {
			t.Errorf("secret=%v: not on the roll: Voter = %v %v", secret, on, err)
		}
		if _, err := s.Cast(ctx, p.ID, "m00000", []string{Yes}); err != nil {
			t.Fatal(err)
		}
		if on, voted, err := s.Voter(ctx, p.ID, "m00000"); err != nil || !on || !voted {
			t.Errorf("secret=%v: after voting Voter = %v %v %v, want true true", secret, on, voted, err)
		}
		if _, voted, _ := s.Voter(ctx, p.ID, "m00001"); voted {
			t.Errorf("secret=%v: another member's vote counts as this one's", secret)
		}
	}
	if _, _, err := s.Voter(ctx, NewID(), "m00000"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown proposal: %v, want ErrNotFound", err)
	}
}
