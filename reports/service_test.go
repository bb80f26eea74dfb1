package reports_test

import (
	"context"
	"errors"
	"math"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nuanxin/nuanxin/grid"
	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/reports"
	"github.com/nuanxin/nuanxin/storage"
	"github.com/nuanxin/nuanxin/storage/storagetest"
)

// Two 1 km cells side by side: T-0001 west of lng 112.98, T-0002 east.
var inWest = [2]float64{28.195, 112.975}

// accounts says which officer accounts are enabled.
type accounts struct {
	mu     sync.Mutex
	active map[string]bool
}

func (a *accounts) Active(_ context.Context, id string) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.active[id], nil
}

func (a *accounts) set(id string, on bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.active[id] = on
}

// recorder is an event consumer that remembers what it was told, and can be
// made to fail.
type recorder struct {
	mu     sync.Mutex
	events []reports.Event
	fail   bool
}

func (r *recorder) Publish(_ context.Context, e reports.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return errors.New("consumer down")
	}
	r.events = append(r.events, e)
	return nil
}

func (r *recorder) list() []reports.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]reports.Event(nil), r.events...)
}

type fixture struct {
	t        *testing.T
	db       *mongo.Database
	blobs    *storage.Blobs
	grid     grid.Routing
	accounts *accounts
	events   *recorder
	svc      *reports.Service
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureOn(t, storagetest.Docs(t), storagetest.Blobs(t))
}

