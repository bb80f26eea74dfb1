package reports_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nuanxin/nuanxin/reports"
	"github.com/nuanxin/nuanxin/storage/storagetest"
)

// clock is a settable time for SetNow.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func summaryIDs(ss []reports.Summary) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.ID
	}
	return out
}

func TestSearch(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := &clock{}
	reports.SetNow(f.svc, c.now)
	day0 := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)

	// Five reports, a day apart: r[0] oldest. r[1] and r[3] are sanitation,
	// the rest road damage; r[2] is rejected (closed).
	var r []reports.Report
	for i := range 5 {
		c.set(day0.Add(time.Duration(i) * 24 * time.Hour))
		in := f.submission(fmt.Sprintf("search-%d", i), [2]float64{28.191 + float64(i)*0.001, 112.975})
		if i%2 == 1 {
			in.Category = "sanitation"
		}
		r = append(r, f.mustSubmit(fmt.Sprintf("rider%d", i), in))
	}
	c.set(day0.Add(5 * 24 * time.Hour))
	if _, err := f.svc.Act(ctx, reports.Actor{ID: "admin", Role: reports.RoleAdmin}, r[2].ID,
		reports.ActionInput{Action: reports.ActReject, Reason: "not_a_problem"}); err != nil {
		t.Fatal(err)
	}
	var open, closed []reports.Status
	for _, st := range reports.Statuses {
		if st.Open() {
			open = append(open, st)
		} else {
			closed = append(closed, st)
		}
	}
	id := func(i ...int) []string {
		out := make([]string, len(i))
		for k, n := range i {
			out[k] = r[n].ID
		}
		return out
	}

	for _, tc := range []struct {
		name string
		f    reports.SearchFilter
		want []string // in this order
	}{
		{"everything, newest first", reports.SearchFilter{}, id(4, 3, 2, 1, 0)},
		{"one category", reports.SearchFilter{Categories: []string{"sanitation"}}, id(3, 1)},
		{"two categories", reports.SearchFilter{Categories: []string{"sanitation", "road_damage"}}, id(4, 3, 2, 1, 0)},
		{"unknown category", reports.SearchFilter{Categories: []string{"ufo"}}, nil},
		{"from, included", reports.SearchFilter{From: r[3].CreatedAt}, id(4, 3)},
		{"to, included", reports.SearchFilter{To: r[1].CreatedAt}, id(1, 0)},
		{"between", reports.SearchFilter{From: r[1].CreatedAt.Add(time.Second), To: r[3].CreatedAt.Add(time.Second)}, id(3, 2)},
		{"open", reports.SearchFilter{Statuses: open}, id(4, 3, 1, 0)},
		{"closed", reports.SearchFilter{Statuses: closed}, id(2)},
		{"everything combined", reports.SearchFilter{Categories: []string{"road_damage"}, From: r[1].CreatedAt, Statuses: open}, id(4)},
		{"limit", reports.SearchFilter{Limit: 2}, id(4, 3)},
		{"ids, newest first whatever the order asked", reports.SearchFilter{IDs: id(0, 4, 2)}, id(4, 2, 0)},
		{"ids, repeated or unknown", reports.SearchFilter{IDs: []string{r[1].ID, "ffffffffffffffffffffffff", r[1].ID, "no such id"}}, id(1)},
		{"ids with the other filters", reports.SearchFilter{IDs: id(0, 1, 2, 3, 4), Categories: []string{"road_damage"}, Statuses: open, To: r[3].CreatedAt}, id(0)},
		{"ids from a date", reports.SearchFilter{IDs: id(0, 1, 2, 3, 4), Categories: []string{"road_damage"}, From: r[1].CreatedAt}, id(4, 2)},
		{"ids with a limit", reports.SearchFilter{IDs: id(0, 1, 2, 3, 4), Limit: 3}, id(4, 3, 2)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.svc.Search(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if ids := summaryIDs(got); !slices.Equal(ids, tc.want) {
				t.Errorf("got %v, want %v", ids, tc.want)
			}
		})
	}

	t.Run("a summary is the report's public part", func(t *testing.T) {
		got, err := f.svc.Search(ctx, reports.SearchFilter{IDs: id(2, 3)})
		if err != nil {
			t.Fatal(err)
		}
		fromQuery, err := f.svc.Search(ctx, reports.SearchFilter{Categories: []string{"sanitation"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range append(got, fromQuery...) {
			stored, err := f.svc.Get(ctx, s.ID)
			if err != nil {
				t.Fatal(err)
			}
			if want := stored.Summary(); !reflect.DeepEqual(s, want) {
				t.Errorf("summary\n%+v\nwant\n%+v", s, want)
			}
		}
		if got[1].Status != reports.StatusRejected || got[1].RejectReason != "not_a_problem" || got[1].Cell != "T-0001" {
			t.Errorf("rejected report summary = %+v", got[1])
		}
	})

	t.Run("too many ids", func(t *testing.T) {
		many := make([]string, reports.MaxSearchIDs+1)
		for i := range many {
			many[i] = fmt.Sprintf("id%d", i)
		}
		_, err := f.svc.Search(ctx, reports.SearchFilter{IDs: many})
		var ve *reports.ValidationError
		if !errors.As(err, &ve) || ve.Field != "ids" {
			t.Errorf("err = %v, want a ValidationError on ids", err)
		}
	})
}

// Summary is what public listings show: it must never gain a field that
// names the reporter or an officer, or exposes a private key or photo.
func TestSearchSummaryHasNoPrivateField(t *testing.T) {
	private := []string{"ReporterID", "OfficerID", "BackupID", "IdemKey", "BodyHash", "Photos", "AfterPhoto", "State"}
	typ := reflect.TypeFor[reports.Summary]()
	for i := range typ.NumField() {
		if name := typ.Field(i).Name; slices.Contains(private, name) {
			t.Errorf("Summary has the private field %s", name)
		}
	}
	// The check above would pass on a renamed type: make sure Report
	// still has the fields it looks for.
	rtyp := reflect.TypeFor[reports.Report]()
	for _, name := range private {
		if _, ok := rtyp.FieldByName(name); !ok {
			t.Errorf("Report has no field %s: update this test's list", name)
		}
	}
}

// Riders attach 1 to 3 photos; SubmitPhotoOptional, the Open311 path, may
// attach none, and the report then has none.
func TestSubmitPhotoOptional(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	noPhoto := f.submission("no-photo", inWest)
	noPhoto.Photos = nil

	var ve *reports.ValidationError
	if _, _, err := f.svc.Submit(ctx, "rider1", noPhoto); !errors.As(err, &ve) || ve.Field != "photos" {
		t.Fatalf("a rider without a photo: err = %v, want a ValidationError on photos", err)
	}

	r, created, err := f.svc.SubmitPhotoOptional(ctx, "open311:key1", noPhoto)
	if err != nil || !created {
		t.Fatalf("without a photo: created %v, err %v", created, err)
	}
	if r.HasPhotos() || len(r.Photos) != 0 || r.Status != reports.StatusSubmitted || r.Cell != "T-0001" || r.OfficerID != "o1" {
		t.Errorf("report = %+v, want submitted to o1 in T-0001 with no photos", r)
	}
	stored, err := f.svc.Get(ctx, r.ID)
	if err != nil || stored.HasPhotos() {
		t.Errorf("stored: HasPhotos %v, err %v; want no photos", stored.HasPhotos(), err)
	}
	if tl, err := f.svc.Timeline(ctx, r.ID, 0); err != nil || len(tl) != 1 || tl[0].Action != reports.ActSubmit {
		t.Errorf("timeline = %+v, %v; want the submission", tl, err)
	}
	if again, created, err := f.svc.SubmitPhotoOptional(ctx, "open311:key1", noPhoto); err != nil || created || again.ID != r.ID {
		t.Errorf("retry: id %s created %v err %v, want %s again", again.ID, created, err, r.ID)
	}
	if got := f.objects(); len(got) != 0 {
		t.Errorf("stored objects %v, want none", got)
	}

	withPhoto, _, err := f.svc.SubmitPhotoOptional(ctx, "open311:key1", f.submission("with-photo", inWest))
	if err != nil || !withPhoto.HasPhotos() || len(withPhoto.Photos) != 1 {
		t.Errorf("with a photo: %d photos, err %v; want 1", len(withPhoto.Photos), err)
	}
	four := f.submission("four", inWest)
	four.Photos = slices.Repeat(four.Photos, 4)
	if _, _, err := f.svc.SubmitPhotoOptional(ctx, "open311:key1", four); !errors.As(err, &ve) || ve.Field != "photos" {
		t.Errorf("four photos: err = %v, want a ValidationError on photos", err)
	}
}

// openAndClosed splits the statuses as Open311 does.
func openAndClosed() (open, closed []reports.Status) {
	for _, st := range reports.Statuses {
		if st.Open() {
			open = append(open, st)
		} else {
			closed = append(closed, st)
		}
	}
	return open, closed
}

// Searches through the day index answer exactly what the scan of the
// reports collection answers, for every filter: reports spread over several
// Beijing days (around midnight there, some created at the same
// millisecond), some stored before the index existed (Migrate), some
// indexed late and out of order (a redelivery), with statuses changed after
// they were indexed. Asked of the instance that wrote the index, of one
// that also uses its model of the open reports, and of a second instance
// with its own DayIndex; first with nothing in memory, then again.
func TestSearchThroughDayIndex(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	log := storagetest.Logger()
	c := &clock{}
	scan := f.svc // delivers to no DayIndex: it reads the collection
	reports.SetNow(scan, c.now)
	days := reports.NewDayIndex(f.db, log)
	reports.SetDayIndexBlock(days, 3) // a few reports a day cross blocks
	indexed := f.serviceWith([]reports.Consumer{{Name: "days", Events: days}})
	reports.SetNow(indexed, c.now)

	// 23:00 on 1 March in Beijing; steps of 2h47m cross six Beijing days.
	base := time.Date(2026, 3, 1, 15, 0, 0, 0, time.UTC)
	var times []time.Time
	for i := range 30 {
		times = append(times, base.Add(time.Duration(i)*(2*time.Hour+47*time.Minute)))
	}
	times[5] = times[4]                                                 // the same millisecond: ordered by id
	times[9] = time.Date(2026, 3, 2, 15, 59, 59, 999_000_000, time.UTC) // the last millisecond of 2 March in Beijing
	times[10] = time.Date(2026, 3, 2, 16, 0, 0, 0, time.UTC)            // the first of 3 March
	categories := []string{"road_damage", "sanitation", "traffic_facility"}
	var all []reports.Report
	submit := func(svc *reports.Service, i int) {
		t.Helper()
		c.set(times[i])
		in := f.tinySubmission(fmt.Sprintf("days-%d", i))
		in.Category = categories[i%len(categories)]
		r, _, err := svc.Submit(ctx, fmt.Sprintf("rider%d", i%4), in)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, r)
	}
	// Before the index: stored by a service without it.
	for i := range 10 {
		submit(scan, i)
	}
	if n, err := days.Migrate(ctx); err != nil || n != 10 {
		t.Fatalf("Migrate: %d, %v; want 10 indexed", n, err)
	}
	for i := 10; i < 24; i++ {
		submit(indexed, i)
	}
	// Reports whose events reach the index late, newest first, among
	// days that have later entries already.
	for i := 24; i < 30; i++ {
		times[i] = times[i-20].Add(time.Duration(i) * time.Minute)
		submit(scan, i)
	}
	for _, r := range slices.Backward(all[24:]) {
		if err := days.Publish(ctx, reports.Event{ID: r.ID + "/late", Action: reports.ActSubmit, ReportID: r.ID,
			Category: r.Category, At: r.CreatedAt}); err != nil {
			t.Fatal(err)
		}
	}
	// Statuses change after indexing: the index knows nothing of them.
	c.set(base.Add(7 * 24 * time.Hour))
	officer := reports.Actor{ID: "o1", Role: reports.RoleOfficer}
	admin := reports.Actor{ID: "admin", Role: reports.RoleAdmin}
	for i, r := range all {
		var err error
		switch i % 4 {
		case 0:
			_, err = scan.Act(ctx, admin, r.ID, reports.ActionInput{Action: reports.ActReject, Reason: "not_a_problem"})
		case 1:
			_, err = scan.Act(ctx, officer, r.ID, reports.ActionInput{Action: reports.ActAcknowledge})
		case 2:
			_, err = scan.Act(ctx, officer, r.ID, reports.ActionInput{Action: reports.ActVerify, Severity: 2})
		}
		if err != nil {
			t.Fatalf("act on report %d: %v", i, err)
		}
	}

	withOpenModel := f.serviceWith([]reports.Consumer{{Name: "days", Events: days}})
	if err := withOpenModel.LoadOpen(ctx, nil); err != nil {
		t.Fatal(err)
	}
	other := reports.NewDayIndex(f.db, log) // another instance's, nothing in memory
	if _, err := other.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	second := f.serviceWith([]reports.Consumer{{Name: "days", Events: other}})
	for _, svc := range []*reports.Service{withOpenModel, second} {
		reports.SetNow(svc, c.now)
	}

	open, closed := openAndClosed()
	var ranges []struct {
		name     string
		from, to time.Time
	}
	addRange := func(name string, from, to time.Time) {
		ranges = append(ranges, struct {
			name     string
			from, to time.Time
		}{name, from, to})
	}
	addRange("any time", time.Time{}, time.Time{})
	addRange("from a report, included", all[12].CreatedAt, time.Time{})
	addRange("to a report, included", time.Time{}, all[17].CreatedAt)
	addRange("from Beijing midnight", times[10], time.Time{})
	addRange("to the last millisecond of a Beijing day", time.Time{}, times[9])
	addRange("between, across days", all[3].CreatedAt.Add(time.Second), all[20].CreatedAt.Add(-time.Second))
	addRange("within a millisecond", all[6].CreatedAt.Add(500*time.Microsecond), all[6].CreatedAt.Add(700*time.Microsecond))
	addRange("one report's instant", all[4].CreatedAt, all[4].CreatedAt)
	addRange("before everything", base.Add(-30*24*time.Hour), base.Add(-time.Hour))
	addRange("around everything, ending in the future", base.Add(-time.Hour), base.Add(60*24*time.Hour))
	addRange("reversed", all[20].CreatedAt, all[3].CreatedAt)

	var filters []reports.SearchFilter
	var names []string
	statuses := map[string][]reports.Status{"any": nil, "open": open, "closed": closed}
	for _, cats := range [][]string{nil, {"road_damage", "traffic_facility"}} {
		for _, rg := range ranges {
			for sn, sts := range statuses {
				filters = append(filters, reports.SearchFilter{Categories: cats, From: rg.from, To: rg.to, Statuses: sts})
				names = append(names, fmt.Sprintf("categories %v, %s, status %s", cats, rg.name, sn))
			}
		}
	}
	for _, sf := range []reports.SearchFilter{
		{Categories: []string{"ufo"}},
		{Statuses: []reports.Status{reports.StatusAcknowledged}},
		{Statuses: []reports.Status{reports.StatusAcknowledged}, Limit: 1, From: times[3]},
		{Limit: 1}, {Limit: 4}, {Limit: 7}, {Limit: 7, Statuses: open}, {Limit: 2, Statuses: closed, To: times[20]},
		{Limit: 3, Categories: []string{"sanitation"}, From: times[2], Statuses: open},
		{Limit: 5, From: times[4], To: times[25]},
	} {
		filters = append(filters, sf)
		names = append(names, fmt.Sprintf("%+v", sf))
	}
	nonEmpty := 0
	check := func(svc *reports.Service, name string, sf reports.SearchFilter, want []reports.Summary) {
		t.Helper()
		got, err := svc.Search(ctx, sf)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\ngot  %v\nwant %v", name, summaryIDs(got), summaryIDs(want))
		}
	}
	for i, sf := range filters {
		want, err := scan.Search(ctx, sf)
		if err != nil {
			t.Fatal(err)
		}
		if len(want) > 0 {
			nonEmpty++
		}
		check(indexed, names[i], sf, want)
		// Every few filters: again, from what the instance kept in
		// memory; and on the other instances.
		if i%4 == 0 {
			check(indexed, "again: "+names[i], sf, want)
			check(withOpenModel, "with the open model: "+names[i], sf, want)
			check(second, "second instance: "+names[i], sf, want)
		}
	}
	if nonEmpty < len(filters)/3 {
		t.Errorf("only %d of %d filters find anything: the test data does not exercise the search", nonEmpty, len(filters))
	}
	if reports.DayIndexReportReads(days) == 0 || reports.DayIndexReportReads(other) == 0 {
		t.Error("the searches did not go through the day indexes")
	}

	t.Run("open searches read open reports only", func(t *testing.T) {
		before := reports.DayIndexReportReads(days)
		got, err := withOpenModel.Search(ctx, reports.SearchFilter{Statuses: open})
		if err != nil {
			t.Fatal(err)
		}
		if read := reports.DayIndexReportReads(days) - before; read != int64(len(got)) || len(got) == 0 {
			t.Errorf("read %d reports for %d open ones", read, len(got))
		}
	})

	t.Run("a limited search reads what it returns", func(t *testing.T) {
		reports.ForgetDayIndexCache(days)
		before := reports.DayIndexReportReads(days)
		got, err := indexed.Search(ctx, reports.SearchFilter{Limit: 2})
		if err != nil || len(got) != 2 {
			t.Fatalf("got %d, %v", len(got), err)
		}
		if read := reports.DayIndexReportReads(days) - before; read > 8 {
			t.Errorf("read %d reports to return 2", read)
		}
	})
}

// A service that delivers to a DayIndex that has not migrated (Migrate not
// run, or failed) scans as before, rather than miss the reports stored
// before the index.
func TestSearchBeforeMigrateScans(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	old := f.mustSubmit("rider1", f.tinySubmission("before"))
	days := reports.NewDayIndex(f.db, storagetest.Logger())
	svc := f.serviceWith([]reports.Consumer{{Name: "days", Events: days}})
	got, err := svc.Search(ctx, reports.SearchFilter{})
	if err != nil || !slices.Equal(summaryIDs(got), []string{old.ID}) {
		t.Errorf("before Migrate: %v, %v; want %s", summaryIDs(got), err, old.ID)
	}
	if reports.DayIndexReportReads(days) != 0 {
		t.Error("searched through an index that has not migrated")
	}
	if _, err := days.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	got, err = svc.Search(ctx, reports.SearchFilter{})
	if err != nil || !slices.Equal(summaryIDs(got), []string{old.ID}) || reports.DayIndexReportReads(days) != 1 {
		t.Errorf("after Migrate: %v, %v, %d reads; want %s through the index", summaryIDs(got), err, reports.DayIndexReportReads(days), old.ID)
	}
}
