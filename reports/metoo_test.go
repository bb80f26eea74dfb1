package reports_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nuanxin/nuanxin/reports"
)

// meTooWorld is a fixture whose open-reports model is loaded (Nearby reads
// it), with reports around inWest (road_damage unless said):
//
//	a      rider1 at inWest
//	b      rider3 59 m east
//	far    rider1 147 m east (outside MeTooRadius)
//	other  rider1 at inWest, sanitation
//	closed rider1 59 m west, rejected
//	own    rider2 78 m north
type meTooWorld struct {
	*fixture
	a, b, far, other, closed, own reports.Report
}

func newMeTooWorld(t *testing.T) meTooWorld {
	t.Helper()
	ctx := context.Background()
	f := newFixture(t)
	if err := f.svc.LoadOpen(ctx, nil); err != nil {
		t.Fatal(err)
	}
	w := meTooWorld{fixture: f}
	place := func(reporter, key, category string, dLat, dLng float64) reports.Report {
		in := f.submission(key, [2]float64{inWest[0] + dLat, inWest[1] + dLng})
		in.Category = category
		return f.mustSubmit(reporter, in)
	}
	w.a = place("rider1", "a", "road_damage", 0, 0)
	w.b = place("rider3", "b", "road_damage", 0, 0.0006)
	w.far = place("rider1", "far", "road_damage", 0, 0.0015)
	w.other = place("rider1", "other", "sanitation", 0, 0)
	w.closed = place("rider1", "closed", "road_damage", 0, -0.0006)
	w.own = place("rider2", "own", "road_damage", 0.0007, 0)
	if _, err := f.svc.Act(ctx, officerO1, w.closed.ID, reports.ActionInput{Action: reports.ActReject, Reason: "not_a_problem"}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []reports.Report{w.a, w.b, w.own} {
		if r.DuplicateOf != "" {
			t.Fatalf("report %s was linked as a duplicate: the positions are too close", r.ID)
		}
	}
	f.svc.Wait()
	return w
}

// refFor is the ref Nearby gives the rider for report r.
func (w meTooWorld) refFor(t *testing.T, svc *reports.Service, rider string, r reports.Report) string {
	t.Helper()
	ns, err := svc.Nearby(context.Background(), rider, r.Category, inWest[0], inWest[1])
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		id, err := reports.OpenMeTooRef(context.Background(), svc, rider, n.Ref)
		if err != nil {
			t.Fatal(err)
		}
		if id == r.ID {
			return n.Ref
		}
	}
	t.Fatalf("Nearby for %s does not list report %s", rider, r.ID)
	return ""
}

// state counts what a confirmation writes: the report's me_too entries,
// the claims and the stored objects.
type meTooCounts struct {
	entries int
	claims  int64
	objects []string
}

func (w meTooWorld) counts(id string) meTooCounts {
	return meTooCounts{entries: len(w.timeline(id, reports.ActMeToo)), claims: w.count("report_claims"), objects: w.objects()}
}

func (w meTooWorld) sameCounts(t *testing.T, what, id string, before meTooCounts) {
	t.Helper()
	after := w.counts(id)
	if after.entries != before.entries || after.claims != before.claims || !slices.Equal(after.objects, before.objects) {
		t.Errorf("%s wrote something: me_too entries %d→%d, claims %d→%d, objects %d→%d", what,
			before.entries, after.entries, before.claims, after.claims, len(before.objects), len(after.objects))
	}
}

func isMeToo(code string) func(error) bool {
	return func(err error) bool {
		var me *reports.MeTooError
		return errors.As(err, &me) && me.Code == code
	}
}

