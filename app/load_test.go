package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nuanxin/nuanxin/grid"
	"github.com/nuanxin/nuanxin/reports"
	"github.com/nuanxin/nuanxin/reports/reportstest"
)

// BenchmarkLoad loads the running application over loopback HTTP, as
// clients would, with NUANXIN_LOAD_REPORTS reports stored (default 100,000,
// 3% open): an officer's queue (GET /api/v1/queue) and report submission
// (POST /api/v1/reports, one 300 KB JPEG, a fresh Idempotency-Key each, one
// rider per client), each at concurrency 1, 4 and 16 for
// NUANXIN_LOAD_SECONDS (default 5) seconds. It prints requests/s, p50, p99,
// errors (answers other than 2xx, and failed requests), the cores this
// process kept busy and its CPU time per request, and submission's p50 on
// the empty store measured first, before the fill.
//
// One iteration is the whole run; run it alone, with a timeout to match:
//
//	NUANXIN_LOAD_REPORTS=100000 go test -run '^$' -bench Load -benchtime 1x -timeout 60m ./app
func BenchmarkLoad(b *testing.B) {
	total := loadSetting(b, "NUANXIN_LOAD_REPORTS", 100_000)
	secs := loadSetting(b, "NUANXIN_LOAD_SECONDS", 5)
	for b.Loop() {
		loadRun(b, total, time.Duration(secs)*time.Second)
	}
}

func loadSetting(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: give a positive whole number", name, v)
	}
	return n
}

// Load city: 10×10 cells of 1 km; reports are filed in the 20 southern ones
// (rows 9 and 10, two templates each), whose officers hold 4 cells each.
const (
	loadRiders   = 16
	loadOfficers = 5
	loadCells    = 20
)

