package points

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/storage/storagetest"
	"github.com/nuanxin/nuanxin/web"
)

// shelfAuth knows each test user by a bearer token equal to its id.
type shelfAuth map[string]policy.Principal

func (a shelfAuth) Authenticate(_ context.Context, token string) (policy.Principal, error) {
	if p, ok := a[token]; ok {
		return p, nil
	}
	return policy.Principal{}, policy.ErrUnauthenticated
}

// TestShelfPagesRiderAndStation drives the pages through the real router,
// gate and page kit: a rider reserves on the shelf page, sees the code and
// its QR, and the station admin confirms it on the pickup page.
func TestShelfPagesRiderAndStation(t *testing.T) {
	e := newShelfEnv(t, nil)
	ctx := context.Background()
	en, err := policy.NewEnforcer(ctx, e.db, storagetest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []struct{ user, role, domain string }{
		{"u1", "rider", policy.DomainAll}, {"u2", "rider", policy.DomainAll}, {"sa1", "station_admin", "station:s1"},
		{"sa2", "station_admin", "station:s2"},
	} {
		if err := en.Grant(ctx, policy.Subject(g.user), g.role, g.domain); err != nil {
			t.Fatal(err)
		}
	}
	auth := shelfAuth{"u1": {UserID: "u1", Kind: "rider"}, "u2": {UserID: "u2", Kind: "rider"},
		"sa1": {UserID: "sa1", Kind: "station_admin"}, "sa2": {UserID: "sa2", Kind: "station_admin"}}
	gate := policy.NewGate(en, auth, storagetest.Logger())
	srv := web.NewServer(web.Options{Gate: gate, Registry: prometheus.NewRegistry(), Log: storagetest.Logger()})
	k, err := web.NewPages(srv, web.PageOptions{Gate: gate, Auth: auth, CookieLifetime: time.Hour, Log: storagetest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	svc := &Service{Ledger: e.l, Shelf: e.s, Stations: testStations, Log: storagetest.Logger()}
	if err := mountShelfPages(k, svc); err != nil {
		t.Fatal(err)
	}
	if err := k.Check(); err != nil {
		t.Fatal(err)
	}
	rw := e.reward(t, CityScope, 10, 3, 1)
	e.award(t, "u1", 25)

	do := func(method, path, who string, form url.Values) (int, string, http.Header) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req := httptest.NewRequest(method, path, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req.Header.Set("Authorization", "Bearer "+who)
		req.Header.Set("Accept", "text/html")
		req.Header.Set("Accept-Language", "en")
		res, err := srv.App.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b), res.Header
	}

	status, body, _ := do("GET", "/points/shelf?lat=28.19&lng=112.88", "u1", nil)
	if status != 200 || !strings.Contains(body, "A hot meal") || !strings.Contains(body, "Available: 25 points") {
		t.Fatalf("shelf page: %d\n%s", status, body)
	}
	status, _, hdr := do("POST", "/points/shelf/reserve", "u1", url.Values{"reward": {rw.ID}, "station": {"s1"}, "key": {"form-key-1"}})
	if status != http.StatusSeeOther || hdr.Get("Location") != "/points/codes" {
		t.Fatalf("reserve: %d %v", status, hdr)
	}
	codes, err := e.s.Codes(ctx, "u1", 10)
	if err != nil || len(codes) != 1 {
		t.Fatalf("codes: %v %v", codes, err)
	}
	r := codes[0]
	status, body, _ = do("GET", "/points/codes", "u1", nil)
	if status != 200 || !strings.Contains(body, FormatCode(r.Code)) || !strings.Contains(body, "/points/codes/"+r.ID+"/qr.png") {
		t.Fatalf("codes page: %d\n%s", status, body)
	}
	if status, body, hdr = do("GET", "/points/codes/"+r.ID+"/qr.png", "u1", nil); status != 200 || hdr.Get("Content-Type") != "image/png" || !strings.HasPrefix(body, "\x89PNG") {
		t.Errorf("QR for its rider: %d %s", status, hdr.Get("Content-Type"))
	}
	if status, _, _ = do("GET", "/points/codes/"+r.ID+"/qr.png", "u2", nil); status != http.StatusNotFound {
		t.Errorf("QR for another rider: %d, want 404", status)
	}
	// The limit of one a month, said in words.
	status, body, _ = do("POST", "/points/shelf/reserve", "u1", url.Values{"reward": {rw.ID}, "station": {"s1"}, "key": {"form-key-2"}})
	if status != http.StatusConflict || !strings.Contains(body, "as often as it allows this month") {
		t.Errorf("second reserve: %d\n%s", status, body)
	}

	// Another station's admin cannot use s1's pickup page; on their own,
	// the code is refused naming s1.
	if status, _, _ = do("GET", "/station/s1/pickup", "sa2", nil); status != http.StatusForbidden {
		t.Errorf("sa2 at s1's pickup page: %d, want 403", status)
	}
	status, body, _ = do("POST", "/station/s2/pickup", "sa2", url.Values{"code": {r.Code}})
	if status != http.StatusConflict || !strings.Contains(body, "Wuyi Square Station") {
		t.Errorf("code of another station: %d\n%s", status, body)
	}
	status, body, _ = do("POST", "/station/s1/pickup", "sa1", url.Values{"code": {strings.ToLower(FormatCode(r.Code))}})
	if status != 200 || !strings.Contains(body, "Handed over: A hot meal") {
		t.Fatalf("confirm: %d\n%s", status, body)
	}
	status, body, _ = do("POST", "/station/s1/pickup", "sa1", url.Values{"code": {r.Code}})
	if status != http.StatusConflict || !strings.Contains(body, "Already picked up at Wuyi Square Station") {
		t.Errorf("confirm again: %d\n%s", status, body)
	}
	e.wantBalance(t, Rider("u1"), 15, 0)

	// Station shelf: sa1 adds a reward to s1; sa2 may not see s1's shelf.
	status, _, _ = do("POST", "/station/s1/shelf", "sa1", url.Values{"name_zh": {"充电"}, "price": {"5"}, "stock": {"2"}, "limit": {"1"}})
	if status != http.StatusSeeOther {
		t.Errorf("create at s1: %d", status)
	}
	if rs, _ := e.s.All(ctx, "s1"); len(rs) != 1 || rs[0].Price != 5 {
		t.Errorf("s1's shelf: %+v", rs)
	}
	status, body, _ = do("POST", "/station/s1/shelf", "sa1", url.Values{"name_zh": {"坏"}, "price": {"0"}, "stock": {"2"}, "limit": {"1"}})
	if status != http.StatusUnprocessableEntity || !strings.Contains(body, "price") {
		t.Errorf("create with price 0: %d\n%s", status, body)
	}
	if status, _, _ = do("GET", "/station/s1/shelf", "sa2", nil); status != http.StatusForbidden {
		t.Errorf("sa2 at s1's shelf: %d, want 403", status)
	}
	if status, _, _ = do("GET", "/admin/points/shelf", "sa1", nil); status != http.StatusForbidden {
		t.Errorf("a station admin at the city shelf: %d, want 403", status)
	}
	if _, err := e.s.Reserve(ctx, "u1", "nope", "s1", "k"); !errors.Is(err, ErrRewardNotFound) {
		t.Errorf("unknown reward: %v", err)
	}
}