func TestMeTooNearbyFilters(t *testing.T) {
	w := newMeTooWorld(t)
	ctx := context.Background()
	ns, err := w.svc.Nearby(ctx, "rider2", "road_damage", inWest[0], inWest[1])
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range ns {
		id, err := reports.OpenMeTooRef(ctx, w.svc, "rider2", n.Ref)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, id)
		if strings.Contains(n.Ref, id) || strings.Contains(n.Thumb, id) {
			t.Errorf("the ref or thumbnail URL shows the report id: %s %s", n.Ref, n.Thumb)
		}
		if n.Thumb == "" || n.Status != reports.StatusSubmitted || n.CreatedAt.IsZero() || n.Confirmed || n.MeToo != 0 {
			t.Errorf("item %+v", n)
		}
	}
	// Nearest first: a (0 m), b (59 m); not far (147 m), other (another
	// category), closed (rejected) or own (rider2's).
	if want := []string{w.a.ID, w.b.ID}; !slices.Equal(got, want) {
		t.Errorf("nearby = %v, want a, b = %v (far %s, other %s, closed %s, own %s)", got, want, w.far.ID, w.other.ID, w.closed.ID, w.own.ID)
	}
	if len(ns) == 2 && (ns[0].Distance != 0 || ns[1].Distance < 55 || ns[1].Distance > 65) {
		t.Errorf("distances %d, %d m; want 0 and about 59", ns[0].Distance, ns[1].Distance)
	}
	// The reporter of a is not offered a.
	ns, err = w.svc.Nearby(ctx, "rider1", "road_damage", inWest[0], inWest[1])
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		if id, _ := reports.OpenMeTooRef(ctx, w.svc, "rider1", n.Ref); id == w.a.ID {
			t.Error("rider1 is offered their own report")
		}
	}
	// At most MaxNearby: seven reports on a ring of 90 m, each over 50 m
	// from the next, so that none is linked to another as a duplicate.
	for i := range reports.MaxNearby + 2 {
		angle := 2 * math.Pi * float64(i) / float64(reports.MaxNearby+2)
		dLat := 90 * math.Cos(angle) / 111_320
		dLng := 90 * math.Sin(angle) / (111_320 * math.Cos(inWest[0]*math.Pi/180))
		in := w.submission(fmt.Sprint("many-", i), [2]float64{inWest[0] + dLat, inWest[1] + dLng})
		in.Category = "public_facility"
		w.mustSubmit(fmt.Sprint("many-rider-", i), in)
	}
	if ns, err := w.svc.Nearby(ctx, "rider2", "public_facility", inWest[0], inWest[1]); err != nil || len(ns) != reports.MaxNearby {
		t.Errorf("nearby of 7 reports: %d items (err %v), want %d", len(ns), err, reports.MaxNearby)
	}
	// Bad input.
	if _, err := w.svc.Nearby(ctx, "rider2", "no_such", inWest[0], inWest[1]); !isField("category")(err) {
		t.Errorf("unknown category: %v", err)
	}
	if _, err := w.svc.Nearby(ctx, "rider2", "road_damage", 91, 0); !isField("lat")(err) {
		t.Errorf("latitude 91: %v", err)
	}
	// Without the open-reports model there is no answer rather than a scan
	// of the store.
	cold := w.service()
	if _, err := cold.Nearby(ctx, "rider2", "road_damage", inWest[0], inWest[1]); !errors.Is(err, reports.ErrUnavailable) {
		t.Errorf("nearby before the model is loaded: %v, want ErrUnavailable", err)
	}
}

