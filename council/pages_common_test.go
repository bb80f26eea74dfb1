package council

import (
	"bytes"
	"context"
	"io"
	"maps"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/storage/storagetest"
	"github.com/nuanxin/nuanxin/web"
)

// bearerAccounts answers the gate for the pages' tests: the bearer token is
// the account id. The accounts domain is not imported here (it would make a
// cycle through the app); the gate, the policy and every council store are
// the real ones.
type bearerAccounts map[string]policy.Principal

func (b bearerAccounts) Authenticate(_ context.Context, token string) (policy.Principal, error) {
	if p, ok := b[token]; ok {
		return p, nil
	}
	return policy.Principal{}, policy.ErrUnauthenticated
}

// pagesEnv is one council page group mounted on a page kit over the hub
// fixture's stores. Its accounts: riders r1…r4, sa1 keeping station a, sb1
// keeping station b, and ad, an admin.
type pagesEnv struct {
	t   *testing.T
	f   *hubFixture
	srv *web.Server
}

// newPagesEnv mounts a page group (mountRiderPages, mountAdminPages) and
// checks that every message and static file its templates name is there.
func newPagesEnv(t *testing.T, mount func(*web.Pages, *Hub) error) *pagesEnv {
	t.Helper()
	ctx := context.Background()
	f := newHub(t)
	en, err := policy.NewEnforcer(ctx, storagetest.Docs(t), storagetest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	accts := bearerAccounts{}
	grant := func(id, kind, role, domain string) {
		accts[id] = policy.Principal{UserID: id, Kind: kind, DisplayName: "name-" + id, Login: id}
		if err := en.Grant(ctx, policy.Subject(id), role, domain); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []string{"r1", "r2", "r3", "r4"} {
		grant(r, "rider", policy.RoleRider, policy.DomainAll)
	}
	grant("sa1", "station_admin", policy.RoleStationAdmin, policy.StationDomain(f.a.ID))
	grant("sb1", "station_admin", policy.RoleStationAdmin, policy.StationDomain(f.b.ID))
	grant("ad", "admin", policy.RoleAdmin, policy.DomainAll)
	gate := policy.NewGate(en, accts, storagetest.Logger())
	srv := web.NewServer(web.Options{Gate: gate, Registry: prometheus.NewRegistry(), Log: storagetest.Logger(),
		Ready: func(context.Context) error { return nil }})
	// The forms that carry a photo, as the app allows them.
	srv.AllowBody(http.MethodPost, "/stations/:id/feedback", MaxPhotoBytes+64<<10, true)
	srv.AllowBody(http.MethodPost, "/station/:id/photos", MaxPhotoBytes+64<<10, true)
	k, err := web.NewPages(srv, web.PageOptions{Gate: gate, Auth: accts, CookieLifetime: time.Hour, Log: storagetest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := mount(k, f.hub); err != nil {
		t.Fatal(err)
	}
	if err := k.Check(); err != nil {
		t.Fatal(err)
	}
	return &pagesEnv{t: t, f: f, srv: srv}
}

// do sends a request as who ("" for nobody), in Chinese, and returns the
// status, the body and the headers.
func (e *pagesEnv) do(method, path, who string, body io.Reader, ctype string) (int, string, http.Header) {
	e.t.Helper()
	req := httptest.NewRequest(method, path, body)
	if who != "" {
		req.Header.Set("Authorization", "Bearer "+who)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Accept-Language", "zh-CN")
	res, err := e.srv.App.Test(req, -1)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header
}

func (e *pagesEnv) get(path, who string) (int, string) {
	e.t.Helper()
	status, body, _ := e.do(http.MethodGet, path, who, nil, "")
	return status, body
}

func (e *pagesEnv) post(path, who string, form url.Values) (int, string) {
	e.t.Helper()
	status, body, _ := e.do(http.MethodPost, path, who, strings.NewReader(form.Encode()), "application/x-www-form-urlencoded")
	return status, body
}

// postPhoto sends a form as a browser sends one with a file: multipart, the
// fields and, unless it is nil, the photo.
func (e *pagesEnv) postPhoto(path, who string, form url.Values, photo []byte) (int, string) {
	e.t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for _, name := range slices.Sorted(maps.Keys(form)) {
		for _, v := range form[name] {
			_ = w.WriteField(name, v)
		}
	}
	if photo != nil {
		fw, err := w.CreateFormFile("photo", "photo.jpg")
		if err != nil {
			e.t.Fatal(err)
		}
		_, _ = fw.Write(photo)
	}
	_ = w.Close()
	status, body, _ := e.do(http.MethodPost, path, who, &b, w.FormDataContentType())
	return status, body
}

// join puts the riders in the station's council.
func (e *pagesEnv) join(station string, riders ...string) {
	e.t.Helper()
	for _, r := range riders {
		e.f.join(e.t, station, r)
	}
}

// want checks a response's status and that its body holds every snippet.
func want(t *testing.T, what string, status int, body string, wantStatus int, snippets ...string) {
	t.Helper()
	if status != wantStatus {
		t.Errorf("%s: status %d, want %d; body: %.600s", what, status, wantStatus, stripTags(body))
	}
	for _, s := range snippets {
		if !strings.Contains(body, s) {
			t.Errorf("%s: the page lacks %q; page text: %.1500s", what, s, stripTags(body))
		}
	}
}

var tags = regexp.MustCompile(`(?s)<[^>]*>|\s+`)

func stripTags(s string) string { return tags.ReplaceAllString(s, " ") }