func newFixtureOn(t *testing.T, db *mongo.Database, blobs *storage.Blobs) *fixture {
	t.Helper()
	ctx := context.Background()
	if err := storage.EnsureIndexes(ctx, db, append(append(reports.Indexes(), grid.Indexes()...), policy.Indexes()...)); err != nil {
		t.Fatal(err)
	}
	en, err := policy.NewEnforcer(ctx, db, storagetest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	acc := &accounts{active: map[string]bool{"o1": true, "o2": true, "o3": true}}
	lookup := func(_ context.Context, id string) (grid.Officer, bool, error) {
		return grid.Officer{ID: id, Name: id, Eligible: true}, true, nil
	}
	g := grid.NewService(db, en, lookup, storagetest.Logger())
	if err := g.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if g.Index().Len() == 0 {
		data, err := grid.MarshalFeatureCollection(grid.GridCells("T", "芙蓉区", 112.97, 28.19, 0.01, 2, 1))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := g.Import(ctx, data, grid.Replace); err != nil {
			t.Fatal(err)
		}
		if _, err := g.Assign(ctx, "T-0001", "o1", "o2"); err != nil {
			t.Fatal(err)
		}
		if _, err := g.Assign(ctx, "T-0002", "o3", ""); err != nil {
			t.Fatal(err)
		}
	}
	f := &fixture{t: t, db: db, blobs: blobs, grid: g.Routing(), accounts: acc, events: &recorder{}}
	f.svc = f.service()
	return f
}

// service builds another instance on the same stores, as a second server would.
func (f *fixture) service() *reports.Service {
	return f.serviceWith([]reports.Consumer{{Name: "recorder", Events: f.events}})
}

// serviceWith builds an instance on the same stores with other consumers.
func (f *fixture) serviceWith(consumers []reports.Consumer) *reports.Service {
	return reports.NewService(f.db, f.blobs, f.grid, f.accounts, consumers, reports.Config{}, storagetest.Logger())
}

var photoCache sync.Map

func photo(t testing.TB, name string) []byte {
	t.Helper()
	if b, ok := photoCache.Load(name); ok {
		return b.([]byte)
	}
	b, err := os.ReadFile("testdata/photos/" + name)
	if err != nil {
		t.Fatal(err)
	}
	photoCache.Store(name, b)
	return b
}

func at(p [2]float64) (*float64, *float64) { return &p[0], &p[1] }

func (f *fixture) submission(key string, where [2]float64) reports.Submission {
	lat, lng := at(where)
	return reports.Submission{Key: key, Category: "road_damage", Description: "井盖破损", Lat: lat, Lng: lng,
		Photos: [][]byte{photo(f.t, "road-clean.jpg")}}
}

func (f *fixture) mustSubmit(reporter string, in reports.Submission) reports.Report {
	f.t.Helper()
	r, _, err := f.svc.Submit(context.Background(), reporter, in)
	if err != nil {
		f.t.Fatalf("submit: %v", err)
	}
	return r
}

func (f *fixture) count(coll string) int64 {
	f.t.Helper()
	n, err := f.db.Collection(coll).CountDocuments(context.Background(), bson.D{})
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

func (f *fixture) objects() []string {
	f.t.Helper()
	keys, err := f.blobs.List(context.Background(), "reports/")
	if err != nil {
		f.t.Fatal(err)
	}
	return keys
}

func TestSubmitRoutesToPrimaryOfficer(t *testing.T) {
	f := newFixture(t)
	r := f.mustSubmit("rider1", f.submission("k1", inWest))
	if r.Cell != "T-0001" || r.OfficerID != "o1" || r.BackupID != "o2" {
		t.Errorf("routed to cell %q officer %q backup %q, want T-0001/o1/o2", r.Cell, r.OfficerID, r.BackupID)
	}
	if r.Status != reports.StatusSubmitted || r.Seq != 1 || r.LocationSource != "device" {
		t.Errorf("report = status %s seq %d source %s", r.Status, r.Seq, r.LocationSource)
	}
	if got := r.AckDue.Sub(r.CreatedAt); got != 10*time.Minute {
		t.Errorf("acknowledge within %s, want 10m", got)
	}
	if got := r.DecideDue.Sub(r.CreatedAt); got != 24*time.Hour {
		t.Errorf("decide within %s, want 24h", got)
	}
	if len(r.Photos) != 1 || r.Photos[0].Width != 1600 || r.Photos[0].ContentType != "image/jpeg" {
		t.Errorf("photos = %+v", r.Photos)
	}
	f.svc.Wait() // the thumbnail is made after the answer
	if got := f.objects(); len(got) != 2 {
		t.Errorf("stored objects = %v, want the photo and its thumbnail", got)
	}
	tl, err := f.svc.Timeline(context.Background(), r.ID, 0)
	if err != nil || len(tl) != 1 || tl[0].Action != reports.ActSubmit || tl[0].ActorRole != reports.RoleRider {
		t.Errorf("timeline = %+v, %v", tl, err)
	}
	ev := f.events.list()
	if len(ev) != 1 || ev[0].Action != reports.ActSubmit || ev[0].OfficerID != "o1" || ev[0].ReporterID != "rider1" {
		t.Errorf("events = %+v", ev)
	}
}

func TestSubmitFallsBack(t *testing.T) {
	f := newFixture(t)
	f.accounts.set("o1", false)
	if r := f.mustSubmit("rider1", f.submission("k1", inWest)); r.OfficerID != "o2" {
		t.Errorf("primary disabled: officer %q, want the backup o2", r.OfficerID)
	}
	f.accounts.set("o2", false)
	if r := f.mustSubmit("rider1", f.submission("k2", inWest)); r.OfficerID != "" || r.Cell != "T-0001" {
		t.Errorf("both disabled: officer %q cell %q, want the admin queue in T-0001", r.OfficerID, r.Cell)
	}
	if r := f.mustSubmit("rider1", f.submission("k3", [2]float64{30.0, 110.0})); r.Cell != "" || r.OfficerID != "" {
		t.Errorf("outside the map: cell %q officer %q, want unassigned", r.Cell, r.OfficerID)
	}
}

func TestNearBorderFlag(t *testing.T) {
	f := newFixture(t)
	// 10 m west of the shared edge at lng 112.98.
	near := [2]float64{28.195, 112.98 - 10/(111320*math.Cos(28.195*math.Pi/180))}
	if r := f.mustSubmit("rider1", f.submission("k1", near)); !r.NearBorder || r.Cell != "T-0001" {
		t.Errorf("10 m from the border: near_border %v cell %s", r.NearBorder, r.Cell)
	}
	if r := f.mustSubmit("rider1", f.submission("k2", inWest)); r.NearBorder {
		t.Error("cell centre flagged near the border")
	}
}

func TestIdempotency(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	first, created, err := f.svc.Submit(ctx, "rider1", f.submission("same-key", inWest))
	if err != nil || !created {
		t.Fatalf("first: created=%v err=%v", created, err)
	}
	again, created, err := f.svc.Submit(ctx, "rider1", f.submission("same-key", inWest))
	if err != nil || created || again.ID != first.ID {
		t.Errorf("retry: id %s created=%v err=%v, want the first report %s", again.ID, created, err, first.ID)
	}
	other := f.submission("same-key", inWest)
	other.Description = "另一件事"
	if _, _, err := f.svc.Submit(ctx, "rider1", other); !errors.Is(err, reports.ErrIdempotencyKey) {
		t.Errorf("same key, other body: err = %v, want ErrIdempotencyKey", err)
	}
	// Another rider's identical key is their own report.
	if r := f.mustSubmit("rider2", f.submission("same-key", inWest)); r.ID == first.ID {
		t.Error("two riders' keys collided")
	}
	if n := f.count("reports"); n != 2 {
		t.Errorf("reports stored = %d, want 2", n)
	}
}

// A rider on a bad network sends the same report several times at once.
func TestConcurrentRetriesMakeOneReport(t *testing.T) {
	f := newFixture(t)
	const n = 6
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var r reports.Report
			r, _, errs[i] = f.svc.Submit(context.Background(), "rider1", f.submission("flaky", inWest))
			ids[i] = r.ID
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Errorf("copy %d: id %s err %v, want %s", i, ids[i], errs[i], ids[0])
		}
	}
	if got := f.count("reports"); got != 1 {
		t.Errorf("reports = %d, want 1", got)
	}
	f.svc.Wait() // the winner's thumbnail is made after the answer
	if got := f.objects(); len(got) != 2 {
		t.Errorf("objects = %d (%v), want 2: the losing copies' photos must be removed", len(got), got)
	}
	if got := f.count("report_timeline"); got != 1 {
		t.Errorf("timeline entries = %d, want 1", got)
	}
}

