package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// openLive opens the live stream with a bearer token and returns a channel
// that is closed when the server ends the stream, and the lines read.
func openLive(t *testing.T, c *client) (ended <-chan struct{}, lines func() []string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", c.base+"/api/v1/live", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET /api/v1/live: status %d", resp.StatusCode)
	}
	done := make(chan struct{})
	connected := make(chan struct{})
	var mu sync.Mutex
	var got []string
	go func() {
		defer close(done)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			mu.Lock()
			got = append(got, sc.Text())
			mu.Unlock()
			if sc.Text() == ": connected" {
				close(connected)
			}
		}
	}()
	select {
	case <-connected:
	case <-done:
		t.Fatal("the live stream ended before it connected")
	case <-time.After(10 * time.Second):
		t.Fatal("the live stream did not connect")
	}
	return done, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
}

// waitEnded fails the test if the stream is still open after limit, which
// is a guard against hanging, far above the half-second recheck.
func waitEnded(t *testing.T, ended <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatalf("the live stream was still open 10 s after %s", what)
	}
}

// A live stream must not outlive its session: logging out, or an admin
// disabling the account, through either of two instances, ends the streams
// open on both.
func TestLiveStreamEndsWithItsSession(t *testing.T) {
	baseA, baseB := twoInstances(t)
	admin := login(t, baseA, "admin", adminPassword)
	for _, phone := range []string{"13800138021", "13800138022"} {
		(&client{t: t, base: baseA}).must("POST", "/api/v1/accounts", map[string]any{"phone": phone, "display_name": "骑手", "password": "rider-password", "work": "courier", "accept_privacy": true}, nil, 201)
	}

	t.Run("logout", func(t *testing.T) {
		onA := login(t, baseA, "13800138021", "rider-password")
		onB := &client{t: t, base: baseB, token: onA.token}
		endedA, _ := openLive(t, onA)
		endedB, _ := openLive(t, onB)
		other := login(t, baseA, "13800138022", "rider-password")
		endedOther, _ := openLive(t, other)

		onA.must("POST", "/api/v1/auth/logout", nil, nil, 204)
		waitEnded(t, endedA, "logout, on the instance that logged out")
		waitEnded(t, endedB, "logout, on the other instance")
		select {
		case <-endedOther:
			t.Error("another rider's stream ended with this rider's logout")
		default:
		}
		onB.must("GET", "/api/v1/live", nil, nil, 401)
	})

	t.Run("disable", func(t *testing.T) {
		rider := login(t, baseB, "13800138022", "rider-password")
		ended, lines := openLive(t, rider)
		var me struct{ User struct{ ID string } }
		rider.must("GET", "/api/v1/me", nil, &me, 200)
		admin.must("PUT", "/api/v1/admin/users/"+me.User.ID+"/disabled", map[string]bool{"disabled": true}, nil, 200)
		waitEnded(t, ended, "the account was disabled on the other instance")
		if l := lines(); !contains(l, "event: ended") {
			t.Errorf("the stream ended without telling the page (lines %q)", l)
		}
	})
}

// twoInstances serves two applications over the same stores.
func twoInstances(t *testing.T) (baseA, baseB string) {
	t.Helper()
	shared := sharedStores(t)
	_, baseA = mustApp(t, testEnv(t, shared))
	_, baseB = mustApp(t, testEnv(t, shared))
	return baseA, baseB
}

// The OpenAPI document is built on first request; 64 first requests at once
// must all get the same complete document (and -race must see no race).
func TestOpenAPIConcurrentFirstFetch(t *testing.T) {
	_, base := mustApp(t, testEnv(t, nil))
	// A client of its own, whose 64 keep-alive connections are closed
	// before the server shuts down rather than waited for.
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer c.CloseIdleConnections()
	const n = 64
	bodies := make([][]byte, n)
	statuses := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			resp, err := c.Get(base + "/api/openapi.json")
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			statuses[i] = resp.StatusCode
			bodies[i], _ = io.ReadAll(resp.Body)
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if statuses[i] != 200 || !bytes.Equal(bodies[i], bodies[0]) || !bytes.Contains(bodies[i], []byte(`"/api/v1/reports"`)) {
			t.Fatalf("fetch %d: status %d, %d bytes, same as the first: %v", i, statuses[i], len(bodies[i]), bytes.Equal(bodies[i], bodies[0]))
		}
	}
}

// rss is the process's resident memory in bytes, from /proc (Linux, where
// this project runs and CI runs).
func rss() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS in /proc/self/status")
}

