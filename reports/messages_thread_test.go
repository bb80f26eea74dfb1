package reports_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/nuanxin/nuanxin/reports"
)

var officerO1 = reports.Actor{ID: "o1", Role: reports.RoleOfficer}

// timeline returns the report's entries of one action.
func (f *fixture) timeline(id string, a reports.Action) []reports.Entry {
	f.t.Helper()
	es, err := f.svc.Timeline(context.Background(), id, 0)
	if err != nil {
		f.t.Fatal(err)
	}
	return slices.DeleteFunc(es, func(e reports.Entry) bool { return e.Action != a })
}

// unchanged checks that a refusal wrote nothing: the same timeline length
// and the same objects as before.
func (f *fixture) unchanged(t *testing.T, what, id string, entries int, objects []string) {
	t.Helper()
	es, err := f.svc.Timeline(context.Background(), id, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != entries {
		t.Errorf("%s: the timeline has %d entries, want %d (nothing written)", what, len(es), entries)
	}
	if got := f.objects(); !slices.Equal(got, objects) {
		t.Errorf("%s: objects %v, want %v (no photo left behind)", what, got, objects)
	}
}

func TestAskMoreAndAnswer(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := f.mustSubmit("rider1", f.submission("k", inWest))
	f.svc.Wait()

	// Asking needs an acknowledged report and a note.
	_, err := f.svc.Act(ctx, officerO1, r.ID, reports.ActionInput{Action: reports.ActAskMore, Note: "请再拍一张"})
	var te *reports.TransitionError
	if !errors.As(err, &te) {
		t.Fatalf("ask_more on a submitted report: %v, want a TransitionError", err)
	}
	if _, err := f.svc.Act(ctx, officerO1, r.ID, reports.ActionInput{Action: reports.ActAcknowledge}); err != nil {
		t.Fatal(err)
	}
	var ve *reports.ValidationError
	if _, err := f.svc.Act(ctx, officerO1, r.ID, reports.ActionInput{Action: reports.ActAskMore, Note: "  "}); !errors.As(err, &ve) || ve.Field != "note" {
		t.Fatalf("ask_more without a note: %v, want a ValidationError on note", err)
	}
	if _, err := f.svc.Act(ctx, officerO1, r.ID, reports.ActionInput{Action: reports.ActAskMore, Note: "请从路口方向再拍一张"}); err != nil {
		t.Fatal(err)
	}
	if ev := f.events.list(); ev[len(ev)-1].Action != reports.ActAskMore {
		t.Errorf("last event %s, want ask_more", ev[len(ev)-1].Action)
	}

	before, objects := len(mustTimeline(t, f, r.ID)), f.objects()
	road := photo(t, "road-clean.jpg")
	refusals := []struct {
		name, rider string
		in          reports.MessageInput
		want        func(error) bool
	}{
		{"empty text", "rider1", reports.MessageInput{Key: "m0", Text: "  ", Photos: [][]byte{road}}, isField("text")},
		{"text too long", "rider1", reports.MessageInput{Key: "m0", Text: strings.Repeat("长", 501)}, isField("text")},
		{"a 4th photo", "rider1", reports.MessageInput{Key: "m0", Text: "四张", Photos: [][]byte{road, road, road, road}}, isField("photos")},
		{"no key", "rider1", reports.MessageInput{Text: "没有键"}, isField("Idempotency-Key")},
		{"not a photo", "rider1", reports.MessageInput{Key: "m0", Text: "坏图", Photos: [][]byte{photo(t, "not-an-image.jpg")}}, func(err error) bool {
			var pe *reports.PhotoError
			return errors.As(err, &pe)
		}},
		{"someone else's report", "rider2", reports.MessageInput{Key: "m0", Text: "不是我的", Photos: [][]byte{road}}, func(err error) bool { return errors.Is(err, reports.ErrNotFound) }},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := f.svc.Message(ctx, tc.rider, r.ID, tc.in)
			if !tc.want(err) {
				t.Errorf("err = %v", err)
			}
			f.unchanged(t, tc.name, r.ID, before, objects)
		})
	}

	e, created, err := f.svc.Message(ctx, "rider1", r.Ticket, reports.MessageInput{Key: "m1", Text: "从路口拍的", Photos: [][]byte{road}})
	if err != nil || !created {
		t.Fatalf("message: %v (created %v)", err, created)
	}
	if e.Action != reports.ActMessage || e.ActorRole != reports.RoleRider || len(e.Photos) != 1 || e.Note != "从路口拍的" {
		t.Errorf("entry = %+v", e)
	}
	rc, _, err := f.svc.MessagePhoto(ctx, r, e.Seq, 1, true)
	if err != nil {
		t.Fatalf("the message's thumbnail: %v", err)
	}
	rc.Close()
	if _, _, err := f.svc.MessagePhoto(ctx, r, e.Seq, 2, false); !errors.Is(err, reports.ErrNotFound) {
		t.Errorf("a photo the message does not have: %v, want ErrNotFound", err)
	}
	if got := len(f.objects()) - len(objects); got != 2 {
		t.Errorf("the message stored %d objects, want its photo and thumbnail", got)
	}
	again, created, err := f.svc.Message(ctx, "rider1", r.ID, reports.MessageInput{Key: "m1", Text: "从路口拍的", Photos: [][]byte{road}})
	if err != nil || created || again.Seq != e.Seq {
		t.Errorf("retry: seq %d created %v err %v, want seq %d, not created", again.Seq, created, err, e.Seq)
	}
	if _, _, err := f.svc.Message(ctx, "rider1", r.ID, reports.MessageInput{Key: "m1", Text: "别的内容"}); !errors.Is(err, reports.ErrIdempotencyKey) {
		t.Errorf("same key, other text: %v, want ErrIdempotencyKey", err)
	}
	// Unasked, without a photo.
	if _, _, err := f.svc.Message(ctx, "rider1", r.ID, reports.MessageInput{Key: "m2", Text: "晚上更危险"}); err != nil {
		t.Fatal(err)
	}
	if n := len(f.timeline(r.ID, reports.ActMessage)); n != 2 {
		t.Errorf("%d messages, want 2", n)
	}
	ev := f.events.list()
	if last := ev[len(ev)-1]; last.Action != reports.ActMessage || last.OfficerID != "o1" {
		t.Errorf("last event %+v, want a message for o1", last)
	}

	// Closed: refused, nothing written.
	if _, err := f.svc.Act(ctx, officerO1, r.ID, reports.ActionInput{Action: reports.ActReject, Reason: "not_a_problem"}); err != nil {
		t.Fatal(err)
	}
	before, objects = len(mustTimeline(t, f, r.ID)), f.objects()
	if _, _, err := f.svc.Message(ctx, "rider1", r.ID, reports.MessageInput{Key: "m3", Text: "还在", Photos: [][]byte{road}}); !errors.As(err, &te) {
		t.Errorf("message on a rejected report: %v, want a TransitionError", err)
	}
	f.unchanged(t, "closed report", r.ID, before, objects)
	if _, err := f.svc.Act(ctx, officerO1, r.ID, reports.ActionInput{Action: reports.ActAskMore, Note: "再说说"}); !errors.As(err, &te) {
		t.Errorf("ask_more on a rejected report: %v, want a TransitionError", err)
	}
}