func TestMeTooRefs(t *testing.T) {
	w := newMeTooWorld(t)
	ctx := context.Background()
	ref := w.refFor(t, w.svc, "rider2", w.a)

	// Another instance, on the same store, opens this instance's refs.
	other := w.service()
	if id, err := reports.OpenMeTooRef(ctx, other, "rider2", ref); err != nil || id != w.a.ID {
		t.Errorf("another instance opens the ref as %q, %v", id, err)
	}
	// Another rider, an altered ref, garbage: unknown.
	altered := []byte(ref)
	altered[len(altered)/2] ^= 1
	if altered[len(altered)/2] == '-' || altered[len(altered)/2] == '_' {
		altered[len(altered)/2] = 'A'
	}
	for name, tc := range map[string]struct{ rider, ref string }{
		"another rider": {"rider3", ref},
		"altered":       {"rider2", string(altered)},
		"truncated":     {"rider2", ref[:len(ref)-4]},
		"not base64":    {"rider2", "**not a ref**"},
		"empty":         {"rider2", ""},
		"too long":      {"rider2", strings.Repeat("A", 600)},
	} {
		before := w.counts(w.a.ID)
		if _, err := w.svc.MeToo(ctx, tc.rider, tc.ref, nil); !isMeToo(reports.MeTooUnknown)(err) {
			t.Errorf("%s: %v, want %s", name, err, reports.MeTooUnknown)
		}
		if _, _, err := w.svc.NearbyThumb(ctx, tc.rider, tc.ref); !isMeToo(reports.MeTooUnknown)(err) {
			t.Errorf("%s: thumbnail %v, want %s", name, err, reports.MeTooUnknown)
		}
		w.sameCounts(t, name, w.a.ID, before)
	}
	// The thumbnail, for the rider the ref is for.
	rc, info, err := w.svc.NearbyThumb(ctx, "rider2", ref)
	if err != nil {
		t.Fatalf("thumbnail: %v", err)
	}
	rc.Close()
	if !strings.HasPrefix(info.ContentType, "image/") {
		t.Errorf("thumbnail type %q", info.ContentType)
	}
	// Expired after an hour.
	later := w.service()
	reports.SetNow(later, func() time.Time { return time.Now().UTC().Add(reports.MeTooRefTTL + time.Minute) })
	before := w.counts(w.a.ID)
	if _, err := later.MeToo(ctx, "rider2", ref, nil); !isMeToo(reports.MeTooExpired)(err) {
		t.Errorf("an expired ref: %v, want %s", err, reports.MeTooExpired)
	}
	w.sameCounts(t, "an expired ref", w.a.ID, before)
}

