package council

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nuanxin/nuanxin/storage"
	"github.com/nuanxin/nuanxin/storage/storagetest"
)

// knownStations answers Get like Service.Get for a fixed set of stations,
// so these tests stand on their own types while stations are being edited.
type knownStations map[string]bool

func (k knownStations) Get(_ context.Context, id string) (Station, error) {
	if !k[id] {
		return Station{}, ErrNotFound
	}
	return Station{ID: id}, nil
}

// accountNames stands in for the accounts: each rider has a phone number
// and a display name, and only the name may reach a roster.
type accountNames struct{ phones, names map[string]string }

func (a accountNames) DisplayName(_ context.Context, id string) (string, error) {
	return a.names[id], nil
}

var testStations = knownStations{"stA": true, "stB": true, "stC": true}

func mustMembersDB(t *testing.T) *mongo.Database {
	t.Helper()
	db := storagetest.Docs(t)
	if err := storage.EnsureIndexes(context.Background(), db, append(MemberIndexes(), FeedbackIndexes()...)); err != nil {
		t.Fatal(err)
	}
	return db
}

func newMembers(db *mongo.Database) *Members {
	return NewMembers(db, testStations, accountNames{}, storagetest.Logger())
}

func mustJoin(t *testing.T, m *Members, station, rider string) {
	t.Helper()
	if _, err := m.Join(context.Background(), station, rider); err != nil {
		t.Fatalf("join %s to %s: %v", rider, station, err)
	}
}