func TestSubmitRejectsBadInput(t *testing.T) {
	f := newFixture(t)
	nan, big := math.NaN(), 200.0
	lat, _ := at(inWest)
	clean := photo(t, "road-clean.jpg")
	cases := []struct {
		name string
		edit func(*reports.Submission)
		want string // "validation", a photo code, or "idem"
	}{
		{"PDF labelled jpeg", func(s *reports.Submission) { s.Photos = [][]byte{photo(t, "not-an-image.jpg")} }, reports.PhotoUnsupported},
		{"truncated JPEG", func(s *reports.Submission) { s.Photos = [][]byte{photo(t, "truncated.jpg")} }, reports.PhotoNotAnImage},
		{"polyglot", func(s *reports.Submission) { s.Photos = [][]byte{photo(t, "polyglot.jpg")} }, reports.PhotoNotAnImage},
		{"PNG bomb", func(s *reports.Submission) { s.Photos = [][]byte{photo(t, "bomb-20000x20000.png")} }, reports.PhotoTooManyPixels},
		{"HEIC", func(s *reports.Submission) { s.Photos = [][]byte{photo(t, "road.heic")} }, reports.PhotoUnsupported},
		{"11 MB", func(s *reports.Submission) {
			s.Photos = [][]byte{append(append([]byte{}, clean...), make([]byte, 11<<20)...)}
		}, reports.PhotoTooLarge},
		{"no photos", func(s *reports.Submission) { s.Photos = nil }, "validation"},
		{"four photos", func(s *reports.Submission) { s.Photos = [][]byte{clean, clean, clean, clean} }, "validation"},
		{"NaN latitude", func(s *reports.Submission) { s.Lat = &nan }, "validation"},
		{"longitude out of range", func(s *reports.Submission) { s.Lng = &big }, "validation"},
		{"only latitude", func(s *reports.Submission) { s.Lat, s.Lng = lat, nil }, "validation"},
		{"no position, no GPS", func(s *reports.Submission) { s.Lat, s.Lng = nil, nil }, "validation"},
		{"unknown category", func(s *reports.Submission) { s.Category = "ufo" }, "validation"},
		{"10,000-character description", func(s *reports.Submission) { s.Description = strings.Repeat("坑", 10000) }, "validation"},
		{"no key", func(s *reports.Submission) { s.Key = "" }, "validation"},
		{"key with spaces", func(s *reports.Submission) { s.Key = "a b" }, "validation"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := f.submission("bad-"+string(rune('a'+i)), inWest)
			c.edit(&in)
			_, _, err := f.svc.Submit(context.Background(), "rider1", in)
			var ve *reports.ValidationError
			var pe *reports.PhotoError
			switch {
			case c.want == "validation":
				if !errors.As(err, &ve) {
					t.Fatalf("err = %v, want a ValidationError", err)
				}
			default:
				if !errors.As(err, &pe) || pe.Code != c.want {
					t.Fatalf("err = %v, want PhotoError %s", err, c.want)
				}
			}
			if !strings.Contains(err.Error(), " ") || len(err.Error()) < 15 {
				t.Errorf("message %q is not one a person can act on", err)
			}
		})
	}
	if n := f.count("reports"); n != 0 {
		t.Errorf("rejected submissions left %d reports", n)
	}
	if got := f.objects(); len(got) != 0 {
		t.Errorf("rejected submissions left objects %v", got)
	}
	if ev := f.events.list(); len(ev) != 0 {
		t.Errorf("rejected submissions notified: %v", ev)
	}
}

