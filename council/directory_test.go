package council

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nuanxin/nuanxin/coords"
	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/storage"
	"github.com/nuanxin/nuanxin/storage/storagetest"
)

// mustServiceOn builds a service (one "instance") on db and loads its directory.
func mustServiceOn(t testing.TB, db *mongo.Database) *Service {
	t.Helper()
	ctx := context.Background()
	if err := storage.EnsureIndexes(ctx, db, append(Indexes(), policy.Indexes()...)); err != nil {
		t.Fatal(err)
	}
	en, err := policy.NewEnforcer(ctx, db, storagetest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	s := NewService(db, en, func(context.Context, string) (bool, error) { return false, nil }, storagetest.Logger())
	if err := s.Load(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

func mustCreate(t testing.TB, s *Service, in NewStation) Station {
	t.Helper()
	st, err := s.Create(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// cst builds a time in Asia/Shanghai; the tests pass it on in UTC so that
// OpenAt has to do the conversion itself.
func cst(day, hour, minute int) time.Time {
	// 2026-03-02 is a Monday.
	return time.Date(2026, 3, 2+day, hour, minute, 0, 0, Shanghai).UTC()
}

func TestParseHours(t *testing.T) {
	good := []struct{ in, want string }{
		{"", ""},
		{"08:00-22:00", "08:00-22:00"},
		{" 8:00 - 22:00 ", "08:00-22:00"},
		{"24h", "24h"},
		{"24H", "24h"},
		{"00:00-24:00", "24h"},
		{"07:00-11:00,17:00-23:30", "07:00-11:00,17:00-23:30"},
		{"20:00-02:00", "20:00-02:00"},
		{"18:00-24:00", "18:00-24:00"},
		{"22:00-00:00", "22:00-24:00"},
	}
	for _, c := range good {
		t.Run("good "+c.in, func(t *testing.T) {
			h, err := ParseHours(Hours{Wed: c.in})
			if err != nil {
				t.Fatalf("ParseHours(%q): %v", c.in, err)
			}
			if h.Wed != c.want {
				t.Errorf("ParseHours(%q) = %q, want %q", c.in, h.Wed, c.want)
			}
		})
	}
	bad := []struct{ in, says string }{
		{"8-22", "not a time"},
		{"08:00", "not a range of times"},
		{"08:00-25:00", "not a time of day"},
		{"24:00-08:00", "not a time of day"},
		{"08:60-22:00", "not a time of day"},
		{"0800-2200", "not a time"},
		{"08:00-08:00", "same time"},
		{"always", "not a range of times"},
		{"08:00-12:00,11:00-14:00", "overlap"},
		{"01:00-02:00,03:00-04:00,05:00-06:00,07:00-08:00,09:00-10:00", "at most 4"},
		{"08:00-22:00;", "not a time"},
	}
	for _, c := range bad {
		t.Run("bad "+c.in, func(t *testing.T) {
			_, err := ParseHours(Hours{Fri: c.in})
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != "hours.fri" {
				t.Fatalf("ParseHours(%q): err = %v, want a ValidationError on hours.fri", c.in, err)
			}
			if !strings.Contains(ve.Reason, c.says) {
				t.Errorf("ParseHours(%q) says %q, want it to say %q", c.in, ve.Reason, c.says)
			}
		})
	}
}

func TestOpenAtBoundaries(t *testing.T) {
	h := Hours{Mon: "08:00-22:00", Tue: "24h", Fri: "20:00-02:00", Sat: "07:00-11:00,17:00-23:30"}
	for _, c := range []struct {
		name string
		at   time.Time
		want bool
	}{
		{"mon 07:59 before opening", cst(0, 7, 59), false},
		{"mon 08:00 opening minute", cst(0, 8, 0), true},
		{"mon 21:59 last minute", cst(0, 21, 59), true},
		{"mon 22:00 closing minute", cst(0, 22, 0), false},
		{"tue 00:00 all day", cst(1, 0, 0), true},
		{"tue 23:59 all day", cst(1, 23, 59), true},
		{"wed 12:00 no hours", cst(2, 12, 0), false},
		{"fri 19:59 before the night", cst(4, 19, 59), false},
		{"fri 20:00 night opens", cst(4, 20, 0), true},
		{"sat 00:30 friday's night", cst(5, 0, 30), true},
		{"sat 01:59 friday's night", cst(5, 1, 59), true},
		{"sat 02:00 friday's night ended", cst(5, 2, 0), false},
		{"sat 12:00 between ranges", cst(5, 12, 0), false},
		{"sat 17:00 second range", cst(5, 17, 0), true},
		{"sun 00:10 saturday did not run late", cst(6, 0, 10), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := h.OpenAt(c.at); got != c.want {
				t.Errorf("OpenAt(%s = %s Shanghai) = %v, want %v", c.at.Format(time.RFC3339), c.at.In(Shanghai).Format("Mon 15:04"), got, c.want)
			}
		})
	}
	// Monday 08:00 in Shanghai is Monday 00:00 UTC, and Monday 07:59 in
	// Shanghai is still Sunday in UTC: the weekday is Shanghai's.
	if !h.OpenAt(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)) {
		t.Error("Monday 00:00 UTC (08:00 Shanghai) should be open")
	}
	if h.OpenAt(time.Date(2026, 3, 1, 23, 59, 0, 0, time.UTC)) {
		t.Error("Sunday 23:59 UTC (Monday 07:59 Shanghai) should be closed")
	}
}

func TestOpenNowNeedsTheSwitch(t *testing.T) {
	st := Station{Open: true, Hours: EveryDay("24h")}
	if !st.OpenNow(cst(0, 3, 0)) {
		t.Error("an open 24h station should be open now")
	}
	st.Open = false
	if st.OpenNow(cst(0, 3, 0)) {
		t.Error("a closed station should not be open now, whatever its hours")
	}
	if (Station{Open: true}).OpenNow(cst(0, 12, 0)) {
		t.Error("a station without hours should not be open now")
	}
}

func TestUpdate(t *testing.T) {
	ctx := context.Background()
	s := mustServiceOn(t, storagetest.Docs(t))
	st := mustCreate(t, s, NewStation{Name: "五一广场暖新驿站", Lat: 28.196, Lng: 112.977})
	other := mustCreate(t, s, NewStation{Name: "橘子洲司机之家", Lat: 28.187, Lng: 112.96})
	if !st.Open || len(st.Facilities) != 0 || st.Photos == nil {
		t.Errorf("new station = %+v, want open with empty lists", st)
	}

	hours := Hours{Mon: " 8:00-22:00", Sun: "24h"}
	fac := []string{FacilityWiFi, FacilitySeats, FacilityWiFi, FacilityCanteen}
	svc := []string{ServiceMediation}
	photos := []string{"stations/a/1.jpg", "stations/a/2.jpg"}
	addr := "  五一大道 1 号 "
	got, err := s.Update(ctx, st.ID, StationChange{Address: &addr, Hours: &hours, Facilities: &fac, Services: &svc, Photos: &photos})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := s.Get(ctx, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []Station{got, stored} {
		if v.Address != "五一大道 1 号" || v.Hours.Mon != "08:00-22:00" || v.Hours.Sun != "24h" || v.Hours.Tue != "" {
			t.Errorf("address %q, hours %+v: want trimmed and canonical", v.Address, v.Hours)
		}
		if want := []string{FacilitySeats, FacilityWiFi, FacilityCanteen}; fmt.Sprint(v.Facilities) != fmt.Sprint(want) {
			t.Errorf("facilities = %v, want %v (deduplicated, in the fixed order)", v.Facilities, want)
		}
		if fmt.Sprint(v.Services) != "[mediation]" || len(v.Photos) != 2 || v.Name != st.Name || v.UpdatedAt.IsZero() {
			t.Errorf("services %v photos %v name %q updated %v", v.Services, v.Photos, v.Name, v.UpdatedAt)
		}
	}

	// Bad input: a clear error on the right field, and nothing written.
	str := func(s string) *string { return &s }
	num := func(f float64) *float64 { return &f }
	list := func(l ...string) *[]string { return &l }
	for _, c := range []struct {
		name  string
		ch    StationChange
		field string
	}{
		{"bad hours", StationChange{Hours: &Hours{Tue: "9am-5pm"}, Address: str("elsewhere")}, "hours.tue"},
		{"unknown facility", StationChange{Facilities: list("sauna"), Address: str("elsewhere")}, "facilities"},
		{"unknown service", StationChange{Services: list("haircut")}, "services"},
		{"empty name", StationChange{Name: str("  ")}, "name"},
		{"lat off the globe", StationChange{Lat: num(95)}, "lat"},
		{"lng NaN", StationChange{Lng: num(math.NaN())}, "lng"},
		{"photo key with spaces", StationChange{Photos: list("a b.jpg")}, "photos"},
		{"too many photos", StationChange{Photos: list(strings.Split(strings.Repeat("p,", 13), ",")[:13]...)}, "photos"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.Update(ctx, st.ID, c.ch)
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != c.field {
				t.Fatalf("err = %v, want a ValidationError on %s", err, c.field)
			}
			after, err := s.Get(ctx, st.ID)
			if err != nil {
				t.Fatal(err)
			}
			if after.Address != stored.Address || after.Hours != stored.Hours || fmt.Sprint(after.Facilities, after.Services, after.Photos) != fmt.Sprint(stored.Facilities, stored.Services, stored.Photos) {
				t.Errorf("a refused change wrote something: %+v", after)
			}
		})
	}
	if _, err := s.Update(ctx, st.ID, StationChange{Name: &other.Name}); !errors.Is(err, ErrNameTaken) {
		t.Errorf("renaming to another station's name: err = %v, want ErrNameTaken", err)
	}
	if _, err := s.Update(ctx, "missing", StationChange{Address: &addr}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown station: err = %v, want ErrNotFound", err)
	}
}

// Two station admins changing different fields at the same moment both keep
// their change: Update sets only the fields it was given.
func TestUpdateConcurrentFieldsBothKept(t *testing.T) {
	ctx := context.Background()
	s := mustServiceOn(t, storagetest.Docs(t))
	st := mustCreate(t, s, NewStation{Name: "湘江驿站", Lat: 28.2, Lng: 112.96})
	for round := range 5 {
		hours := EveryDay(fmt.Sprintf("0%d:00-20:00", round+1))
		fac := []string{facilityCodes[round]}
		var wg sync.WaitGroup
		errs := make(chan error, 2)
		wg.Go(func() { _, err := s.Update(ctx, st.ID, StationChange{Hours: &hours}); errs <- err })
		wg.Go(func() { _, err := s.Update(ctx, st.ID, StationChange{Facilities: &fac}); errs <- err })
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Get(ctx, st.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Hours != hours || fmt.Sprint(got.Facilities) != fmt.Sprint(fac) {
			t.Fatalf("round %d: hours %+v facilities %v, want both changes kept", round, got.Hours, got.Facilities)
		}
	}
}

func TestSetOpen(t *testing.T) {
	ctx := context.Background()
	s := mustServiceOn(t, storagetest.Docs(t))
	st := mustCreate(t, s, NewStation{Name: "岳麓驿站", Lat: 28.18, Lng: 112.93, Hours: EveryDay("24h")})
	now := cst(2, 12, 0)
	if !st.OpenNow(now) {
		t.Fatal("a new 24h station should be open now")
	}
	closed, err := s.SetOpen(ctx, st.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	if closed.Open || closed.OpenNow(now) {
		t.Error("SetOpen(false) left the station open")
	}
	near, err := s.Nearest(ctx, 28.18, 112.93, 1, now)
	if err != nil || len(near) != 1 || near[0].OpenNow {
		t.Errorf("Nearest after closing = %v, %v; want the station, not open now", nearNames(near), err)
	}
	if reopened, err := s.SetOpen(ctx, st.ID, true); err != nil || !reopened.OpenNow(now) {
		t.Errorf("SetOpen(true) = %+v, %v", reopened, err)
	}
	if _, err := s.SetOpen(ctx, "missing", true); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown station: err = %v, want ErrNotFound", err)
	}
}

// Stations stored before the directory existed have no open field: Load
// marks them open, and the directory shows them with empty lists.
func TestLoadMarksOlderStationsOpen(t *testing.T) {
	ctx := context.Background()
	db := storagetest.Docs(t)
	if _, err := db.Collection(stationsCollection).InsertOne(ctx, bson.D{
		{Key: "_id", Value: "old1"}, {Key: "name", Value: "老驿站"}, {Key: "address", Value: ""},
		{Key: "lat", Value: 28.2}, {Key: "lng", Value: 112.9}, {Key: "admins", Value: bson.A{}},
		{Key: "created_at", Value: time.Now().UTC()},
	}); err != nil {
		t.Fatal(err)
	}
	s := mustServiceOn(t, db)
	st, err := s.Get(ctx, "old1")
	if err != nil {
		t.Fatal(err)
	}
	if !st.Open || st.Facilities == nil || st.Photos == nil {
		t.Errorf("older station after Load = %+v, want open with empty lists", st)
	}
	near, err := s.Nearest(ctx, 28.2, 112.9, 5, cst(0, 12, 0))
	if err != nil || len(near) != 1 || near[0].Station.ID != "old1" || !near[0].Station.Open {
		t.Errorf("Nearest = %+v, %v", near, err)
	}
}

func TestNearestOrder(t *testing.T) {
	ctx := context.Background()
	s := mustServiceOn(t, storagetest.Docs(t))
	const lat, lng = 28.196, 112.977
	now := cst(0, 12, 0) // Monday noon in Shanghai
	// Stations due north, at growing distances (1 mdeg of latitude ≈ 111 m).
	mk := func(name string, north float64, h Hours) Station {
		return mustCreate(t, s, NewStation{Name: name, Lat: lat + north, Lng: lng, Hours: h})
	}
	closedByHours := mk("a-closed-hours-100m", 0.0009, Hours{Mon: "18:00-23:00"})
	open300 := mk("b-open-300m", 0.0027, EveryDay("08:00-22:00"))
	closedBySwitch := mk("c-switched-off-200m", 0.0018, EveryDay("24h"))
	if _, err := s.SetOpen(ctx, closedBySwitch.ID, false); err != nil {
		t.Fatal(err)
	}
	open5km := mk("d-open-5km", 0.045, EveryDay("24h"))
	// One east and one north, where degrees and metres disagree: 0.0034° of
	// longitude at 28°N is about 333 m, nearer than 0.0031° of latitude
	// (about 345 m), though more degrees. Only an index that weighs longitude
	// by cos(lat) stops at the right one when the limit cuts (limit 2 below).
	east333 := mustCreate(t, s, NewStation{Name: "e-open-333m-east", Lat: lat, Lng: lng + 0.0034, Hours: EveryDay("24h")})
	north345 := mk("f-open-345m-north", 0.0031, EveryDay("24h"))

	got, err := s.Nearest(ctx, lat, lng, 0, now)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{open300.ID, east333.ID, north345.ID, open5km.ID, closedByHours.ID, closedBySwitch.ID}
	var ids []string
	for _, n := range got {
		ids = append(ids, n.Station.ID)
	}
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Fatalf("Nearest order = %v, want open first by distance, then closed by distance", nearNames(got))
	}
	for _, n := range got {
		if d := coords.DistanceM(lat, lng, n.Station.Lat, n.Station.Lng); math.Abs(d-n.DistanceM) > 1e-6 {
			t.Errorf("%s: distance %.1f, want %.1f", n.Station.Name, n.DistanceM, d)
		}
		if n.Nav != coords.NavLinks(n.Station.Lat, n.Station.Lng, n.Station.Name) || !strings.HasPrefix(n.Nav.Geo, "geo:") {
			t.Errorf("%s: nav links %+v", n.Station.Name, n.Nav)
		}
	}
	if d := got[0].DistanceM; d < 290 || d > 310 {
		t.Errorf("nearest open station at %.0f m, want about 300", d)
	}

	// A limit keeps the open ones first.
	two, err := s.Nearest(ctx, lat, lng, 2, now)
	if err != nil || len(two) != 2 || two[0].Station.ID != open300.ID || two[1].Station.ID != east333.ID {
		t.Errorf("Nearest limit 2 = %v, %v", nearNames(two), err)
	}
	// At 23:00 only the 24h stations are open; the 18:00-23:00 one has just closed.
	late, err := s.Nearest(ctx, lat, lng, 3, cst(0, 23, 0))
	if err != nil || len(late) != 3 || late[0].Station.ID != east333.ID || late[1].Station.ID != north345.ID || late[2].Station.ID != open5km.ID {
		t.Errorf("Nearest at 23:00 = %v, %v", nearNames(late), err)
	}
	for _, c := range []struct {
		lat, lng float64
		limit    int
		field    string
	}{{91, 0, 1, "lat"}, {0, math.NaN(), 1, "lng"}, {0, 0, -1, "limit"}, {0, 0, MaxNearest + 1, "limit"}} {
		var ve *ValidationError
		if _, err := s.Nearest(ctx, c.lat, c.lng, c.limit, now); !errors.As(err, &ve) || ve.Field != c.field {
			t.Errorf("Nearest(%v, %v, %d): err = %v, want a ValidationError on %s", c.lat, c.lng, c.limit, err, c.field)
		}
	}
}

// A change made on one instance reaches another through the revision
// document and Watch; the instance that made it sees it at once.
func TestDirectoryFollowsOtherInstances(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db := storagetest.Docs(t)
	a, b := mustServiceOn(t, db), mustServiceOn(t, db)
	now := cst(0, 12, 0)

	st := mustCreate(t, b, NewStation{Name: "远方驿站", Lat: 28.3, Lng: 113.0, Hours: EveryDay("24h")})
	if got, _ := b.Nearest(ctx, 28.3, 113.0, 1, now); len(got) != 1 || got[0].Station.ID != st.ID {
		t.Fatalf("the writing instance does not see its own station: %v", got)
	}
	if got, _ := a.Nearest(ctx, 28.3, 113.0, 1, now); len(got) != 0 {
		t.Fatalf("instance a saw the station before any reload: %v", got)
	}
	go a.Watch(ctx, 10*time.Millisecond)
	waitFor(t, "instance a to see the new station", func() bool {
		got, _ := a.Nearest(ctx, 28.3, 113.0, 1, now)
		return len(got) == 1 && got[0].Station.ID == st.ID && got[0].OpenNow
	})
	if _, err := b.SetOpen(ctx, st.ID, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "instance a to see the station closed", func() bool {
		got, _ := a.Nearest(ctx, 28.3, 113.0, 1, now)
		return len(got) == 1 && !got[0].OpenNow
	})
	// Writes on both instances at once: each ends with both changes.
	other := mustCreate(t, a, NewStation{Name: "近处驿站", Lat: 28.31, Lng: 113.0, Hours: EveryDay("24h")})
	if _, err := b.SetOpen(ctx, st.ID, true); err != nil {
		t.Fatal(err)
	}
	go b.Watch(ctx, 10*time.Millisecond)
	for name, inst := range map[string]*Service{"a": a, "b": b} {
		waitFor(t, "instance "+name+" to see both changes", func() bool {
			got, _ := inst.Nearest(ctx, 28.3, 113.0, 2, now)
			return len(got) == 2 && got[0].OpenNow && got[1].OpenNow && got[0].Station.ID == st.ID && got[1].Station.ID == other.ID
		})
	}
}

func nearNames(ns []NearStation) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = fmt.Sprintf("%s(%.0fm,open=%v)", n.Station.Name, n.DistanceM, n.OpenNow)
	}
	return out
}

// waitFor polls until cond holds; it bounds the wait so a broken Watch fails
// instead of hanging, and asserts nothing about how fast it was.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// BenchmarkNearest: the ten nearest among 5,000 stations spread over about
// 40 × 40 km around Changsha, a quarter of them open around the clock, from
// random rider positions. The stations are stored and read back through
// Load, as at start.
func BenchmarkNearest(b *testing.B) {
	ctx := context.Background()
	db := storagetest.Docs(b)
	const n = 5000
	docs := make([]any, n)
	for i := range docs {
		h := Hours{}
		if i%4 == 0 {
			h = EveryDay("24h")
		}
		docs[i] = Station{
			ID: fmt.Sprintf("st%05d", i), Name: fmt.Sprintf("驿站 %d", i),
			Lat: 28.0 + float64((i*7919)%n)/n*0.36, Lng: 112.8 + float64((i*104729)%n)/n*0.41,
			Open: true, Hours: h, Facilities: []string{}, Services: []string{}, Photos: []string{}, Admins: []string{},
			CreatedAt: time.Now().UTC(),
		}
	}
	if _, err := db.Collection(stationsCollection).InsertMany(ctx, docs); err != nil {
		b.Fatal(err)
	}
	s := mustServiceOn(b, db)
	now := cst(0, 12, 0)
	i := 0
	b.ResetTimer()
	for b.Loop() {
		i++
		lat := 28.0 + float64((i*31)%360)/1000
		lng := 112.8 + float64((i*57)%410)/1000
		got, err := s.Nearest(ctx, lat, lng, 10, now)
		if err != nil || len(got) != 10 || !got[0].OpenNow {
			b.Fatalf("Nearest = %d stations, %v", len(got), err)
		}
	}
}
