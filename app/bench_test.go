package app

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nuanxin/nuanxin/storage"
)

// photo300K is a 1600×1200 JPEG of about 300 KB, what a phone page uploads
// after downscaling.
func photo300K(b *testing.B) []byte {
	b.Helper()
	f, err := os.ReadFile("testdata/road-clean.jpg")
	if err != nil {
		b.Fatal(err)
	}
	img, _, err := image.Decode(bytes.NewReader(f))
	if err != nil {
		b.Fatal(err)
	}
	best := []byte(nil)
	for q := 95; q >= 40; q -= 5 {
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err != nil {
			b.Fatal(err)
		}
		best = buf.Bytes()
		if buf.Len() <= 310<<10 {
			break
		}
	}
	return best
}

func multipartReport(b *testing.B, photo []byte) (body []byte, ctype string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range westCell {
		_ = mw.WriteField(k, v)
	}
	w, _ := mw.CreateFormFile("photos", "p.jpg")
	_, _ = w.Write(photo)
	mw.Close()
	return buf.Bytes(), mw.FormDataContentType()
}

// benchApp is the app with a map and a rider, ready for submissions.
func benchApp(b *testing.B) (*App, string, *client) {
	b.Helper()
	a, base := mustApp(b, testEnv(b, map[string]string{"NUANXIN_SLA_INTERVAL": "1h"}))
	admin := login(b, base, "admin", adminPassword)
	admin.must("POST", "/api/v1/grid/import?mode=replace", twoCells(b), nil, 200)
	(&client{t: b, base: base}).must("POST", "/api/v1/accounts", map[string]any{"phone": "13800138077", "display_name": "骑手", "password": "rider-password", "work": "courier", "accept_privacy": true}, nil, 201)
	return a, base, login(b, base, "13800138077", "rider-password")
}

// submitOnce sends one report through the real HTTP router.
func submitOnce(b *testing.B, base, token, key string, body []byte, ctype string) {
	req, _ := http.NewRequest("POST", base+"/api/v1/reports", bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Idempotency-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		b.Fatalf("submit: status %d", resp.StatusCode)
	}
}

// bareOnce is the floor: one object PUT of the same bytes and one document
// insert, on the same stores, with nothing of the product in between.
func bareOnce(b *testing.B, blobs *storage.Blobs, coll *mongo.Collection, i int, photo []byte) {
	key := fmt.Sprintf("baseline/%d.jpg", i)
	if err := blobs.Put(context.Background(), key, bytes.NewReader(photo), int64(len(photo)), "image/jpeg", nil); err != nil {
		b.Fatal(err)
	}
	if _, err := coll.InsertOne(context.Background(), bson.D{{Key: "_id", Value: key}, {Key: "category", Value: "road_damage"},
		{Key: "lat", Value: 28.195}, {Key: "lng", Value: 112.975}, {Key: "photo", Value: key}, {Key: "at", Value: time.Now()}}); err != nil {
		b.Fatal(err)
	}
}

func bareStores(b *testing.B, a *App) (*storage.Blobs, *mongo.Collection) {
	return a.Stores.Blobs, a.Stores.DB.Collection("baseline")
}

// BenchmarkSubmit submits reports with a 300 KB, 1600×1200 JPEG through the
// real HTTP router on the embedded stores, one after another, as one rider
// would. It also times the bare stores (BenchmarkSubmitBaseline's work) in
// the same run and reports the ratio of throughputs (issue 9's goal: at
// least 0.25).
//
// ns/op is the time to the answer. The thumbnails are made after it
// (reports/thumbs.go) on at most half the cores, in parallel with the next
// submissions; the run waits for the last of them and reports, as
// with-thumbs-ms/op, the time per submission including them, so that work
// moved after the answer is still counted somewhere.
func BenchmarkSubmit(b *testing.B) {
	a, base, rider := benchApp(b)
	photo := photo300K(b)
	body, ctype := multipartReport(b, photo)
	blobs, coll := bareStores(b, a)

	// The floor is measured between submissions, once every floorEvery,
	// rather than in a block before them: this machine's disk is noisy
	// (the bare floor alone ranged 2.3 to 6.6 ms/op from one run to the
	// next), and a ratio of two figures taken minutes apart measured the
	// disk's mood more than the product.
	const floorEvery = 4
	var bare time.Duration
	floors := 0
	b.SetBytes(int64(len(photo)))
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if i%floorEvery == 0 {
			b.StopTimer()
			start := time.Now()
			bareOnce(b, blobs, coll, floors, photo)
			bare += time.Since(start)
			floors++
			b.StartTimer()
		}
		submitOnce(b, base, rider.token, fmt.Sprintf("bench-%d-%d", b.N, i), body, ctype)
		i++
	}
	b.StopTimer()
	bare /= time.Duration(floors)
	per := b.Elapsed() / time.Duration(i)
	drainStart := time.Now()
	a.Reports.Wait()
	whole := (b.Elapsed() + time.Since(drainStart)) / time.Duration(i)
	b.ReportMetric(float64(bare.Microseconds())/1000, "bare-ms/op")
	b.ReportMetric(float64(bare)/float64(per), "throughput-vs-bare")
	b.ReportMetric(float64(whole.Microseconds())/1000, "with-thumbs-ms/op")
	b.Logf("photo %d KB; product %s/op to the answer, %s/op with the thumbnails made after it; bare stores %s/op; ratio %.2f",
		len(photo)>>10, per.Round(time.Microsecond), whole.Round(time.Microsecond), bare.Round(time.Microsecond), float64(bare)/float64(per))
}

// BenchmarkSubmitBaseline is the bare object PUT plus document insert of the
// same bytes.
func BenchmarkSubmitBaseline(b *testing.B) {
	a, _, _ := benchApp(b)
	photo := photo300K(b)
	blobs, coll := bareStores(b, a)
	b.SetBytes(int64(len(photo)))
	i := 0
	for b.Loop() {
		bareOnce(b, blobs, coll, i, photo)
		i++
	}
}
