package app

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nuanxin/nuanxin/accounts"
	"github.com/nuanxin/nuanxin/policy"
)

type problemDoc struct {
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Location string `json:"location"`
		Message  string `json:"message"`
	} `json:"errors"`
}

func rawRequest(t *testing.T, method, url, ctype, token string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, data
}

// headersOnly sends a request's headers, announcing the whole body's
// length, and the first 16 KB of the body (more than the server reads with
// the headers), then reads the answer.
func headersOnly(t *testing.T, base, method, path, ctype, body string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		method, path, strings.TrimPrefix(base, "http://"), ctype, len(body))
	if _, err := conn.Write([]byte(head + body[:16<<10])); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestBadInputAnswersProblem sends what a careless or hostile client sends
// and checks each gets a 4xx problem+json whose detail a person can act on.
func TestBadInputAnswersProblem(t *testing.T) {
	_, base := mustApp(t, testEnv(t, nil))
	admin := login(t, base, "admin", adminPassword)
	twoFeaturesOneBad := `{"type":"FeatureCollection","features":[
	 {"type":"Feature","properties":{"code":"X-1","name":"ok"},"geometry":{"type":"Polygon","coordinates":[[[112,28],[112.1,28],[112.1,28.1],[112,28]]]}},
	 {"type":"Feature","properties":{"code":"X-2","name":"bad"},"geometry":{"type":"Polygon","coordinates":[[[112,28],[200,28],[112.1,28.1],[112,28]]]}}]}`
	cases := []struct {
		name, method, path, ctype, body string
		auth                            bool
		status                          int
		detail                          string // a fragment the message must hold
	}{
		{"login not JSON", "POST", "/api/v1/auth/login", "application/json", `{"login":`, false, 400, ""},
		{"login missing password", "POST", "/api/v1/auth/login", "application/json", `{"login":"admin"}`, false, 422, ""},
		{"login wrong password", "POST", "/api/v1/auth/login", "application/json", `{"login":"admin","password":"nope"}`, false, 401, "password"},
		{"login garbage login", "POST", "/api/v1/auth/login", "application/json", `{"login":"!!","password":"x"}`, false, 422, "mobile number or username"},
		{"register landline", "POST", "/api/v1/accounts", "application/json", `{"phone":"0731-8888888","display_name":"a","password":"long enough","work":"courier","accept_privacy":true}`, false, 422, "mainland"},
		{"register bad work", "POST", "/api/v1/accounts", "application/json", `{"phone":"13800138000","display_name":"a","password":"long enough","work":"pilot","accept_privacy":true}`, false, 422, ""},
		{"register huge name", "POST", "/api/v1/accounts", "application/json", `{"phone":"13800138000","display_name":"` + strings.Repeat("a", 500) + `","password":"long enough","work":"courier","accept_privacy":true}`, false, 422, ""},
		{"register without consent", "POST", "/api/v1/accounts", "application/json", `{"phone":"13800138000","display_name":"a","password":"long enough","work":"courier"}`, false, 422, "privacy notice"},
		{"register all wrong", "POST", "/api/v1/accounts", "application/json", `{"phone":"12345","display_name":" ","password":"short","work":"other","accept_privacy":false}`, false, 422, `"location":"body.accept_privacy"`},
		{"import not JSON", "POST", "/api/v1/grid/import?mode=replace", "application/geo+json", `PK\x03\x04 a zip`, true, 422, "not imported"},
		{"import bad feature", "POST", "/api/v1/grid/import?mode=replace", "application/geo+json", twoFeaturesOneBad, true, 422, "feature 1"},
		{"import bad mode", "POST", "/api/v1/grid/import?mode=wipe", "application/geo+json", twoFeaturesOneBad, true, 422, ""},
		{"locate out of range", "GET", "/api/v1/grid/locate?lat=95&lng=112", "", "", true, 422, ""},
		{"locate not a number", "GET", "/api/v1/grid/locate?lat=abc&lng=112", "", "", true, 422, ""},
		{"assign unknown cell", "PUT", "/api/v1/grid/cells/NOPE/officers", "application/json", `{"primary_id":"x"}`, true, 404, "no grid cell"},
		{"disable unknown user", "PUT", "/api/v1/admin/users/nobody/disabled", "application/json", `{"disabled":true}`, true, 404, ""},
		{"staff as rider kind", "POST", "/api/v1/admin/users", "application/json", `{"username":"abc","display_name":"a","password":"long enough","kind":"rider"}`, true, 422, ""},
		{"station NaN-ish", "POST", "/api/v1/stations", "application/json", `{"name":"s","lat":"north","lng":1}`, true, 422, ""},
		{"no such route", "GET", "/api/v1/nothing-here", "", "", false, 404, "nothing at"},
		{"login body too large", "POST", "/api/v1/auth/login", "application/json", `{"login":"` + strings.Repeat("a", 2<<20) + `"}`, false, 413, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok := ""
			if c.auth {
				tok = admin.token
			}
			var resp *http.Response
			var body []byte
			if len(c.body) > 1<<20 {
				// The server answers an over-limit body from its headers and
				// closes the connection unread; a client still writing the
				// body may see the reset before the answer. Send the headers
				// and a start of the body, as a slow client would, and read.
				resp, body = headersOnly(t, base, c.method, c.path, c.ctype, c.body)
			} else {
				resp, body = rawRequest(t, c.method, base+c.path, c.ctype, tok, []byte(c.body))
			}
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
				t.Errorf("content type %q, want application/problem+json", ct)
			}
			var p problemDoc
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatalf("not a problem document: %s", body)
			}
			if p.Status != c.status || p.Detail == "" {
				t.Errorf("problem = %+v, want status %d and a detail", p, c.status)
			}
			if c.detail != "" && !strings.Contains(strings.ToLower(p.Detail+" "+string(body)), strings.ToLower(c.detail)) {
				t.Errorf("detail %q does not mention %q", p.Detail, c.detail)
			}
		})
	}
	// The rejected import left no map behind.
	var cells struct{ Cells []any }
	admin.must("GET", "/api/v1/grid/cells", nil, &cells, 200)
	if len(cells.Cells) != 0 {
		t.Errorf("rejected imports left %d cells", len(cells.Cells))
	}
}