func loadRun(b *testing.B, total int, d time.Duration) {
	ctx := context.Background()
	a, base := mustApp(b, testEnv(b, map[string]string{
		// The fill's open reports are days old: the SLA worker would
		// escalate them all during the run. It runs at start, on the
		// empty store, and not again within the hour.
		"NUANXIN_SLA_INTERVAL": "1h",
	}))
	admin := login(b, base, "admin", adminPassword)
	cells := grid.GridCells("L", "芙蓉区", 112.9, 28.1, 0.01, 10, 10)
	data, err := grid.MarshalFeatureCollection(cells)
	if err != nil {
		b.Fatal(err)
	}
	admin.must("POST", "/api/v1/grid/import?mode=replace", data, nil, 200)
	filed := cells[len(cells)-loadCells:]
	var officer *client
	for i := range loadOfficers {
		name := fmt.Sprintf("officer-load-%d", i+1)
		u := createStaff(b, admin, name, "officer")
		for _, c := range filed[i*loadCells/loadOfficers : (i+1)*loadCells/loadOfficers] {
			admin.must("PUT", "/api/v1/grid/cells/"+c.Code+"/officers", map[string]string{"primary_id": u.ID}, nil, 200)
		}
		if i == 0 {
			officer = login(b, base, name, "staff-password")
		}
	}
	riders := make([]*client, loadRiders)
	riderIDs := make([]string, loadRiders)
	for i := range riders {
		phone := fmt.Sprintf("1390013%04d", i)
		(&client{t: b, base: base}).must("POST", "/api/v1/accounts", map[string]any{"phone": phone, "display_name": fmt.Sprintf("骑手%d", i+1), "password": "rider-password", "work": "courier", "accept_privacy": true}, nil, 201)
		riders[i] = login(b, base, phone, "rider-password")
		var me struct{ User user }
		riders[i].must("GET", "/api/v1/me", nil, &me, 200)
		riderIDs[i] = me.User.ID
	}

	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64}}
	defer hc.CloseIdleConnections()
	places := reportstest.PlacesOf(filed)
	photo := photo300K(b)
	var bodies []submitBody
	for i, c := range a.Reports.Categories() {
		bodies = append(bodies, newSubmitBody(b, places[(i*3)%len(places)], c.Code, photo))
	}
	submit := func(phase string) func(w, i int) (int, error) {
		return func(w, i int) (int, error) {
			body := bodies[(w+i)%len(bodies)]
			req, err := http.NewRequest("POST", base+"/api/v1/reports", bytes.NewReader(body.data))
			if err != nil {
				return 0, err
			}
			req.Header.Set("Content-Type", body.ctype)
			req.Header.Set("Authorization", "Bearer "+riders[w%len(riders)].token)
			req.Header.Set("Idempotency-Key", fmt.Sprintf("load-%s-%d-%d", phase, w, i))
			return send(hc, req)
		}
	}
	queue := func(w, i int) (int, error) {
		req, err := http.NewRequest("GET", base+"/api/v1/queue", nil)
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+officer.token)
		return send(hc, req)
	}

	// Submission on the empty store first: the reference for the same
	// figure with the reports stored.
	empty := runSubmissions(a, d, 1, submit("empty"))
	b.Logf("submission on the empty store, concurrency 1: %s", empty)

	res, err := reportstest.Fill(ctx, a.Stores.DB, a.Reports, reportstest.FillOptions{Reports: total, Places: places, Reporters: riderIDs})
	if err != nil {
		b.Fatal(err)
	}
	rebuild := time.Now()
	// Collections created since the start (the riders' lists) get their
	// _id index now rather than at the app's next pass.
	if _, err := a.Stores.IndexIDs(ctx); err != nil {
		b.Fatal(err)
	}
	// New registered the feed's hooks when it first loaded the model;
	// passing the feed again would register them twice: rebuild only.
	if err := a.Reports.LoadOpen(ctx, nil); err != nil {
		b.Fatal(err)
	}
	b.Logf("stored %d reports (%d open, by cell %v) in %s; indexed and rebuilt the open model in %s",
		len(res.Reports), res.Open, res.OpenByCell, res.Elapsed.Round(time.Millisecond), time.Since(rebuild).Round(time.Millisecond))
	b.ReportMetric(res.Elapsed.Seconds(), "fill-s")

	var q struct{ Reports []reports.Report }
	officer.must("GET", "/api/v1/queue", nil, &q, 200)
	if len(q.Reports) == 0 {
		b.Fatal("the officer's queue is empty after the fill")
	}

	var table strings.Builder
	fmt.Fprintf(&table, "%d reports stored (%d open), %s per run, loopback\n", len(res.Reports), res.Open, d)
	fmt.Fprintf(&table, "%-36s %11s %10s %10s %10s %7s %10s %10s %s\n", "request", "concurrency", "requests/s", "p50", "p99", "errors", "cores busy", "CPU/req", "thumbnails: done after the run, and reports/s counting them")
	row := func(name string, c int, s loadStats) {
		drain := ""
		if s.drain > 0 {
			drain = fmt.Sprintf("%s, %.1f/s", ms(s.drain), float64(s.requests)/(s.elapsed+s.drain).Seconds())
		}
		fmt.Fprintf(&table, "%-36s %11d %10.1f %10s %10s %7d %10.2f %10s %s\n", name, c, s.rps, ms(s.p50), ms(s.p99), s.errors, s.cores, ms(s.cpu), drain)
	}
	row("submission (empty store)", 1, empty)
	for _, c := range []int{1, 4, 16} {
		cpu := cpuTime()
		s := runLoad(d, c, queue)
		used := cpuTime() - cpu
		s.cores, s.cpu = used.Seconds()/s.elapsed.Seconds(), used/time.Duration(max(1, s.requests))
		row("officer queue (GET /api/v1/queue)", c, s)
		s.report(b, fmt.Sprintf("queue-c%d", c))
	}
	var full loadStats
	for _, c := range []int{1, 4, 16} {
		s := runSubmissions(a, d, c, submit(fmt.Sprintf("c%d", c)))
		row("submission (300 KB JPEG)", c, s)
		s.report(b, fmt.Sprintf("submit-c%d", c))
		if c == 1 {
			full = s
		}
	}
	b.ReportMetric(float64(empty.p50.Microseconds())/1000, "submit-empty-c1-p50-ms")
	ratio := float64(full.p50) / float64(empty.p50)
	b.ReportMetric(ratio, "submit-p50-ratio")
	fmt.Fprintf(&table, "submission p50 with %d reports / on the empty store, concurrency 1: %s / %s = %.2f\n", len(res.Reports), ms(full.p50), ms(empty.p50), ratio)
	// Straight to the output: the benchmark's log is cut after a few lines.
	fmt.Fprintf(os.Stdout, "\n%s\n", table.String())
}