func TestMeTooConfirm(t *testing.T) {
	w := newMeTooWorld(t)
	ctx := context.Background()
	road := photo(t, "road-clean.jpg")

	// Refusals write nothing: no entry, no claim, no object.
	ownRef, err := reports.SealMeTooRef(ctx, w.svc, w.a.ID, "rider1")
	if err != nil {
		t.Fatal(err)
	}
	closedRef, err := reports.SealMeTooRef(ctx, w.svc, w.closed.ID, "rider2")
	if err != nil {
		t.Fatal(err)
	}
	ref := w.refFor(t, w.svc, "rider2", w.a)
	for _, tc := range []struct {
		name, rider, ref string
		photo            []byte
		want             func(error) bool
	}{
		{"own report", "rider1", ownRef, road, isMeToo(reports.MeTooOwn)},
		{"closed report", "rider2", closedRef, road, isMeToo(reports.MeTooClosed)},
		{"not a photo", "rider2", ref, photo(t, "not-an-image.jpg"), func(err error) bool {
			var pe *reports.PhotoError
			return errors.As(err, &pe)
		}},
	} {
		id := w.a.ID
		if tc.ref == closedRef {
			id = w.closed.ID
		}
		before := w.counts(id)
		if _, err := w.svc.MeToo(ctx, tc.rider, tc.ref, tc.photo); !tc.want(err) {
			t.Errorf("%s: %v", tc.name, err)
		}
		w.sameCounts(t, tc.name, id, before)
	}

	// Confirmed, with a photo.
	before := w.counts(w.a.ID)
	e, err := w.svc.MeToo(ctx, "rider2", ref, road)
	if err != nil {
		t.Fatalf("me too: %v", err)
	}
	if e.Action != reports.ActMeToo || e.ActorRole != reports.RoleRider || e.ActorID != "rider2" || len(e.Photos) != 1 ||
		e.After.MeToo != 1 || !slices.Equal(e.After.MeTooBy, []string{"rider2"}) {
		t.Errorf("entry = %+v", e)
	}
	if got := len(w.objects()) - len(before.objects); got < 1 || got > 2 {
		t.Errorf("the confirmation stored %d objects, want its photo (and thumbnail)", got)
	}
	r, err := w.svc.Get(ctx, w.a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.MeToo != 1 || !slices.Equal(r.MeTooBy, []string{"rider2"}) || r.Status != reports.StatusSubmitted {
		t.Errorf("report after the confirmation: me_too %d by %v, status %s", r.MeToo, r.MeTooBy, r.Status)
	}
	ev := w.events.list()
	if last := ev[len(ev)-1]; last.Action != reports.ActMeToo || !slices.Equal(last.MeTooBy, []string{"rider2"}) || last.ReporterID != "rider1" {
		t.Errorf("last event %+v, want a me_too with MeTooBy [rider2] for reporter rider1", last)
	}
	// Nearby now says so.
	ns, err := w.svc.Nearby(ctx, "rider2", "road_damage", inWest[0], inWest[1])
	if err != nil || len(ns) == 0 || !ns[0].Confirmed || ns[0].MeToo != 1 {
		t.Errorf("nearby after confirming: %+v (err %v), want a confirmed, me_too 1", ns, err)
	}

	// The photo is staff-only; the reporter's timeline has it taken out.
	rc, _, err := w.svc.TimelinePhoto(ctx, r, e.Seq, 1, true, true)
	if err != nil {
		t.Fatalf("staff open the confirmation's photo: %v", err)
	}
	rc.Close()
	if _, _, err := w.svc.TimelinePhoto(ctx, r, e.Seq, 1, false, false); !errors.Is(err, reports.ErrNotFound) {
		t.Errorf("the reporter opens the confirmation's photo: %v, want ErrNotFound", err)
	}
	tl := mustTimeline(t, w.fixture, r.ID)
	for _, en := range reports.MeTooVisible(tl, false) {
		if en.Action == reports.ActMeToo && len(en.Photos) > 0 {
			t.Error("the reporter's timeline keeps the confirmation's photo")
		}
	}

	// Twice: refused, nothing written.
	before = w.counts(w.a.ID)
	if _, err := w.svc.MeToo(ctx, "rider2", w.refFor(t, w.svc, "rider2", w.a), road); !isMeToo(reports.MeTooDone)(err) {
		t.Errorf("a second confirmation: %v, want %s", err, reports.MeTooDone)
	}
	w.sameCounts(t, "a second confirmation", w.a.ID, before)

	// Closed after the ref was given: refused.
	refB := w.refFor(t, w.svc, "rider2", w.b)
	if _, err := w.svc.Act(ctx, officerO1, w.b.ID, reports.ActionInput{Action: reports.ActReject, Reason: "duplicate"}); err != nil {
		t.Fatal(err)
	}
	before = w.counts(w.b.ID)
	if _, err := w.svc.MeToo(ctx, "rider2", refB, road); !isMeToo(reports.MeTooClosed)(err) {
		t.Errorf("confirming a report closed since: %v, want %s", err, reports.MeTooClosed)
	}
	w.sameCounts(t, "confirming a closed report", w.b.ID, before)
}

// TestMeTooFailureLeavesNothing: the report is closed between the photo's
// PUT and the entry (an injected failure there): the photo and the claim
// are removed, and the rider may try again on another report. Then a
// confirmation stopped there, as a kill would, is cleaned up by the next
// attempt once the claim is stale.
func TestMeTooFailureLeavesNothing(t *testing.T) {
	w := newMeTooWorld(t)
	ctx := context.Background()
	road := photo(t, "road-clean.jpg")

	ref := w.refFor(t, w.svc, "rider2", w.b)
	before := w.counts(w.b.ID)
	reports.SetStopAt(w.svc, func(point string) {
		if point == "metoo_photo" {
			if _, err := w.service().Act(ctx, officerO1, w.b.ID, reports.ActionInput{Action: reports.ActReject, Reason: "duplicate"}); err != nil {
				t.Errorf("close the report: %v", err)
			}
		}
	})
	if _, err := w.svc.MeToo(ctx, "rider2", ref, road); !isMeToo(reports.MeTooClosed)(err) {
		t.Errorf("closed between the photo and the entry: %v, want %s", err, reports.MeTooClosed)
	}
	reports.SetStopAt(w.svc, nil)
	w.sameCounts(t, "a confirmation that failed after its photo", w.b.ID, before)

	// Killed between the photo and the entry.
	ref = w.refFor(t, w.svc, "rider2", w.a)
	before = w.counts(w.a.ID)
	killed := w.service()
	reports.SetStopAt(killed, func(point string) {
		if point == "metoo_photo" {
			runtime.Goexit()
		}
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = killed.MeToo(ctx, "rider2", ref, road)
	}()
	<-done
	if got := w.counts(w.a.ID); got.claims != before.claims+1 || len(got.objects) <= len(before.objects) {
		t.Fatalf("after the kill: claims %d→%d, objects %d→%d; want the claim and the photo left", before.claims, got.claims, len(before.objects), len(got.objects))
	}
	// Right away the claim is taken to be at work: refused as done.
	if _, err := w.svc.MeToo(ctx, "rider2", ref, nil); !isMeToo(reports.MeTooDone)(err) {
		t.Errorf("while the stopped claim is fresh: %v, want %s", err, reports.MeTooDone)
	}
	// Once it is stale, the next attempt removes what the kill left and
	// confirms, without a photo this time.
	later := w.service()
	reports.SetNow(later, func() time.Time { return time.Now().UTC().Add(time.Minute) })
	e, err := later.MeToo(ctx, "rider2", ref, nil)
	if err != nil {
		t.Fatalf("after the stale claim: %v", err)
	}
	if len(e.Photos) != 0 || e.After.MeToo != 1 {
		t.Errorf("entry %+v", e)
	}
	if got := w.counts(w.a.ID); !slices.Equal(got.objects, before.objects) || got.claims != before.claims+1 || got.entries != before.entries+1 {
		t.Errorf("after the retry: objects %d (want %d: the killed photo removed), claims %d (want %d), entries %d (want %d)",
			len(got.objects), len(before.objects), got.claims, before.claims+1, got.entries, before.entries+1)
	}
}

func TestMeTooRaces(t *testing.T) {
	w := newMeTooWorld(t)
	ctx := context.Background()

	// One rider, eight taps at once: one entry.
	ref := w.refFor(t, w.svc, "rider2", w.a)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { _, errs[i] = w.svc.MeToo(ctx, "rider2", ref, nil) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case isMeToo(reports.MeTooDone)(err):
		default:
			t.Errorf("racing confirmation: %v", err)
		}
	}
	if n := len(w.timeline(w.a.ID, reports.ActMeToo)); ok != 1 || n != 1 {
		t.Errorf("one rider racing: %d succeeded, %d entries; want 1 and 1", ok, n)
	}

	// Six other riders at once on b, through two instances: MeToo == 6.
	other := w.service()
	riders := []string{"r-1", "r-2", "r-3", "r-4", "r-5", "r-6"}
	refs := make([]string, len(riders))
	for i, rider := range riders {
		refs[i] = w.refFor(t, w.svc, rider, w.b)
	}
	errs = make([]error, len(riders))
	for i, rider := range riders {
		svc := w.svc
		if i%2 == 1 {
			svc = other
		}
		wg.Go(func() { _, errs[i] = svc.MeToo(ctx, rider, refs[i], nil) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("rider %s: %v", riders[i], err)
		}
	}
	r, err := w.svc.Get(ctx, w.b.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := slices.Sorted(slices.Values(r.MeTooBy))
	if r.MeToo != len(riders) || !slices.Equal(got, riders) {
		t.Errorf("after %d riders: me_too %d by %v", len(riders), r.MeToo, got)
	}
	if n := len(w.timeline(w.b.ID, reports.ActMeToo)); n != len(riders) {
		t.Errorf("%d me_too entries, want %d", n, len(riders))
	}
}
