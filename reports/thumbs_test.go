package reports_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"golang.org/x/image/draw"

	"github.com/nuanxin/nuanxin/reports"
	"github.com/nuanxin/nuanxin/storage/storagetest"
)

// damagedPixels is a JPEG whose structure passes every check made before
// the answer (header, segments, end of image) but whose image data cannot
// be decoded: what a phone that lost part of a file in flight could send.
func damagedPixels(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 13)
	}
	img.Set(1, 1, color.RGBA{R: 200, A: 255})
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	sos := bytes.Index(b, []byte{0xFF, 0xDA})
	start := sos + 2 + (int(b[sos+2])<<8 | int(b[sos+3]))
	for i := start; i < len(b)-2; i++ {
		b[i] = 0xAA // no 0xFF: the segment walk still finds the end of image
	}
	if _, err := jpeg.DecodeConfig(bytes.NewReader(b)); err != nil {
		t.Fatalf("the header must stay readable: %v", err)
	}
	if _, err := jpeg.Decode(bytes.NewReader(b)); err == nil {
		t.Fatal("the pixels must be undecodable")
	}
	return b
}

func objectExists(t *testing.T, f *fixture, key string) bool {
	t.Helper()
	keys, err := f.blobs.List(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k == key {
			return true
		}
	}
	return false
}

func pendingNotes(t *testing.T, f *fixture, id string) int64 {
	t.Helper()
	n, err := f.db.Collection("report_pending").CountDocuments(context.Background(), bson.D{{Key: "report_id", Value: id}})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// The answer comes before the thumbnail; the thumbnail follows, and the
// thumbnail route shows the photo itself meanwhile.
func TestThumbnailAfterTheAnswer(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	release := reports.HoldThumbSlots(f.svc)
	r, created, err := f.svc.Submit(ctx, "rider1", f.submission("k", inWest))
	if err != nil || !created {
		t.Fatalf("submit: %v, created %v", err, created)
	}
	p := r.Photos[0]
	if objectExists(t, f, p.ThumbKey) {
		t.Fatal("the thumbnail was made before the answer")
	}
	rc, _, err := f.svc.OpenPhoto(ctx, r, p.Key, true)
	if err != nil {
		t.Fatalf("thumbnail before it is made: %v; want the photo", err)
	}
	body, _ := io.ReadAll(rc)
	rc.Close()
	if cfg, err := jpeg.DecodeConfig(bytes.NewReader(body)); err != nil || cfg.Width != p.Width {
		t.Fatalf("the thumbnail route served %d×?, %v; want the photo itself (%d wide)", cfg.Width, err, p.Width)
	}
	release()
	f.svc.Wait()
	rc, _, err = f.svc.OpenPhoto(ctx, r, p.Key, true)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(rc)
	rc.Close()
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(body))
	if err != nil || max(cfg.Width, cfg.Height) != reports.ThumbMaxSide {
		t.Fatalf("thumbnail %d×%d, %v; want its longest side %d", cfg.Width, cfg.Height, err, reports.ThumbMaxSide)
	}
	if n := pendingNotes(t, f, r.ID); n != 0 {
		t.Errorf("%d pending notes left once the thumbnail is made", n)
	}
}

// An instance that stops after answering but before the thumbnail leaves
// the pending note; the repair job of the next run makes the thumbnail from
// the stored photo and removes the note.
func TestThumbnailsAfterAStop(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	release := reports.HoldThumbSlots(f.svc)
	r, _, err := f.svc.Submit(ctx, "rider1", f.submission("k", inWest))
	if err != nil {
		t.Fatal(err)
	}
	f.svc.StopLater() // the shutdown: the waiting thumbnail is given up
	f.svc.Wait()
	release()
	if objectExists(t, f, r.Photos[0].ThumbKey) {
		t.Fatal("a thumbnail was made after the stop")
	}
	if n := pendingNotes(t, f, r.ID); n != 1 {
		t.Fatalf("%d pending notes after the stop, want the submission's one", n)
	}
	// A repair run while every thumbnail slot is busy leaves the work to
	// the next run rather than wait (the SLA worker runs after it).
	repairer := later(f.service(), time.Minute)
	busy := reports.HoldThumbSlots(repairer)
	if err := repairer.Repair(ctx); err != nil {
		t.Fatal(err)
	}
	busy()
	if objectExists(t, f, r.Photos[0].ThumbKey) || pendingNotes(t, f, r.ID) != 1 {
		t.Fatal("a busy repair run made the thumbnail or dropped the note")
	}
	if err := repairer.Repair(ctx); err != nil {
		t.Fatal(err)
	}
	if !objectExists(t, f, r.Photos[0].ThumbKey) {
		t.Error("Repair did not make the thumbnail")
	}
	if n := pendingNotes(t, f, r.ID); n != 0 {
		t.Errorf("%d pending notes after Repair", n)
	}
}