func TestPhotoGPSWhenNoPosition(t *testing.T) {
	f := newFixture(t)
	in := reports.Submission{Key: "gps", Category: "road_damage", Photos: [][]byte{photo(t, "road-gps.jpg")}}
	r := f.mustSubmit("rider1", in)
	if r.LocationSource != "photo" || math.Abs(r.Lat-28.1941) > 1e-4 || math.Abs(r.Lng-112.9823) > 1e-4 {
		t.Errorf("position %v,%v from %s; want the photo's 28.1941,112.9823", r.Lat, r.Lng, r.LocationSource)
	}
	// The stored copy carries no GPS any more.
	rc, _, err := f.svc.OpenPhoto(context.Background(), r, r.Photos[0].Key, false)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	buf := make([]byte, 1<<20)
	n, _ := rc.Read(buf)
	if strings.Contains(string(buf[:n]), "Exif") || strings.Contains(string(buf[:n]), "13800138000") {
		t.Error("stored photo still carries metadata")
	}
}

func TestDuplicates(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	first := f.mustSubmit("rider1", f.submission("a", inWest))
	near := [2]float64{inWest[0] + 20/111320.0, inWest[1]} // 20 m north
	dup := f.mustSubmit("rider2", f.submission("b", near))
	if dup.DuplicateOf != first.ID || dup.DuplicateState != "probable" {
		t.Errorf("20 m away, same category: duplicate_of %q (%s), want %s probable", dup.DuplicateOf, dup.DuplicateState, first.ID)
	}
	other := f.submission("c", near)
	other.Category = "sanitation"
	if r := f.mustSubmit("rider2", other); r.DuplicateOf != "" {
		t.Error("another category linked as a duplicate")
	}
	far := [2]float64{inWest[0] + 100/111320.0, inWest[1]}
	if r := f.mustSubmit("rider2", f.submission("d", far)); r.DuplicateOf != "" {
		t.Error("100 m away linked as a duplicate")
	}
	officer := reports.Actor{ID: "o1", Role: reports.RoleOfficer}
	r, err := f.svc.Act(ctx, officer, dup.ID, reports.ActionInput{Action: reports.ActConfirmDuplicate})
	if err != nil || r.DuplicateState != "confirmed" {
		t.Fatalf("confirm: %v %v", r.DuplicateState, err)
	}
	r, err = f.svc.Act(ctx, officer, dup.ID, reports.ActionInput{Action: reports.ActUnlinkDuplicate})
	if err != nil || r.DuplicateOf != "" || r.DuplicateState != "" {
		t.Errorf("unlink: %q %q %v", r.DuplicateOf, r.DuplicateState, err)
	}
	got, _ := f.svc.Get(ctx, dup.ID)
	if got.DuplicateOf != "" {
		t.Error("unlink was not stored")
	}
	// A rejected report is not an open one to be a duplicate of.
	if _, err := f.svc.Act(ctx, officer, first.ID, reports.ActionInput{Action: reports.ActReject, Reason: "not_a_problem"}); err != nil {
		t.Fatal(err)
	}
	if r := f.mustSubmit("rider3", f.submission("e", near)); r.DuplicateOf == first.ID {
		t.Error("linked to a closed report")
	}
}