// runSubmissions runs submissions like runLoad, then waits for the
// thumbnails they left (settle). It measures the cores this process kept
// busy while the submissions ran, and the CPU time per submission with its
// thumbnail: the machine's share the submissions took, in this process
// (the client, the application and the embedded stores all run in it).
// Cores busy near the machine's count at concurrency 1 mean that more
// concurrency has no CPU left to use.
func runSubmissions(a *App, d time.Duration, c int, do func(w, i int) (int, error)) loadStats {
	cpu := cpuTime()
	s := runLoad(d, c, do)
	s.cores = (cpuTime() - cpu).Seconds() / s.elapsed.Seconds()
	s.drain = settle(a)
	s.cpu = (cpuTime() - cpu) / time.Duration(max(1, s.requests))
	return s
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// settle waits until the work the last run left behind (thumbnails made
// after the answer) is done, so that it does not weigh on the next run, and
// says how long that took.
func settle(a *App) time.Duration {
	start := time.Now()
	a.Reports.Wait()
	return time.Since(start)
}

type submitBody struct {
	data  []byte
	ctype string
}

func newSubmitBody(b *testing.B, at reportstest.Place, category string, photo []byte) submitBody {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range map[string]string{"category": category, "description": "负载测试",
		"lat": strconv.FormatFloat(at.Lat, 'f', 6, 64), "lng": strconv.FormatFloat(at.Lng, 'f', 6, 64)} {
		if err := mw.WriteField(k, v); err != nil {
			b.Fatal(err)
		}
	}
	w, err := mw.CreateFormFile("photos", "p.jpg")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := w.Write(photo); err != nil {
		b.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		b.Fatal(err)
	}
	return submitBody{data: buf.Bytes(), ctype: mw.FormDataContentType()}
}

// send does the request and reads the answer to its end, so that the
// connection is reused.
func send(hc *http.Client, req *http.Request) (int, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return resp.StatusCode, err
	}
	return resp.StatusCode, nil
}

// loadStats is what one load run measured.
type loadStats struct {
	requests, errors int
	rps              float64
	p50, p99         time.Duration
	elapsed          time.Duration // until the last request ended
	drain            time.Duration // until the work left after the answers was done
	cores            float64       // CPU time used while the requests ran, over elapsed
	cpu              time.Duration // CPU time per request, the drain's included
	firstErr         string
}

func (s loadStats) String() string {
	out := fmt.Sprintf("%d requests, %.1f/s, p50 %s, p99 %s, %d errors", s.requests, s.rps, ms(s.p50), ms(s.p99), s.errors)
	if s.firstErr != "" {
		out += " (first: " + s.firstErr + ")"
	}
	return out
}

func (s loadStats) report(b *testing.B, prefix string) {
	b.ReportMetric(s.rps, prefix+"-rps")
	b.ReportMetric(float64(s.p50.Microseconds())/1000, prefix+"-p50-ms")
	b.ReportMetric(float64(s.p99.Microseconds())/1000, prefix+"-p99-ms")
	b.ReportMetric(float64(s.errors), prefix+"-errors")
	if s.errors > 0 {
		b.Logf("%s: %s", prefix, s)
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// runLoad runs c clients, each sending do(client, i) one after another until
// d has passed, and measures every request: an error is a request that
// failed or answered other than 2xx. Requests/s counts every request over
// the time until the last one ended.
func runLoad(d time.Duration, c int, do func(w, i int) (int, error)) loadStats {
	var (
		mu   sync.Mutex
		lat  []time.Duration
		s    loadStats
		wg   sync.WaitGroup
		stop = time.Now().Add(d)
	)
	start := time.Now()
	for w := range c {
		wg.Go(func() {
			var mine []time.Duration
			errs, first := 0, ""
			for i := 0; time.Now().Before(stop); i++ {
				t0 := time.Now()
				status, err := do(w, i)
				mine = append(mine, time.Since(t0))
				if err != nil || status < 200 || status > 299 {
					errs++
					if first == "" {
						first = fmt.Sprintf("status %d, %v", status, err)
					}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			lat = append(lat, mine...)
			s.errors += errs
			if s.firstErr == "" {
				s.firstErr = first
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	s.elapsed = elapsed
	slices.Sort(lat)
	s.requests = len(lat)
	s.rps = float64(len(lat)) / elapsed.Seconds()
	if len(lat) > 0 {
		s.p50, s.p99 = lat[len(lat)/2], lat[int(0.99*float64(len(lat)-1))]
	}
	return s
}