// A photo whose pixels turn out damaged after the answer is flagged on the
// report by one system entry, which reaches the consumers (the inbox tells
// the rider), however many instances find it at once.
func TestDamagedPixelsFlagged(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	in := f.submission("k", inWest)
	in.Photos = [][]byte{photo(t, "road-clean.jpg"), damagedPixels(t)}
	release := reports.HoldThumbSlots(f.svc)
	r, created, err := f.svc.Submit(ctx, "rider1", in)
	if err != nil || !created {
		t.Fatalf("submit: %v, created %v; the structure is sound, so the answer takes it", err, created)
	}
	// Stop before the thumbnails, then two instances repair at once.
	f.svc.StopLater()
	f.svc.Wait()
	release()
	var wg sync.WaitGroup
	for range 2 {
		svc := later(f.service(), time.Minute)
		wg.Go(func() {
			if err := svc.Repair(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()

	got, err := f.svc.Get(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.UnreadablePhotos) != 1 || got.UnreadablePhotos[0] != 1 {
		t.Errorf("unreadable photos = %v, want [1] (the second)", got.UnreadablePhotos)
	}
	if got.Status != reports.StatusSubmitted {
		t.Errorf("status = %s: flagging a photo must not change it", got.Status)
	}
	tl, err := f.svc.Timeline(ctx, r.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	flags := 0
	for _, e := range tl {
		if e.Action == reports.ActPhotoUnreadable {
			flags++
			if e.ActorRole != reports.RoleSystem || e.Note != "photo 2" {
				t.Errorf("flag entry by %s, note %q", e.ActorRole, e.Note)
			}
		}
	}
	if flags != 1 {
		t.Errorf("%d photo_unreadable entries, want 1", flags)
	}
	told := 0
	for _, e := range f.events.list() {
		if e.Action == reports.ActPhotoUnreadable && e.ReportID == r.ID && e.ReporterID == "rider1" {
			told++
		}
	}
	if told != 1 {
		t.Errorf("the consumers got the flag %d times, want 1", told)
	}
	if !objectExists(t, f, r.Photos[0].ThumbKey) {
		t.Error("the sound photo has no thumbnail")
	}
	if objectExists(t, f, r.Photos[1].ThumbKey) {
		t.Error("the damaged photo has a thumbnail")
	}
	if n := pendingNotes(t, f, r.ID); n != 0 {
		t.Errorf("%d pending notes left", n)
	}
}

// SubmitWriters bounds the submissions writing at once: eight riders
// submitting together, each held a moment inside its writes, never have
// more than the bound writing; without it they overlap.
func TestSubmitWritersBound(t *testing.T) {
	f := newFixture(t)
	for _, bound := range []int{1, 0} {
		svc := reports.NewService(f.db, f.blobs, f.grid, f.accounts, nil, reports.Config{SubmitWriters: bound}, storagetest.Logger())
		var mu sync.Mutex
		inside, most := 0, 0
		reports.SetStopAt(svc, func(p string) {
			mu.Lock()
			defer mu.Unlock()
			switch p {
			case "pending": // the first write is done
				inside++
				most = max(most, inside)
				mu.Unlock()
				time.Sleep(20 * time.Millisecond)
				mu.Lock()
			case "open": // the last writes are under way
				inside--
			}
		})
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				if _, _, err := svc.Submit(context.Background(), fmt.Sprintf("rider-%d-%d", bound, i), f.tinySubmission("k")); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		svc.Wait()
		switch {
		case bound == 1 && most != 1:
			t.Errorf("with one writer allowed, %d submissions wrote at once", most)
		case bound == 0 && most < 2:
			t.Errorf("without a bound, at most %d submission wrote at once: the test cannot tell the bound works", most)
		}
	}
}

// A phone photo's thumbnail comes from a quarter-size decode: the same size
// as from the full decode, looking the same, and damaged pixels still found.
func TestThumbnailOfALargePhoto(t *testing.T) {
	body := photo(t, "road-clean.jpg")
	full, err := jpeg.Decode(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if b := full.Bounds(); b.Dx() < 4*reports.ThumbMaxSide {
		t.Fatalf("road-clean.jpg is %v: too small to take the quarter-size path", b.Size())
	}
	thumb, w, h, err := reports.Thumbnail(body)
	if err != nil {
		t.Fatal(err)
	}
	got, err := jpeg.Decode(bytes.NewReader(thumb))
	if err != nil {
		t.Fatal(err)
	}
	if got.Bounds().Size() != image.Pt(w, h) || w != reports.ThumbMaxSide {
		t.Fatalf("thumbnail %v, said %d×%d, want %d wide", got.Bounds().Size(), w, h, reports.ThumbMaxSide)
	}
	want := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.ApproxBiLinear.Scale(want, want.Bounds(), full, full.Bounds(), draw.Src, nil)
	if p := psnrRGB(got, want); p < 30 {
		t.Errorf("thumbnail against the full decode shrunk: PSNR %.1f dB, want ≥ 30", p)
	} else {
		t.Logf("PSNR %.1f dB against the full decode shrunk", p)
	}

	// The same photo with its image data overwritten after the first
	// kilobyte of the scan: sound structure, damaged pixels.
	bad := bytes.Clone(body)
	sos := bytes.Index(bad, []byte{0xFF, 0xDA})
	for i := sos + 1024; i < len(bad)-2; i++ {
		bad[i] = 0xAA
	}
	if _, err := jpeg.Decode(bytes.NewReader(bad)); err == nil {
		t.Fatal("the damaged copy must be undecodable")
	}
	var perr *reports.PhotoError
	if _, _, _, err := reports.Thumbnail(bad); !errors.As(err, &perr) {
		t.Fatalf("damaged pixels: err = %v, want a *PhotoError", err)
	}
}

func psnrRGB(a, b image.Image) float64 {
	var sum float64
	n := 0
	for y := 0; y < b.Bounds().Dy(); y++ {
		for x := 0; x < b.Bounds().Dx(); x++ {
			ca := color.RGBAModel.Convert(a.At(x, y)).(color.RGBA)
			cb := color.RGBAModel.Convert(b.At(x, y)).(color.RGBA)
			for _, d := range []float64{float64(ca.R) - float64(cb.R), float64(ca.G) - float64(cb.G), float64(ca.B) - float64(cb.B)} {
				sum += d * d
				n++
			}
		}
	}
	return 10 * math.Log10(255*255/(sum/float64(n)))
}