func TestLifecycle(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := f.mustSubmit("rider1", f.submission("k", inWest))
	officer := reports.Actor{ID: "o1", Role: reports.RoleOfficer}
	act := func(in reports.ActionInput) (reports.Report, error) { return f.svc.Act(ctx, officer, r.ID, in) }

	_, err := act(reports.ActionInput{Action: reports.ActStart})
	var te *reports.TransitionError
	if !errors.As(err, &te) || len(te.Allowed) == 0 || te.Status != reports.StatusSubmitted {
		t.Fatalf("start before verify: err = %v, want a TransitionError listing what is allowed", err)
	}
	var ve *reports.ValidationError
	if _, err := act(reports.ActionInput{Action: reports.ActVerify}); !errors.As(err, &ve) || ve.Field != "severity" {
		t.Errorf("verify without severity: %v", err)
	}
	if _, err := act(reports.ActionInput{Action: reports.ActReject, Reason: "bored"}); !errors.As(err, &ve) || ve.Field != "reason" {
		t.Errorf("reject with an unknown reason: %v", err)
	}
	steps := []struct {
		in   reports.ActionInput
		want reports.Status
	}{
		{reports.ActionInput{Action: reports.ActAcknowledge}, reports.StatusAcknowledged},
		{reports.ActionInput{Action: reports.ActVerify, Severity: 2, Note: "确认"}, reports.StatusVerified},
		{reports.ActionInput{Action: reports.ActStart}, reports.StatusInProgress},
		{reports.ActionInput{Action: reports.ActResolve, Note: "已修复", AfterPhoto: photo(t, "road.png")}, reports.StatusResolved},
	}
	for _, s := range steps {
		got, err := act(s.in)
		if err != nil || got.Status != s.want {
			t.Fatalf("%s: status %s err %v, want %s", s.in.Action, got.Status, err, s.want)
		}
	}
	got, _ := f.svc.Get(ctx, r.ID)
	if got.Severity != 2 || got.AckedAt.IsZero() || got.DecidedAt.IsZero() || got.ResolvedAt.IsZero() || got.AfterPhoto == nil {
		t.Errorf("stored report = %+v", got.State)
	}
	admin := reports.Actor{ID: "adm", Role: reports.RoleAdmin}
	if got, err := f.svc.Act(ctx, admin, r.ID, reports.ActionInput{Action: reports.ActReopen, Note: "复查"}); err != nil || got.Status != reports.StatusAcknowledged {
		t.Errorf("reopen: %s %v", got.Status, err)
	}
	tl, _ := f.svc.Timeline(ctx, r.ID, 0)
	var actions []string
	for _, e := range tl {
		actions = append(actions, string(e.Action))
	}
	if want := "submit acknowledge verify start resolve reopen"; strings.Join(actions, " ") != want {
		t.Errorf("timeline = %v, want %s", actions, want)
	}
	for i, e := range tl {
		if e.Seq != i+1 {
			t.Errorf("entry %d has seq %d", i, e.Seq)
		}
	}
}