func TestImportErrorNamesFeature(t *testing.T) {
	_, base := mustApp(t, testEnv(t, nil))
	admin := login(t, base, "admin", adminPassword)
	body := `{"type":"FeatureCollection","features":[
	 {"type":"Feature","properties":{"code":"X-1","name":"a"},"geometry":{"type":"Polygon","coordinates":[[[112,28],[112.1,28],[112.1,28.1],[112,28]]]}},
	 {"type":"Feature","properties":{"code":"X-1","name":"b"},"geometry":{"type":"Polygon","coordinates":[[[113,28],[113.1,28],[113.1,28.1],[113,28]]]}}]}`
	resp, data := rawRequest(t, "POST", base+"/api/v1/grid/import?mode=replace", "application/geo+json", admin.token, []byte(body))
	var p problemDoc
	_ = json.Unmarshal(data, &p)
	if resp.StatusCode != 422 || len(p.Errors) != 1 || p.Errors[0].Location != "body.features[1]" || !strings.Contains(p.Errors[0].Message, "already used by feature 0") {
		t.Errorf("status %d, problem %+v; want 422 naming body.features[1] as a duplicate", resp.StatusCode, p)
	}
}

func TestLoginThrottledWithRetryAfter(t *testing.T) {
	_, base := mustApp(t, testEnv(t, nil))
	var resp *http.Response
	var body []byte
	for range 6 {
		resp, body = rawRequest(t, "POST", base+"/api/v1/auth/login", "application/json", "", []byte(`{"login":"admin","password":"guess"}`))
	}
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "try again in") {
		t.Errorf("6th failure: status %d, Retry-After %q, body %s; want 429 saying when to retry", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
}

func TestSecurityHeaders(t *testing.T) {
	_, base := mustApp(t, testEnv(t, nil))
	resp, _ := rawRequest(t, "GET", base+"/healthz", "", "", nil)
	for h, want := range map[string]string{
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "SAMEORIGIN",
		"Content-Security-Policy": "default-src 'self'",
		"Referrer-Policy":         "same-origin",
		"X-Request-Id":            "",
	} {
		got := resp.Header.Get(h)
		if got == "" || !strings.Contains(got, want) {
			t.Errorf("%s = %q, want it to contain %q", h, got, want)
		}
	}
}

// Behind a trusted proxy each client is throttled on its own address, not
// all clients on the proxy's.
func TestThrottlePerClientBehindProxy(t *testing.T) {
	_, base := mustApp(t, testEnv(t, map[string]string{"NUANXIN_TRUST_PROXY": "true"}))
	try := func(client, login, password string) int {
		req, err := http.NewRequest("POST", base+"/api/v1/auth/login", strings.NewReader(`{"login":"`+login+`","password":"`+password+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", client)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// The throttle counts in 15-minute windows aligned to the clock: a test
	// that straddles a window's end sees its failures forgotten. Within a
	// minute of one, start in the next.
	if left := time.Until(time.Now().Truncate(accounts.FailureWindow).Add(accounts.FailureWindow)); left < time.Minute {
		time.Sleep(left + time.Second)
	}
	for i := range 20 {
		try("203.0.113.7", "user"+strings.Repeat("x", i%4)+"abc", "wrong")
	}
	if got := try("203.0.113.7", "admin", adminPassword); got != 429 {
		t.Errorf("the guessing client: status %d, want 429", got)
	}
	if got := try("198.51.100.9", "admin", adminPassword); got != 200 {
		t.Errorf("another client behind the same proxy: status %d, want 200", got)
	}
}

// A browser's session cookie alone cannot change anything through the API:
// another site could make the browser send it. The session's CSRF token must
// come too.
func TestCookieAuthNeedsCSRFForChanges(t *testing.T) {
	_, base := mustApp(t, testEnv(t, nil))
	admin := login(t, base, "admin", adminPassword)
	send := func(csrfCookie, csrfHeader string) int {
		req, err := http.NewRequest("POST", base+"/api/v1/stations", strings.NewReader(`{"name":"驿站`+csrfHeader+`","lat":28.2,"lng":112.9}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.AddCookie(&http.Cookie{Name: "nx_session", Value: admin.token})
		if csrfCookie != "" {
			req.AddCookie(&http.Cookie{Name: "nx_csrf", Value: csrfCookie})
		}
		if csrfHeader != "" {
			req.Header.Set("X-CSRF-Token", csrfHeader)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := send("", ""); got != 403 {
		t.Errorf("cookie without CSRF token: status %d, want 403", got)
	}
	if got := send("token-a", "token-b"); got != 403 {
		t.Errorf("mismatched CSRF token: status %d, want 403", got)
	}
	// A token must be the session's own: a cookie planted by someone else
	// (a sibling subdomain, a man in the middle on plain HTTP) with a
	// matching header proves nothing.
	if got := send("token-a", "token-a"); got != 403 {
		t.Errorf("planted CSRF cookie with a matching header: status %d, want 403", got)
	}
	if got := send("", policy.SessionCSRF(login(t, base, "admin", adminPassword).token)); got != 403 {
		t.Errorf("another session's CSRF token: status %d, want 403", got)
	}
	if got := send("", policy.SessionCSRF(admin.token)); got != 201 {
		t.Errorf("the session's CSRF token: status %d, want 201", got)
	}
	// Reading with the cookie needs no token.
	req, _ := http.NewRequest("GET", base+"/api/v1/me", nil)
	req.AddCookie(&http.Cookie{Name: "nx_session", Value: admin.token})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET with the cookie: status %d, want 200", resp.StatusCode)
	}
}