func mustTimeline(t *testing.T, f *fixture, id string) []reports.Entry {
	t.Helper()
	es, err := f.svc.Timeline(context.Background(), id, 0)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func isField(field string) func(error) bool {
	return func(err error) bool {
		var ve *reports.ValidationError
		return errors.As(err, &ve) && ve.Field == field
	}
}

// Retries of one message racing each other, on two instances, write one
// entry and keep one set of photos.
func TestMessageRetriesRaceToOne(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := f.mustSubmit("rider1", f.submission("k", inWest))
	f.svc.Wait()
	objects := len(f.objects())
	other := f.service()
	in := reports.MessageInput{Key: "same", Text: "补充一张", Photos: [][]byte{photo(t, "road-clean.jpg")}}
	const n = 8
	var (
		wg      sync.WaitGroup
		created atomic.Int32
		seqs    sync.Map
	)
	for i := range n {
		svc := f.svc
		if i%2 == 1 {
			svc = other
		}
		wg.Go(func() {
			e, c, err := svc.Message(ctx, "rider1", r.ID, in)
			if err != nil {
				t.Errorf("copy %d: %v", i, err)
				return
			}
			if c {
				created.Add(1)
			}
			seqs.Store(e.Seq, true)
		})
	}
	wg.Wait()
	if got := len(f.timeline(r.ID, reports.ActMessage)); got != 1 {
		t.Errorf("%d message entries, want 1", got)
	}
	if got := created.Load(); got != 1 {
		t.Errorf("%d copies answered created, want 1", got)
	}
	distinct := 0
	seqs.Range(func(any, any) bool { distinct++; return true })
	if distinct != 1 {
		t.Errorf("the copies were answered with %d different entries, want 1", distinct)
	}
	if got := len(f.objects()) - objects; got != 2 {
		t.Errorf("%d new objects, want one photo and its thumbnail", got)
	}
}

// The document store failing between the photos and the entry leaves no
// entry and no photo.
func TestMessageStoreFailsAfterPhotos(t *testing.T) {
	f, stop := failingFixture(t)
	r := f.mustSubmit("rider1", f.submission("k", inWest))
	f.svc.Wait()
	objects := f.objects()
	var once sync.Once
	reached := false
	reports.SetStopAt(f.svc, func(p string) {
		if p == "message_photos" {
			reached = true
			if got := len(f.objects()) - len(objects); got != 2 {
				t.Errorf("at the failure point %d new objects are stored, want 2", got)
			}
			once.Do(stop)
		}
	})
	_, _, err := f.svc.Message(context.Background(), "rider1", r.ID, reports.MessageInput{Key: "m", Text: "补充", Photos: [][]byte{photo(t, "road-clean.jpg")}})
	if !reached {
		t.Fatal("the message never reached the point between its photos and its entry")
	}
	if !errors.Is(err, reports.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if got := f.objects(); !slices.Equal(got, objects) {
		t.Errorf("objects %v, want %v: the message's photos were left behind", got, objects)
	}
}