func TestHandover(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := f.mustSubmit("rider1", f.submission("k", inWest))
	officer := reports.Actor{ID: "o1", Role: reports.RoleOfficer}
	var ve *reports.ValidationError
	if _, err := f.svc.Act(ctx, officer, r.ID, reports.ActionInput{Action: reports.ActHandover, Cell: "T-0002"}); !errors.As(err, &ve) {
		t.Errorf("handover without a reason: %v", err)
	}
	if _, err := f.svc.Act(ctx, officer, r.ID, reports.ActionInput{Action: reports.ActHandover, Cell: "NOPE", Note: "x"}); !errors.As(err, &ve) {
		t.Errorf("handover to an unknown cell: %v", err)
	}
	got, err := f.svc.Act(ctx, officer, r.ID, reports.ActionInput{Action: reports.ActHandover, Cell: "T-0002", Note: "在河对面"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Cell != "T-0002" || got.OfficerID != "o3" || got.Status != reports.StatusSubmitted {
		t.Errorf("after handover: cell %s officer %s status %s", got.Cell, got.OfficerID, got.Status)
	}
}

// Ten officers press "acknowledge" at once: one wins, the rest are told the
// report moved on, and the timeline has one acknowledgement.
func TestConcurrentActionsOneWins(t *testing.T) {
	f := newFixture(t)
	r := f.mustSubmit("rider1", f.submission("k", inWest))
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 10 {
		wg.Go(func() {
			_, err := f.svc.Act(context.Background(), reports.Actor{ID: "o1", Role: reports.RoleOfficer}, r.ID, reports.ActionInput{Action: reports.ActAcknowledge})
			var te *reports.TransitionError
			switch {
			case err == nil:
				mu.Lock()
				wins++
				mu.Unlock()
			case errors.As(err, &te), errors.Is(err, reports.ErrConflict):
			default:
				t.Errorf("unexpected error: %v", err)
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d acknowledgements succeeded, want 1", wins)
	}
	tl, _ := f.svc.Timeline(context.Background(), r.ID, 0)
	if len(tl) != 2 {
		t.Errorf("timeline has %d entries, want 2", len(tl))
	}
}

func escalations(t *testing.T, f *fixture, id string) map[reports.Action]int {
	t.Helper()
	tl, err := f.svc.Timeline(context.Background(), id, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[reports.Action]int{}
	for _, e := range tl {
		out[e.Action]++
	}
	return out
}

// Two server instances run the SLA worker at the same moment: each breach is
// escalated exactly once.
func TestEscalationOnceAcrossInstances(t *testing.T) {
	f := newFixture(t)
	r := f.mustSubmit("rider1", f.submission("k", inWest))
	a, b := f.service(), f.service()
	for _, d := range []time.Duration{11 * time.Minute, 25 * time.Hour} {
		now := func() time.Time { return r.CreatedAt.Add(d) }
		reports.SetNow(a, now)
		reports.SetNow(b, now)
		var wg sync.WaitGroup
		for range 3 {
			for _, s := range []*reports.Service{a, b} {
				wg.Go(func() {
					if _, err := s.EscalateDue(context.Background()); err != nil {
						t.Errorf("escalate: %v", err)
					}
				})
			}
		}
		wg.Wait()
	}
	got := escalations(t, f, r.ID)
	if got[reports.ActEscalateAck] != 1 || got[reports.ActEscalateDecision] != 1 {
		t.Errorf("escalations = %v, want one of each", got)
	}
	var backupTold, adminTold int
	for _, e := range f.events.list() {
		switch e.Action {
		case reports.ActEscalateAck:
			backupTold++
			if e.BackupID != "o2" {
				t.Errorf("ack escalation names backup %q, want o2", e.BackupID)
			}
		case reports.ActEscalateDecision:
			adminTold++
		}
	}
	if backupTold != 1 || adminTold != 1 {
		t.Errorf("escalation events: ack %d, decide %d; want 1 each", backupTold, adminTold)
	}
	list, err := f.svc.Escalated(context.Background(), 10)
	if err != nil || len(list) != 1 || list[0].ID != r.ID {
		t.Errorf("escalation list = %v, %v", list, err)
	}
}

// A server restarts in the middle of an SLA window: the instance that comes
// up after the deadline still escalates, once.
func TestEscalationSurvivesRestart(t *testing.T) {
	f := newFixture(t)
	r := f.mustSubmit("rider1", f.submission("k", inWest))
	// The first instance stops before the deadline, having escalated nothing.
	reports.SetNow(f.svc, func() time.Time { return r.CreatedAt.Add(5 * time.Minute) })
	if n, err := f.svc.EscalateDue(context.Background()); err != nil || n != 0 {
		t.Fatalf("before the deadline: escalated %d, %v", n, err)
	}
	restarted := f.service()
	reports.SetNow(restarted, func() time.Time { return r.CreatedAt.Add(15 * time.Minute) })
	for range 2 {
		if _, err := restarted.EscalateDue(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if got := escalations(t, f, r.ID)[reports.ActEscalateAck]; got != 1 {
		t.Errorf("acknowledge escalations after restart = %d, want 1", got)
	}
	// An acknowledged report is not escalated for acknowledgement.
	r2 := f.mustSubmit("rider1", f.submission("k2", inWest))
	if _, err := f.svc.Act(context.Background(), reports.Actor{ID: "o1", Role: reports.RoleOfficer}, r2.ID, reports.ActionInput{Action: reports.ActAcknowledge}); err != nil {
		t.Fatal(err)
	}
	reports.SetNow(restarted, func() time.Time { return r2.CreatedAt.Add(15 * time.Minute) })
	if _, err := restarted.EscalateDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := escalations(t, f, r2.ID)[reports.ActEscalateAck]; got != 0 {
		t.Errorf("acknowledged report escalated %d times", got)
	}
}

func TestObjectStoreDown(t *testing.T) {
	s3, err := storage.StartEmbeddedS3(t.TempDir(), storagetest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := storage.OpenBlobs(context.Background(), storage.BlobConfig{Endpoint: s3.Endpoint, AccessKey: s3.AccessKey, SecretKey: s3.SecretKey, Bucket: "down-test"})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixtureOn(t, storagetest.Docs(t), blobs)
	s3.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _, err = f.svc.Submit(ctx, "rider1", f.submission("k", inWest))
	if !errors.Is(err, reports.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if n := f.count("reports"); n != 0 {
		t.Errorf("%d reports stored without photos", n)
	}
	if ev := f.events.list(); len(ev) != 0 {
		t.Errorf("notified about a report that does not exist: %v", ev)
	}
}

// failingFixture is a fixture on a document store of its own, which stop
// shuts down mid-test, as a store failing under the service.
func failingFixture(t *testing.T) (*fixture, func()) {
	t.Helper()
	uri, stop, err := storage.StartEmbeddedMongo(t.TempDir(), storagetest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetTimeout(3 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	f := newFixtureOn(t, client.Database("failing"), storagetest.Blobs(t))
	return f, stop
}

func TestDocumentStoreFailsAfterPhotos(t *testing.T) {
	f, stop := failingFixture(t)
	var once sync.Once
	reports.SetAfterPhotos(f.svc, func() { once.Do(stop) })
	_, _, err := f.svc.Submit(context.Background(), "rider1", f.submission("k", inWest))
	if !errors.Is(err, reports.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if got := f.objects(); len(got) != 0 {
		t.Errorf("photos left behind: %v", got)
	}
}

func TestEventsRedelivered(t *testing.T) {
	f := newFixture(t)
	f.events.fail = true
	r := f.mustSubmit("rider1", f.submission("k", inWest))
	f.events.mu.Lock()
	f.events.fail = false
	f.events.mu.Unlock()
	later := f.service()
	reports.SetNow(later, func() time.Time { return time.Now().UTC().Add(time.Minute) })
	for range 2 {
		if err := later.Repair(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	ev := f.events.list()
	if len(ev) != 1 || ev[0].ReportID != r.ID || ev[0].Action != reports.ActSubmit {
		t.Errorf("events after redelivery = %+v, want the submission once", ev)
	}
}

// A submission's writer is slow to publish it (stopped after its entry)
// while an officer on another instance acknowledges the report: the
// writer's late first copy of the open report does not replace the
// officer's newer one.
func TestOpenSetFirstCopyLate(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	writer := f.service()
	atEntry, release := make(chan struct{}), make(chan struct{})
	reports.SetStopAt(writer, func(point string) {
		if point == "entry" {
			close(atEntry)
			<-release
		}
	})
	done := make(chan error, 1)
	go func() {
		_, _, err := writer.Submit(ctx, "rider1", f.submission("k", inWest))
		done <- err
	}()
	<-atEntry
	id := reports.ReportID("rider1", "k")
	officer := reports.Actor{ID: "o1", Role: reports.RoleOfficer}
	if _, err := f.svc.Act(ctx, officer, id, reports.ActionInput{Action: reports.ActAcknowledge}); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	writer.Wait()
	var open reports.Report
	if err := f.db.Collection("open_reports").FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&open); err != nil {
		t.Fatal(err)
	}
	if open.Status != reports.StatusAcknowledged || open.Seq != 2 {
		t.Errorf("open copy = %s seq %d, want the officer's acknowledged seq 2", open.Status, open.Seq)
	}
}

// The open set holds open reports only, and the sweeper mends a stale copy.
func TestOpenSet(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := f.mustSubmit("rider1", f.submission("k", inWest))
	if n := f.count("open_reports"); n != 1 {
		t.Fatalf("open set has %d reports after a submission, want 1", n)
	}
	officer := reports.Actor{ID: "o1", Role: reports.RoleOfficer}
	if _, err := f.svc.Act(ctx, officer, r.ID, reports.ActionInput{Action: reports.ActReject, Reason: "not_a_problem"}); err != nil {
		t.Fatal(err)
	}
	if n := f.count("open_reports"); n != 0 {
		t.Errorf("open set has %d reports after the only one was rejected", n)
	}
	q, err := f.svc.ListQueue(ctx, reports.Scope{All: true}, reports.QueueFilter{})
	if err != nil || len(q.Reports) != 0 {
		t.Errorf("queue of open reports = %d, %v", len(q.Reports), err)
	}
	q, err = f.svc.ListQueue(ctx, reports.Scope{All: true}, reports.QueueFilter{Status: reports.StatusRejected})
	if err != nil || len(q.Reports) != 1 {
		t.Errorf("rejected reports = %d, %v; want the one", len(q.Reports), err)
	}
	// A copy written late, by an update that lost a race: the sweeper removes it.
	stale := r
	if _, err := f.db.Collection("open_reports").InsertOne(ctx, stale); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.SweepOpen(ctx); err != nil {
		t.Fatal(err)
	}
	if n := f.count("open_reports"); n != 0 {
		t.Errorf("sweeper left %d stale open reports", n)
	}
}

func TestMine(t *testing.T) {
	f := newFixture(t)
	a := f.mustSubmit("rider1", f.submission("k1", inWest))
	f.mustSubmit("rider2", f.submission("k1", inWest))
	b := f.mustSubmit("rider1", f.submission("k2", inWest))
	f.mustSubmit("rider1", f.submission("k2", inWest)) // a retry lists nothing new
	mine, err := f.svc.Mine(context.Background(), "rider1")
	if err != nil {
		t.Fatal(err)
	}
	if len(mine) != 2 || mine[0].ID != b.ID || mine[1].ID != a.ID {
		t.Errorf("rider1's reports = %v, want [%s %s], newest first", ids(mine), b.ID, a.ID)
	}
	if none, _ := f.svc.Mine(context.Background(), "nobody"); len(none) != 0 {
		t.Errorf("a rider without reports has %d", len(none))
	}
}

func ids(rs []reports.Report) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}