// zeros is an endless reader of zero bytes: a large body that the client
// does not hold in memory, so the memory measured is the server's.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// post sends n bytes of zeros to path, with the given headers.
func postZeros(base, path string, n int64, header map[string]string) (int, string, error) {
	req, err := http.NewRequest("POST", base+path, io.LimitReader(zeros{}, n))
	if err != nil {
		return 0, "", err
	}
	req.ContentLength = n
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// A large body is refused by its declared length, before it is read:
// sixteen 30 MB logins at once cost the server almost nothing.
func TestLargeBodiesRefusedBeforeReading(t *testing.T) {
	_, base := mustApp(t, testEnv(t, nil))
	runtime.GC()
	before, err := rss()
	if err != nil {
		t.Fatalf("read resident memory: %v", err)
	}
	peak := before
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if r, err := rss(); err == nil && r > peak {
				peak = r
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			status, body, err := postZeros(base, "/api/v1/auth/login", 30<<20, nil)
			// The server may close the connection while the client is still
			// sending; what must not happen is anything but a refusal.
			if err == nil && (status != 413 || !strings.Contains(body, "at most 64 KB")) {
				t.Errorf("login %d with 30 MB: status %d %s, want 413 naming the limit", i, status, body)
			}
		})
	}
	wg.Wait()
	close(stop)
	<-sampled
	grew := peak - before
	t.Logf("resident memory %d MB before, peak %d MB during (+%d MB)", before>>20, peak>>20, grew>>20)
	if grew > 50<<20 {
		t.Errorf("16 refused 30 MB bodies raised resident memory by %d MB; want under 50 MB", grew>>20)
	}

	// The upload routes take megabytes, but only from a signed-in caller:
	// the same 5 MB form is refused unread from an anonymous one and read
	// and judged (the "photo" is zeros) from a rider.
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	_ = mw.WriteField("category", "road_damage")
	fw, _ := mw.CreateFormFile("photos", "zeros.jpg")
	_, _ = io.CopyN(fw, zeros{}, 5<<20)
	_ = mw.Close()
	upload := func(token string) (int, string) {
		req, _ := http.NewRequest("POST", base+"/api/v1/reports", bytes.NewReader(form.Bytes()))
		req.Header.Set("Content-Type", mw.FormDataContentType())
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, body := upload(""); status != 413 && status != 0 {
		t.Errorf("anonymous 5 MB report: status %d %s, want 413", status, body)
	}
	rider := registerRider(t, base, "13800138031")
	if status, body := upload(rider.token); status != 422 {
		t.Errorf("signed-in 5 MB report of zeros: status %d %s; want 422 (read, then refused as not a photo)", status, body)
	}

	// Compressed bodies would be inflated in memory; chunked ones have no
	// length to check.
	var gz bytes.Buffer
	gz.WriteString("\x1f\x8b")
	req, _ := http.NewRequest("POST", base+"/api/v1/auth/login", bytes.NewReader(gz.Bytes()))
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != 415 {
		t.Errorf("gzip body: status %d, want 415", resp.StatusCode)
	}
	req, _ = http.NewRequest("POST", base+"/api/v1/auth/login", io.MultiReader(strings.NewReader(`{"login":"admin",`), strings.NewReader(`"password":"x"}`)))
	req.ContentLength = -1 // chunked
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != 411 {
		t.Errorf("chunked body: status %d, want 411", resp.StatusCode)
	}
}

// registerRider registers a rider through the API and logs them in.
func registerRider(t *testing.T, base, phone string) *client {
	t.Helper()
	(&client{t: t, base: base}).must("POST", "/api/v1/accounts", map[string]any{"phone": phone, "display_name": "骑手" + phone[len(phone)-2:], "password": "rider-password", "work": "courier", "accept_privacy": true}, nil, 201)
	return login(t, base, phone, "rider-password")
}

// Serve returns when its context ends, even if that is before the server
// has started accepting: the race that made `go test ./...` hang for ten
// minutes when a test ended quickly.
func TestServeStopsWhenCanceledAtOnce(t *testing.T) {
	for i := range 3 {
		cfg, err := ParseConfig(nil, testEnv(t, nil), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		a, err := New(context.Background(), cfg, testLogger(), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		ln, _ := listen(t)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.Serve(ctx, ln) }()
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: Serve did not return within 30 s of its context ending", i)
		}
		a.Close()
	}
}

