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
