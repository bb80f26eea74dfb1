package council

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nuanxin/nuanxin/council/vote"
	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/storage"
	"github.com/nuanxin/nuanxin/storage/storagetest"
)

// notices records what the hub tells members.
type notices struct {
	mu  sync.Mutex
	got map[string]Notice
}

func (n *notices) Notify(_ context.Context, x Notice) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.got == nil {
		n.got = map[string]Notice{}
	}
	n.got[x.ID] = x
	return nil
}

type hubFixture struct {
	hub     *Hub
	ledger  *ledger
	told    *notices
	clock   atomic.Int64 // unix nanoseconds; 0: the real time
	a, b    Station
	blobs   *storage.Blobs
	indexed func(coll string) int64
}

func (f *hubFixture) now() time.Time {
	if n := f.clock.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Now()
}

func newHub(t *testing.T) *hubFixture {
	t.Helper()
	ctx := context.Background()
	db := storagetest.Docs(t)
	var ix []storage.Index
	for _, l := range [][]storage.Index{Indexes(), MemberIndexes(), FeedbackIndexes(), HubIndexes(), policy.Indexes()} {
		ix = append(ix, l...)
	}
	if err := storage.EnsureIndexes(ctx, db, ix); err != nil {
		t.Fatal(err)
	}
	en, err := policy.NewEnforcer(ctx, db, storagetest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	stations := NewService(db, en, func(context.Context, string) (bool, error) { return true, nil }, storagetest.Logger())
	f := &hubFixture{told: &notices{}, blobs: storagetest.Blobs(t)}
	members := NewMembers(db, stations, accountNames{}, storagetest.Logger())
	pool, l := newPool(t, db, members)
	f.ledger = l
	votes := vote.NewService(db, storagetest.Logger())
	votes.SetClock(f.now)
	f.hub = NewHub(HubDeps{DB: db, Blobs: f.blobs, Stations: stations, Members: members, Feedback: pool, Votes: votes,
		Names: accountNames{}, Notify: f.told, Log: storagetest.Logger()})
	f.a, err = stations.Create(ctx, NewStation{Name: "甲驿站", Lat: 28.19, Lng: 112.97})
	if err != nil {
		t.Fatal(err)
	}
	f.b, err = stations.Create(ctx, NewStation{Name: "乙驿站", Lat: 28.2, Lng: 112.98})
	if err != nil {
		t.Fatal(err)
	}
	f.indexed = func(coll string) int64 { return count(t, db.Collection(coll)) }
	return f
}

func (f *hubFixture) join(t *testing.T, station, rider string) {
	t.Helper()
	if _, err := f.hub.Members.Join(context.Background(), station, rider); err != nil {
		t.Fatalf("join %s: %v", rider, err)
	}
}

func draft(station string, opens, closes time.Time) vote.Draft {
	return vote.Draft{StationID: station, Title: "饮水机换新", Kind: vote.YesNoAbstain, Opens: opens, Closes: closes,
		QuorumPct: 10, CreatedBy: "sa1"}
}

// TestCheckInOncePerDay: riders scanning the poster at once, each several
// times, count once each, and the day's figure is the number of riders.
func TestCheckInOncePerDay(t *testing.T) {
	ctx := context.Background()
	f := newHub(t)
	const riders, scans = 20, 3
	var firsts atomic.Int32
	var wg sync.WaitGroup
	for r := range riders {
		for range scans {
			wg.Go(func() {
				v, err := f.hub.Visits.CheckIn(ctx, f.a.ID, fmt.Sprintf("rider%02d", r))
				if err != nil {
					t.Error(err)
					return
				}
				if v.First {
					firsts.Add(1)
				}
			})
		}
	}
	wg.Wait()
	if got := firsts.Load(); got != riders {
		t.Errorf("%d first check-ins, want one per rider: %d", got, riders)
	}
	v, err := f.hub.Visits.CheckIn(ctx, f.a.ID, "rider00")
	if err != nil || v.First || v.Visitors != riders || v.Day != VisitDay(time.Now()) {
		t.Errorf("a repeat check-in = %+v, %v; want not first, %d visitors today", v, err, riders)
	}
	figs, err := f.hub.Visits.Figures(ctx, f.a.ID, 7)
	if err != nil || len(figs) != 7 || figs[6].Visitors != riders || figs[0].Visitors != 0 {
		t.Errorf("figures = %+v, %v; want 7 days ending with %d visitors today", figs, err, riders)
	}
	if figs, err := f.hub.Visits.Figures(ctx, f.b.ID, 1); err != nil || figs[0].Visitors != 0 {
		t.Errorf("the other station's figures = %+v, %v; want 0", figs, err)
	}
	if _, err := f.hub.Visits.CheckIn(ctx, bson.NewObjectID().Hex(), "rider01"); !errors.Is(err, ErrNotFound) {
		t.Errorf("check-in at an unknown station: %v, want ErrNotFound", err)
	}
	for _, days := range []int{0, 91} {
		var ve *ValidationError
		if _, err := f.hub.Visits.Figures(ctx, f.a.ID, days); !errors.As(err, &ve) {
			t.Errorf("figures for %d days: %v, want a *ValidationError", days, err)
		}
	}
}

// TestProposalFromItem: several admins adopting one item into a proposal
// at once make one proposal (an admin whose put overlapped the first one's
// may be answered with that proposal: it finished the same put); the item
// is adopted and its author paid once.
func TestProposalFromItem(t *testing.T) {
	ctx := context.Background()
	f := newHub(t)
	f.join(t, f.a.ID, "author")
	it, err := f.hub.Feedback.Post(ctx, NewItem{Station: f.a.ID, Author: "author", Category: CategoryFacilities, Text: "饮水机坏了"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()

	// Refused, and nothing written: a bad draft, an item of another station.
	bad := draft(f.a.ID, now, now.Add(-time.Hour))
	var fe *vote.FieldError
	if _, err := f.hub.Proposals.Put(ctx, bad, it.ID); !errors.As(err, &fe) || fe.Field != "closes" {
		t.Errorf("a window closing before it opens: %v, want a FieldError on closes", err)
	}
	if _, err := f.hub.Proposals.Put(ctx, draft(f.b.ID, now, now.Add(time.Hour)), it.ID); !errors.Is(err, ErrFeedbackNotFound) {
		t.Errorf("another station's item: %v, want ErrFeedbackNotFound", err)
	}
	if n := f.indexed(proposalIndexCollection) + f.indexed(itemProposalCollection); n != 0 {
		t.Errorf("%d documents written by refused puts", n)
	}

	const admins = 6
	ids := make(chan string, admins)
	var wg sync.WaitGroup
	for range admins {
		wg.Go(func() {
			p, err := f.hub.Proposals.Put(ctx, draft(f.a.ID, now, now.Add(time.Hour)), it.ID)
			switch {
			case err == nil:
				ids <- p.ID
			case errors.Is(err, ErrItemHasProposal):
			default:
				t.Errorf("put: %v", err)
			}
		})
	}
	wg.Wait()
	close(ids)
	distinct := map[string]bool{}
	for id := range ids {
		distinct[id] = true
	}
	if len(distinct) != 1 {
		t.Fatalf("%d proposals made from one item, want 1", len(distinct))
	}
	var pid string
	for id := range distinct {
		pid = id
	}
	list, err := f.hub.Proposals.List(ctx, f.a.ID)
	if err != nil || len(list) != 1 || list[0].ID != pid || list[0].State != vote.StateDraft {
		t.Errorf("station's proposals = %+v, %v; want the one draft", list, err)
	}
	if got, ok, err := f.hub.Proposals.ForItem(ctx, it.ID); err != nil || !ok || got != pid {
		t.Errorf("ForItem = %q %v %v, want %s", got, ok, err, pid)
	}
	if got, err := f.hub.Proposals.ItemOf(ctx, pid); err != nil || got != it.ID {
		t.Errorf("ItemOf = %q %v, want %s", got, err, it.ID)
	}
	got, err := f.hub.Feedback.Get(ctx, it.ID)
	if err != nil || got.Status != StatusAdopted {
		t.Errorf("item after adoption = %+v, %v; want adopted", got, err)
	}
	if len(f.ledger.grants) != 1 || f.ledger.grants[AwardKey(it.ID)] != "author:50" {
		t.Errorf("awards = %v, want one of 50 to the author", f.ledger.grants)
	}
	if other, err := f.hub.Proposals.List(ctx, f.b.ID); err != nil || len(other) != 0 {
		t.Errorf("the other station lists %+v, %v", other, err)
	}

	// A decided item cannot become a proposal.
	it2, _ := f.hub.Feedback.Post(ctx, NewItem{Station: f.a.ID, Author: "author", Category: CategoryOther, Text: "已答复的"})
	for _, to := range []FeedbackStatus{StatusUnderReview, StatusAnswered} {
		if _, err := f.hub.Feedback.Transition(ctx, it2.ID, to, "sa1", "已经修好"); err != nil {
			t.Fatal(err)
		}
	}
	var te *FeedbackTransitionError
	if _, err := f.hub.Proposals.Put(ctx, draft(f.a.ID, now, now.Add(time.Hour)), it2.ID); !errors.As(err, &te) {
		t.Errorf("a proposal from an answered item: %v, want a transition error", err)
	}
}

// TestOpenFreezesRollAndOutcomes: the roll is the members when voting
// opens; outcomes come after close, the decision first, nothing after
// done, once each, even when admins record at the same moment.
func TestOpenFreezesRollAndOutcomes(t *testing.T) {
	ctx := context.Background()
	f := newHub(t)
	f.join(t, f.a.ID, "m1")
	f.join(t, f.a.ID, "m2")
	start := time.Now()
	p, err := f.hub.Proposals.Put(ctx, draft(f.a.ID, start, start.Add(time.Hour)), "")
	if err != nil {
		t.Fatal(err)
	}
	if p, err = f.hub.Proposals.Open(ctx, p.ID); err != nil || p.RollSize != 2 {
		t.Fatalf("open = %+v, %v; want a roll of 2", p, err)
	}
	f.join(t, f.a.ID, "late")
	if _, err := f.hub.Votes.Cast(ctx, p.ID, "late", []string{vote.Yes}); !errors.Is(err, vote.ErrNotOnRoll) {
		t.Errorf("a member who joined after opening voted: %v", err)
	}
	if _, err := f.hub.Votes.Cast(ctx, p.ID, "m1", []string{vote.Yes}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.hub.Proposals.Record(ctx, p.ID, "sa1", OutcomeDecision, "换新"); !errors.Is(err, vote.ErrNotClosed) {
		t.Errorf("an outcome before close: %v, want ErrNotClosed", err)
	}

	f.clock.Store(p.Closes.Add(f.hub.Votes.Settle()).UnixNano())
	var ve *ValidationError
	if _, err := f.hub.Proposals.Record(ctx, p.ID, "sa1", OutcomeProgress, "进行中"); !errors.As(err, &ve) {
		t.Errorf("progress before the decision: %v, want a *ValidationError", err)
	}
	if _, err := f.hub.Proposals.Record(ctx, p.ID, "sa1", OutcomeDecision, ""); !errors.As(err, &ve) {
		t.Errorf("an empty decision: %v, want a *ValidationError", err)
	}
	d, err := f.hub.Proposals.Record(ctx, p.ID, "sa1", OutcomeDecision, "下周换新饮水机")
	if err != nil || d.N != 1 {
		t.Fatalf("decision = %+v, %v", d, err)
	}
	if again, err := f.hub.Proposals.Record(ctx, p.ID, "sa1", OutcomeDecision, "下周换新饮水机"); err != nil || again.N != 1 {
		t.Errorf("the same decision again = %+v, %v; want the first", again, err)
	}
	// Admins finishing at once: one "done" wins, the rest are refused.
	var done atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			_, err := f.hub.Proposals.Record(ctx, p.ID, "sa1", OutcomeDone, fmt.Sprintf("已换新 %d", i))
			if err == nil {
				done.Add(1)
			} else if !errors.As(err, new(*ValidationError)) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	os, err := f.hub.Proposals.Outcomes(ctx, p.ID)
	if err != nil || done.Load() != 1 || len(os) != 2 || os[1].Kind != OutcomeDone {
		t.Errorf("outcomes = %+v (%d done recorded), %v; want decision then one done", os, done.Load(), err)
	}
	if _, err := f.hub.Proposals.Record(ctx, p.ID, "sa1", OutcomeProgress, "还有"); !errors.As(err, &ve) {
		t.Errorf("progress after done: %v, want a *ValidationError", err)
	}
	f.told.mu.Lock()
	defer f.told.mu.Unlock()
	if len(f.told.got) != 2 {
		t.Errorf("%d outcome notices, want 2 (decision, done)", len(f.told.got))
	}
	for _, n := range f.told.got {
		if len(n.Users) != 3 {
			t.Errorf("notice %s told %v, want the station's 3 members", n.ID, n.Users)
		}
	}
}

func smallJPEG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for x := range 64 {
		img.Set(x, x%48, color.RGBA{200, 80, 20, 255})
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestFeedbackPhotos: a photo that is not an image, or a post that is
// refused, leaves neither an item nor a photo behind.
func TestFeedbackPhotos(t *testing.T) {
	ctx := context.Background()
	f := newHub(t)
	f.join(t, f.a.ID, "m1")
	in := NewItem{Station: f.a.ID, Author: "m1", Category: CategorySafety, Text: "路口没有灯"}
	var ve *ValidationError
	if _, err := f.hub.PostFeedback(ctx, in, []byte("this is text, not a photo")); !errors.As(err, &ve) || ve.Field != "photo" {
		t.Errorf("a text file as the photo: %v, want a *ValidationError on photo", err)
	}
	out := in
	out.Author = "stranger"
	if _, err := f.hub.PostFeedback(ctx, out, smallJPEG(t)); !errors.Is(err, ErrNotMember) {
		t.Errorf("a non-member's post: %v, want ErrNotMember", err)
	}
	long := in
	long.Text = string(bytes.Repeat([]byte("长"), MaxFeedbackText+1))
	if _, err := f.hub.PostFeedback(ctx, long, smallJPEG(t)); !errors.As(err, &ve) || ve.Field != "text" {
		t.Errorf("a too long item: %v, want a *ValidationError on text", err)
	}
	if keys, err := f.blobs.List(ctx, photoPrefix); err != nil || len(keys) != 0 {
		t.Errorf("photos stored by refused posts: %v, %v", keys, err)
	}
	if items, _, err := f.hub.Feedback.List(ctx, f.a.ID, 0, 10); err != nil || len(items) != 0 {
		t.Errorf("items stored by refused posts: %+v, %v", items, err)
	}

	it, err := f.hub.PostFeedback(ctx, in, smallJPEG(t))
	if err != nil || it.PhotoKey == "" {
		t.Fatalf("post with a photo = %+v, %v", it, err)
	}
	rc, ctype, err := f.hub.Photos.Open(ctx, it.PhotoKey)
	if err != nil || ctype != "image/jpeg" {
		t.Fatalf("open photo: %q, %v", ctype, err)
	}
	body, _ := io.ReadAll(rc)
	rc.Close()
	if _, _, err := image.Decode(bytes.NewReader(body)); err != nil {
		t.Errorf("the stored photo does not decode: %v", err)
	}
	if _, _, err := f.hub.Photos.Open(ctx, "reports/"+it.ID+".jpg"); !errors.Is(err, ErrPhotoNotFound) {
		t.Errorf("a key outside the council's photos: %v, want ErrPhotoNotFound", err)
	}

	st, err := f.hub.AddStationPhoto(ctx, f.a.ID, smallJPEG(t))
	if err != nil || len(st.Photos) != 1 {
		t.Fatalf("add a station photo = %v, %v", st.Photos, err)
	}
	if _, err := f.hub.AddStationPhoto(ctx, f.a.ID, []byte("GIF89a not really")); !errors.As(err, &ve) {
		t.Errorf("a station photo that is not an image: %v", err)
	}
	if st, err = f.hub.RemoveStationPhoto(ctx, f.a.ID, st.Photos[0]); err != nil || len(st.Photos) != 0 {
		t.Errorf("remove = %v, %v", st.Photos, err)
	}
	if keys, _ := f.blobs.List(ctx, photoPrefix); len(keys) != 1 {
		t.Errorf("photos stored = %v, want only the item's", keys)
	}
}