// Errors carry a stable code beside the English detail, so that a page or
// an app can tell the problem in its user's language: a PDF sent as a
// photo, a missing category, an unknown report, a login throttled or a
// body too large all say what they are.
func TestProblemCodes(t *testing.T) {
	_, base := mustApp(t, testEnv(t, nil))
	rider := registerRider(t, base, "13800138041")
	send := func(fields map[string]string, name string, data []byte) map[string]any {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		for k, v := range fields {
			_ = mw.WriteField(k, v)
		}
		if data != nil {
			w, _ := mw.CreateFormFile("photos", name)
			_, _ = w.Write(data)
		}
		_ = mw.Close()
		req, _ := http.NewRequest("POST", base+"/api/v1/reports", &body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("Authorization", "Bearer "+rider.token)
		req.Header.Set("Idempotency-Key", "codes-"+name+"-"+fields["category"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
			t.Errorf("content type %q, want application/problem+json", ct)
		}
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return out
	}
	pdf := send(map[string]string{"category": "road_damage", "lat": "28.195", "lng": "112.975"}, "scan.jpg", []byte("%PDF-1.4 not a photo"))
	if pdf["code"] != "photo.unsupported_format" || pdf["status"] != 415.0 {
		t.Errorf("a PDF named .jpg: %v; want status 415, code photo.unsupported_format", pdf)
	}
	photo, err := os.ReadFile("testdata/road-clean.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if got := send(map[string]string{"category": "no_such_category", "lat": "28.195", "lng": "112.975"}, "road.jpg", photo); got["code"] != "invalid.category" {
		t.Errorf("unknown category: %v; want code invalid.category", got)
	}
	var nf map[string]any
	req, _ := http.NewRequest("GET", base+"/api/v1/reports/0123456789abcdef01234567", nil)
	req.Header.Set("Authorization", "Bearer "+rider.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&nf)
	resp.Body.Close()
	if nf["code"] != "report.not_found" {
		t.Errorf("unknown report: %v; want code report.not_found", nf)
	}
	if status, body, err := postZeros(base, "/api/v1/auth/login", 1<<20, nil); err == nil && (status != 413 || !strings.Contains(body, `"code":"too_large"`)) {
		t.Errorf("1 MB login: %d %s; want 413 with code too_large", status, body)
	}
}

// The OpenAPI document names the real fields of the upload routes, so that
// a client generated from it sends what the server reads.
func TestOpenAPIDescribesUploads(t *testing.T) {
	_, base := mustApp(t, testEnv(t, nil))
	var spec struct {
		Paths map[string]map[string]struct {
			RequestBody struct {
				Content map[string]struct {
					Schema struct {
						Required   []string
						Properties map[string]any
					}
				}
			} `json:"requestBody"`
		}
	}
	(&client{t: t, base: base}).must("GET", "/api/openapi.json", nil, &spec, 200)
	for path, want := range map[string][]string{
		"/api/v1/reports":              {"photos", "category", "lat", "lng", "description", "address", "manual"},
		"/api/v1/reports/{id}/resolve": {"photo", "note"},
	} {
		form := spec.Paths[path]["post"].RequestBody.Content["multipart/form-data"].Schema
		for _, f := range want {
			if form.Properties[f] == nil {
				t.Errorf("POST %s: the form's field %q is not described (have %v)", path, f, form.Properties)
			}
		}
		if form.Properties["filename"] != nil {
			t.Errorf("POST %s is still described as a generic upload", path)
		}
	}
}

// A request refused before its body is read must not leave that body on the
// connection to be read as the next request: the next request on the same
// keep-alive connection is answered as itself.
func TestRefusedUploadLeavesConnectionClean(t *testing.T) {
	_, base := mustApp(t, testEnv(t, nil))
	admin := login(t, base, "admin", adminPassword)
	createStaff(t, admin, "officer-upload", "officer")
	officer := login(t, base, "officer-upload", "staff-password")
	c := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1}}
	defer c.CloseIdleConnections()
	for i := range 5 {
		for _, size := range []int64{40 << 10, 300 << 10} {
			// Past what arrives with the headers, and refused by the gate
			// unread: anonymous (401), or an officer, who files no
			// reports (403).
			req, _ := http.NewRequest("POST", base+"/api/v1/reports", io.LimitReader(zeros{}, size))
			req.ContentLength = size
			req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
			want := 401
			if size > 64<<10 {
				req.Header.Set("Authorization", "Bearer "+officer.token)
				want = 403
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Fatalf("round %d: refused upload of %d bytes: status %d, want %d", i, size, resp.StatusCode, want)
			}
			resp, err = c.Get(base + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("round %d: the request after a refused upload of %d bytes: status %d, want 200", i, size, resp.StatusCode)
			}
		}
	}
}
