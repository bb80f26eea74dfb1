package inbox_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/nuanxin/nuanxin/app"
	"github.com/nuanxin/nuanxin/inbox"
	"github.com/nuanxin/nuanxin/policy"
)

// A notification's id holds a '/' ("<user>/<n>"). Through the application
// as the binary builds it, the API's mark-read (id sent path-escaped) and
// the page's mark-read form (its action as the page renders it) both find
// it, and an id of someone else's answers 404.
func TestMarkReadWithSlashInID(t *testing.T) {
	const password = "admin-secret-123"
	cfg, err := app.ParseConfig(nil, func(k string) string {
		return map[string]string{"NUANXIN_DATA_DIR": t.TempDir(), "NUANXIN_ADMIN_PASSWORD": password}[k]
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, slog.New(slog.DiscardHandler), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	admin, err := a.Accounts.ByLogin(t.Context(), "admin")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"n1", "n2"} {
		if err := a.Inbox.Tell(t.Context(), inbox.Notice{ID: id, Kind: "council_opened", Subject: id, Link: "/proposals/" + id, Users: []string{admin.ID}}); err != nil {
			t.Fatal(err)
		}
	}
	send := func(req *http.Request) (int, string) {
		t.Helper()
		resp, err := a.Server.App.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	// The API, with a bearer token.
	req := httptest.NewRequest(http.MethodPost, "/api/v1/auth/login", strings.NewReader(`{"login":"admin","password":"`+password+`"}`))
	req.Header.Set("Content-Type", "application/json")
	code, body := send(req)
	var login struct{ Token string }
	if err := json.Unmarshal([]byte(body), &login); code != http.StatusOK || err != nil {
		t.Fatalf("log in: %d %s", code, body)
	}
	api := func(method, path string) (int, string) {
		req := httptest.NewRequest(method, path, nil)
		req.Header.Set("Authorization", "Bearer "+login.Token)
		return send(req)
	}
	list := func() (ids []string, unread int64) {
		t.Helper()
		code, body := api(http.MethodGet, "/api/v1/inbox")
		var out struct {
			Notifications []inbox.Notification
			Unread        int64
		}
		if err := json.Unmarshal([]byte(body), &out); code != http.StatusOK || err != nil {
			t.Fatalf("GET /api/v1/inbox: %d %s", code, body)
		}
		for _, n := range out.Notifications {
			ids = append(ids, n.ID)
		}
		return ids, out.Unread
	}
	ids, unread := list()
	if want := []string{admin.ID + "/2", admin.ID + "/1"}; strings.Join(ids, " ") != strings.Join(want, " ") || unread != 2 {
		t.Fatalf("inbox %v, %d unread; want %v, 2 unread", ids, unread, want)
	}
	if code, body := api(http.MethodPost, "/api/v1/inbox/"+url.PathEscape(ids[0])+"/read"); code != http.StatusNoContent {
		t.Fatalf("API mark-read of %s: %d %s", ids[0], code, body)
	}
	if _, unread := list(); unread != 1 {
		t.Errorf("unread = %d after marking one read through the API, want 1", unread)
	}
	if code, _ := api(http.MethodPost, "/api/v1/inbox/"+url.PathEscape("someone/1")+"/read"); code != http.StatusNotFound {
		t.Errorf("API mark-read of someone else's: %d, want 404", code)
	}

	// The page, with a session cookie and its CSRF token.
	req = httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(url.Values{"login": {"admin"}, "password": {password}, "csrf": {"t0ken-for-login-0123456789"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: policy.CSRFCookie, Value: "t0ken-for-login-0123456789"})
	resp, err := a.Server.App.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var session string
	for _, c := range resp.Cookies() {
		if c.Name == policy.SessionCookie {
			session = c.Value
		}
	}
	if session == "" {
		t.Fatalf("log in through the page: %d, no session cookie", resp.StatusCode)
	}
	page := func(method, path string, form url.Values) (int, string) {
		req := httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "text/html")
		req.AddCookie(&http.Cookie{Name: policy.SessionCookie, Value: session})
		return send(req)
	}
	code, body = page(http.MethodGet, "/inbox", nil)
	m := regexp.MustCompile(`action="(/inbox/[^"]+/read)"`).FindStringSubmatch(body)
	if code != http.StatusOK || m == nil {
		t.Fatalf("GET /inbox: %d, no mark-read form:\n%s", code, body)
	}
	if want := "/inbox/" + url.PathEscape(admin.ID+"/1") + "/read"; m[1] != want {
		t.Errorf("the form's action is %s, want %s", m[1], want)
	}
	if code, body := page(http.MethodPost, m[1], url.Values{"csrf": {policy.SessionCSRF(session)}}); code != http.StatusSeeOther {
		t.Fatalf("POST %s: %d %s", m[1], code, body)
	}
	if _, unread := list(); unread != 0 {
		t.Errorf("unread = %d after marking the other read through the page, want 0", unread)
	}
}