func mustMembers(t *testing.T, m *Members, station string) []string {
	t.Helper()
	got, err := m.Members(context.Background(), station)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestJoinChangeLeave(t *testing.T) {
	ctx := context.Background()
	m := newMembers(mustMembersDB(t))
	if _, err := m.Join(ctx, "nope", "r1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("join unknown station: err = %v, want ErrNotFound", err)
	}
	mustJoin(t, m, "stA", "r1")
	mustJoin(t, m, "stA", "r1") // again: no change
	mustJoin(t, m, "stA", "r2")
	if h, _ := m.Home(ctx, "r1"); h.Seq != 1 || h.Station != "stA" {
		t.Errorf("home after joining twice = %+v, want seq 1 at stA", h)
	}
	if got, want := mustMembers(t, m, "stA"), []string{"r1", "r2"}; !slices.Equal(got, want) {
		t.Errorf("members of A = %v, want %v", got, want)
	}
	mustJoin(t, m, "stB", "r1") // changing home leaves A
	for _, c := range []struct {
		station string
		want    bool
	}{{"stA", false}, {"stB", true}} {
		if ok, err := m.IsMember(ctx, c.station, "r1"); err != nil || ok != c.want {
			t.Errorf("IsMember(%s, r1) = %v, %v; want %v", c.station, ok, err, c.want)
		}
	}
	if got, want := mustMembers(t, m, "stA"), []string{"r2"}; !slices.Equal(got, want) {
		t.Errorf("members of A after r1 moved = %v, want %v", got, want)
	}
	if got, want := mustMembers(t, m, "stB"), []string{"r1"}; !slices.Equal(got, want) {
		t.Errorf("members of B = %v, want %v", got, want)
	}
	if err := m.Leave(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	if err := m.Leave(ctx, "r1"); !errors.Is(err, ErrNotMember) {
		t.Errorf("leave without a home: err = %v, want ErrNotMember", err)
	}
	if got := mustMembers(t, m, "stB"); len(got) != 0 {
		t.Errorf("members of B after leaving = %v, want none", got)
	}
	// Another instance folds the same rosters from the store.
	other := newMembers(m.chain.Database())
	if got, want := mustMembers(t, other, "stA"), []string{"r2"}; !slices.Equal(got, want) {
		t.Errorf("a fresh instance sees A = %v, want %v", got, want)
	}
}

// Two instances (their own locks and memory, one store) let each rider join
// A and B and C at once, several times: every rider ends with exactly one
// home, and exactly that station's roster lists them.
func TestJoinRaceEndsInOneHome(t *testing.T) {
	ctx := context.Background()
	db := mustMembersDB(t)
	inst := []*Members{newMembers(db), newMembers(db)}
	const riders = 8
	var wg sync.WaitGroup
	errs := make(chan error, riders*6)
	for r := range riders {
		rider := fmt.Sprintf("rider%d", r)
		for i := range 6 {
			wg.Go(func() {
				station := []string{"stA", "stB", "stC"}[i%3]
				if _, err := inst[i%2].Join(ctx, station, rider); err != nil {
					errs <- err
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("join: %v", err)
	}
	fresh := newMembers(db)
	rosters := map[string][]string{}
	for _, st := range []string{"stA", "stB", "stC"} {
		rosters[st] = mustMembers(t, fresh, st)
	}
	for r := range riders {
		rider := fmt.Sprintf("rider%d", r)
		h, err := fresh.Home(ctx, rider)
		if err != nil || h.Station == "" {
			t.Fatalf("home of %s = %+v, %v", rider, h, err)
		}
		var in []string
		for st, ids := range rosters {
			if slices.Contains(ids, rider) {
				in = append(in, st)
			}
		}
		if len(in) != 1 || in[0] != h.Station {
			t.Errorf("%s: home %s, listed on the rosters of %v; want exactly [%s]", rider, h.Station, in, h.Station)
		}
	}
}

func TestRemoveWithReason(t *testing.T) {
	ctx := context.Background()
	m := newMembers(mustMembersDB(t))
	mustJoin(t, m, "stA", "r1")
	var ve *ValidationError
	if err := m.Remove(ctx, "stA", "r1", "admin1", "  "); !errors.As(err, &ve) || ve.Field != "reason" {
		t.Errorf("remove without a reason: err = %v, want a ValidationError on reason", err)
	}
	if err := m.Remove(ctx, "stB", "r1", "admin1", "spam"); !errors.Is(err, ErrNotMember) {
		t.Errorf("remove from another station: err = %v, want ErrNotMember", err)
	}
	if ok, _ := m.IsMember(ctx, "stA", "r1"); !ok {
		t.Fatal("refused removals removed the member")
	}
	if err := m.Remove(ctx, "stA", "r1", "admin1", "posted advertising"); err != nil {
		t.Fatal(err)
	}
	h, err := m.Home(ctx, "r1")
	if err != nil || h.Station != "" || h.Kind != KindRemoved || h.Reason != "posted advertising" || h.By != "admin1" || h.From != "stA" {
		t.Errorf("home after removal = %+v, %v; want removed from stA by admin1 with the reason", h, err)
	}
	if got := mustMembers(t, m, "stA"); len(got) != 0 {
		t.Errorf("members after removal = %v, want none", got)
	}
	// The station's roster log records the removal and its reason.
	var e rosterEntry
	if err := m.roster.FindOne(ctx, bson.D{{Key: "_id", Value: "stA/2"}}).Decode(&e); err != nil {
		t.Fatal(err)
	}
	if e.Present || e.Kind != KindRemoved || e.Reason != "posted advertising" || e.By != "admin1" {
		t.Errorf("roster entry = %+v, want the removal with its reason", e)
	}
}

func TestRosterShowsNamesNotPhones(t *testing.T) {
	ctx := context.Background()
	acc := accountNames{phones: map[string]string{"r1": "13800138001", "r2": "13900139002"}, names: map[string]string{"r1": "小李", "r2": "王师傅"}}
	m := NewMembers(mustMembersDB(t), testStations, acc, storagetest.Logger())
	mustJoin(t, m, "stA", "r1")
	mustJoin(t, m, "stA", "r2")
	got, err := m.Roster(ctx, "stA")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].RiderID != "r1" || got[0].Name != "小李" || got[1].Name != "王师傅" || got[0].Since.IsZero() {
		t.Errorf("roster = %+v, want 小李 then 王师傅 with their join times", got)
	}
	js, _ := json.Marshal(got)
	for _, phone := range acc.phones {
		if strings.Contains(string(js), phone) {
			t.Errorf("roster %s shows the phone number %s", js, phone)
		}
	}
}

// A writer that stopped after its chain entry and before the roster: the
// next change of the rider, or RepairRoster, writes what is missing.
func TestRosterRepair(t *testing.T) {
	ctx := context.Background()
	db := mustMembersDB(t)
	m := newMembers(db)
	stopped := func(rider string) {
		at := time.Now().UTC().Add(-2 * time.Minute).Truncate(time.Millisecond)
		e := Membership{ID: rider + "/1", Rider: rider, Seq: 1, Station: "stA", Kind: KindJoin, By: rider, At: at}
		if _, err := m.chain.InsertOne(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	stopped("r1")
	stopped("r2")
	if ok, _ := m.IsMember(ctx, "stA", "r1"); !ok {
		t.Fatal("the chain is the truth: r1 should be a member")
	}
	if got := mustMembers(t, m, "stA"); len(got) != 0 {
		t.Fatalf("roster before repair = %v, want the stopped writers missing", got)
	}
	mustJoin(t, m, "stB", "r1") // writes r1's join to A first, then the move
	if got := mustMembers(t, m, "stB"); !slices.Equal(got, []string{"r1"}) {
		t.Errorf("members of B = %v, want [r1]", got)
	}
	n, err := m.RepairRoster(ctx)
	if err != nil || n != 1 {
		t.Errorf("RepairRoster = %d, %v; want 1 (r2)", n, err)
	}
	if got := mustMembers(t, m, "stA"); !slices.Equal(got, []string{"r2"}) {
		t.Errorf("members of A after repair = %v, want [r2]", got)
	}
	if n, err := m.RepairRoster(ctx); err != nil || n != 0 {
		t.Errorf("second RepairRoster = %d, %v; want 0", n, err)
	}
	if c, _ := m.roster.CountDocuments(ctx, bson.D{}); c != 4 {
		t.Errorf("roster entries = %d, want 4 (r1 join A, leave A, join B; r2 join A)", c)
	}
}

func TestChainHead(t *testing.T) {
	ctx := context.Background()
	db := mustMembersDB(t)
	coll := db.Collection("chain_test")
	for n := 1; n <= 37; n++ {
		if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: storage.ChainID("p", n)}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, hint := range []int{0, 1, 20, 37, 50} {
		if got, err := storage.ChainHead(ctx, coll, "p", hint); err != nil || got != 37 {
			t.Errorf("chainHead from hint %d = %d, %v; want 37", hint, got, err)
		}
	}
	if got, _ := storage.ChainHead(ctx, coll, "q", 0); got != 0 {
		t.Errorf("empty chain head = %d, want 0", got)
	}
}
