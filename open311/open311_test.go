package open311_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nuanxin/nuanxin/accounts"
	"github.com/nuanxin/nuanxin/grid"
	"github.com/nuanxin/nuanxin/open311"
	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/reports"
	"github.com/nuanxin/nuanxin/storage"
	"github.com/nuanxin/nuanxin/storage/storagetest"
	"github.com/nuanxin/nuanxin/web"
)

const adminPassword = "admin-test-password"

// In cell T-0001 of the test map (lng 112.97–112.98, lat 28.19–28.20).
const lat, long = "28.195", "112.975"

// testApp is the part of the application open311 needs, built as cmd does.
type testApp struct {
	app     *fiber.App
	gate    *policy.Gate
	reports *reports.Service
	blobs   *storage.Blobs
	keys    *open311.Keys
	admin   string // bearer token of the admin
}

func mustApp(t *testing.T) *testApp {
	t.Helper()
	ctx := context.Background()
	db, blobs, log := storagetest.Docs(t), storagetest.Blobs(t), storagetest.Logger()
	var indexes []storage.Index
	for _, ix := range [][]storage.Index{policy.Indexes(), accounts.Indexes(), grid.Indexes(), reports.Indexes(), open311.Indexes()} {
		indexes = append(indexes, ix...)
	}
	if err := storage.EnsureIndexes(ctx, db, indexes); err != nil {
		t.Fatal(err)
	}
	en, err := policy.NewEnforcer(ctx, db, log)
	if err != nil {
		t.Fatal(err)
	}
	acc := accounts.NewService(db, en, log)
	gate := policy.NewGate(en, acc, log)
	g := grid.NewService(db, en, func(context.Context, string) (grid.Officer, bool, error) { return grid.Officer{}, false, nil }, log)
	if err := g.Load(ctx); err != nil {
		t.Fatal(err)
	}
	cells, err := grid.MarshalFeatureCollection(grid.GridCells("T", "d", 112.97, 28.19, 0.01, 2, 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Import(ctx, cells, grid.Replace); err != nil {
		t.Fatal(err)
	}
	reps := reports.NewService(db, blobs, g.Routing(), noOfficers{}, nil, reports.Config{}, log)
	if _, _, err := acc.EnsureAdmin(ctx, adminPassword); err != nil {
		t.Fatal(err)
	}
	sess, err := acc.Login(ctx, "admin", adminPassword, "")
	if err != nil {
		t.Fatal(err)
	}
	srv := web.NewServer(web.Options{Gate: gate, Ready: func(context.Context) error { return nil }, Registry: prometheus.NewRegistry(), Log: log})
	srv.AllowBody(fiber.MethodPost, open311.Prefix+"/requests.json", open311.MaxSubmitBody, false)
	// The reports API too, to read a report as an officer or admin does.
	reports.Routes(srv.API, gate, reps, log)
	keys := open311.NewKeys(db, log)
	open311.Routes(srv.App, srv.API, gate, keys, open311.NewService(reps, keys, log), log)
	return &testApp{app: srv.App, gate: gate, reports: reps, blobs: blobs, keys: keys, admin: sess.Token}
}

type noOfficers struct{}

func (noOfficers) Active(context.Context, string) (bool, error) { return false, nil }

// answer is a response, read whole.
type answer struct {
	status int
	ctype  string
	body   []byte
}

func (a *testApp) do(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := a.app.Test(req, -1)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), body: b}
}

func (a *testApp) get(t *testing.T, path string) answer {
	t.Helper()
	return a.do(t, httptest.NewRequest(http.MethodGet, path, nil))
}

// decode decodes a successful JSON answer into out.
func decode(t *testing.T, a answer, want int, out any) {
	t.Helper()
	if a.status != want {
		t.Fatalf("status %d, want %d: %s", a.status, want, a.body)
	}
	if a.ctype != "application/json; charset=utf-8" {
		t.Errorf("Content-Type %q, want application/json; charset=utf-8", a.ctype)
	}
	if out != nil {
		if err := json.Unmarshal(a.body, out); err != nil {
			t.Fatalf("decode %s: %v", a.body, err)
		}
	}
}

// wantError checks a GeoReport error answer: a JSON array of one
// {code, description} with the HTTP status as code.
func wantError(t *testing.T, a answer, status int, descPart string) {
	t.Helper()
	var errs []open311.Error
	decode(t, a, status, &errs)
	if len(errs) != 1 || errs[0].Code != status || errs[0].Description == "" {
		t.Fatalf("got %s, want [{code: %d, description: …}]", a.body, status)
	}
	if !strings.Contains(errs[0].Description, descPart) {
		t.Errorf("description %q, want it to mention %q", errs[0].Description, descPart)
	}
}

// api calls the admin JSON API as the admin (or anonymously with token "").
func (a *testApp) api(t *testing.T, method, path, token string, body any) answer {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, path, r)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return a.do(t, req)
}

type createdKey struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Key  string `json:"key"`
}

func (a *testApp) mustKey(t *testing.T, name string) createdKey {
	t.Helper()
	res := a.api(t, http.MethodPost, "/api/v1/admin/open311-keys", a.admin, map[string]string{"name": name})
	if res.status != http.StatusCreated {
		t.Fatalf("create key: %d %s", res.status, res.body)
	}
	var k createdKey
	if err := json.Unmarshal(res.body, &k); err != nil {
		t.Fatal(err)
	}
	return k
}

var photo = func() []byte {
	b, err := os.ReadFile("testdata/road-clean.jpg")
	if err != nil {
		panic(err)
	}
	return b
}()

// postForm files a report as multipart/form-data; media nil sends no file.
func postForm(fields map[string]string, media []byte, header http.Header) *http.Request {
	return postFormTo(open311.Prefix+"/requests.json", fields, media, header)
}

func postFormTo(path string, fields map[string]string, media []byte, header http.Header) *http.Request {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, v := range fields {
		_ = w.WriteField(k, v)
	}
	if media != nil {
		f, _ := w.CreateFormFile("media", "photo.jpg")
		_, _ = f.Write(media)
	}
	_ = w.Close()
	req := httptest.NewRequest(http.MethodPost, path, &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	for k, v := range header {
		req.Header[k] = v
	}
	return req
}

func fields(key string, extra ...string) map[string]string {
	f := map[string]string{"api_key": key, "service_code": "road_damage", "lat": lat, "long": long, "description": "井盖缺失 manhole cover missing"}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "" {
			delete(f, extra[i])
		} else {
			f[extra[i]] = extra[i+1]
		}
	}
	return f
}

type postAnswer struct {
	ID        string  `json:"service_request_id"`
	Notice    string  `json:"service_notice"`
	AccountID *string `json:"account_id"`
}

func (a *testApp) mustSubmit(t *testing.T, req *http.Request, want int) postAnswer {
	t.Helper()
	var out []postAnswer
	decode(t, a.do(t, req), want, &out)
	if len(out) != 1 || out[0].ID == "" {
		t.Fatalf("got %+v, want one service_request_id", out)
	}
	return out[0]
}

func TestServices(t *testing.T) {
	a := mustApp(t)
	var svcs []open311.ServiceType
	decode(t, a.get(t, open311.Prefix+"/services.json"), http.StatusOK, &svcs)
	if len(svcs) != len(reports.DefaultCategories) || len(svcs) != 8 {
		t.Fatalf("got %d services, want 8", len(svcs))
	}
	for i, s := range svcs {
		c := reports.DefaultCategories[i]
		if s.Code != c.Code || s.Name != c.ZH+" / "+c.EN || s.Type != "realtime" || s.Metadata || s.Description == "" || s.Group == "" || !strings.Contains(s.Keywords, c.Code) {
			t.Errorf("service %d = %+v, want code %s, name %q, realtime, no metadata", i, s, c.Code, c.ZH+" / "+c.EN)
		}
	}
	for locale, want := range map[string]string{"en": "Road damage", "zh": "道路破损", "zh-CN": "道路破损", "en-US": "Road damage"} {
		decode(t, a.get(t, open311.Prefix+"/services.json?locale="+locale), http.StatusOK, &svcs)
		if svcs[0].Name != want {
			t.Errorf("locale %s: name %q, want %q", locale, svcs[0].Name, want)
		}
	}
}

func TestSubmitAndRead(t *testing.T) {
	a := mustApp(t)
	key := a.mustKey(t, "Test client")

	first := a.mustSubmit(t, postForm(fields(key.Key), photo, nil), http.StatusCreated)
	if first.AccountID != nil || first.Notice == "" {
		t.Errorf("got %+v, want account_id null and a service notice", first)
	}
	t.Run("a retry answers the same report", func(t *testing.T) {
		again := a.mustSubmit(t, postForm(fields(key.Key), photo, nil), http.StatusOK)
		if again.ID != first.ID {
			t.Errorf("retry got id %s, want %s", again.ID, first.ID)
		}
	})
	t.Run("the report is the key's, not a person's", func(t *testing.T) {
		r, err := a.reports.Get(context.Background(), first.ID)
		if err != nil {
			t.Fatal(err)
		}
		if want := "open311:" + key.ID; r.ReporterID != want {
			t.Errorf("reporter %q, want %q", r.ReporterID, want)
		}
		if r.Cell != "T-0001" || r.Category != "road_damage" {
			t.Errorf("stored report in cell %q, category %q; want T-0001, road_damage", r.Cell, r.Category)
		}
	})
	t.Run("with an Idempotency-Key", func(t *testing.T) {
		h := http.Header{"Idempotency-Key": {"client-key-1"}}
		one := a.mustSubmit(t, postForm(fields(key.Key, "description", "another one"), photo, h), http.StatusCreated)
		two := a.mustSubmit(t, postForm(fields(key.Key, "description", "another one"), photo, h), http.StatusOK)
		if one.ID != two.ID || one.ID == first.ID {
			t.Errorf("ids %s, %s (first %s): want the same new id twice", one.ID, two.ID, first.ID)
		}
		res := a.do(t, postForm(fields(key.Key, "description", "different text"), photo, h))
		wantError(t, res, http.StatusBadRequest, "Idempotency-Key")
	})

	t.Run("requests.json lists it without the reporter", func(t *testing.T) {
		res := a.get(t, open311.Prefix+"/requests.json")
		var got []map[string]any
		decode(t, res, http.StatusOK, &got)
		i := slices.IndexFunc(got, func(r map[string]any) bool { return r["service_request_id"] == first.ID })
		if i < 0 {
			t.Fatalf("%s not in %s", first.ID, res.body)
		}
		r := got[i]
		want := map[string]any{"status": "open", "service_code": "road_damage", "service_name": "道路破损 / Road damage",
			"agency_responsible": "T-0001", "description": "井盖缺失 manhole cover missing", "lat": 28.195, "long": 112.975,
			"media_url": "", "status_notes": ""}
		for k, v := range want {
			if r[k] != v {
				t.Errorf("%s = %v, want %v", k, r[k], v)
			}
		}
		for _, k := range []string{"requested_datetime", "updated_datetime", "expected_datetime", "service_notice"} {
			if s, _ := r[k].(string); s == "" {
				t.Errorf("%s is empty", k)
			}
		}
		for _, secret := range []string{"reporter", key.ID, "open311:", "officer_id", "backup_id", "idem"} {
			if bytes.Contains(res.body, []byte(secret)) {
				t.Errorf("the answer contains %q: %s", secret, res.body)
			}
		}
	})
	t.Run("filters", func(t *testing.T) {
		for _, tc := range []struct {
			query string
			found bool
		}{
			{"status=open", true},
			{"status=closed", false},
			{"status=open,closed", true},
			{"service_code=road_damage", true},
			{"service_code=sanitation", false},
			{"service_code=sanitation,road_damage", true},
			{"start_date=2020-01-01T00:00:00Z&end_date=2020-02-01T00:00:00Z", false},
			{"service_request_id=" + first.ID, true},
			{"service_request_id=" + first.ID + "&status=closed", true}, // ids override the rest
			{"service_request_id=ffffffffffffffffffffffff", false},
		} {
			var got []open311.Request
			decode(t, a.get(t, open311.Prefix+"/requests.json?"+tc.query), http.StatusOK, &got)
			found := slices.ContainsFunc(got, func(r open311.Request) bool { return r.ID == first.ID })
			if found != tc.found {
				t.Errorf("%s: found %v, want %v", tc.query, found, tc.found)
			}
		}
	})
	t.Run("requests/<id>.json", func(t *testing.T) {
		var got []open311.Request
		decode(t, a.get(t, open311.Prefix+"/requests/"+first.ID+".json"), http.StatusOK, &got)
		if len(got) != 1 || got[0].ID != first.ID || got[0].AgencyResponsible != "T-0001" {
			t.Fatalf("got %+v, want one request %s in T-0001", got, first.ID)
		}
		wantError(t, a.get(t, open311.Prefix+"/requests/"+first.ID+".xml"), http.StatusBadRequest, "JSON")
		wantError(t, a.get(t, open311.Prefix+"/requests/ffffffffffffffffffffffff.json"), http.StatusNotFound, "no service request")
		wantError(t, a.get(t, open311.Prefix+"/requests/no%20such.json"), http.StatusNotFound, "no service request")
	})
	t.Run("a closed report", func(t *testing.T) {
		if _, err := a.reports.Act(context.Background(), reports.Actor{ID: "admin", Role: reports.RoleAdmin}, first.ID,
			reports.ActionInput{Action: reports.ActReject, Reason: "abusive"}); err != nil {
			t.Fatal(err)
		}
		var got []open311.Request
		decode(t, a.get(t, open311.Prefix+"/requests.json?status=closed"), http.StatusOK, &got)
		if len(got) != 1 || got[0].ID != first.ID {
			t.Fatalf("got %+v, want %s only", got, first.ID)
		}
		r := got[0]
		if r.Status != "closed" || r.StatusNotes == "" || r.ServiceNotice != "" || r.Description != "" {
			t.Errorf("got %+v; want closed, with notes, no notice, and the abusive text withheld", r)
		}
	})
}

// GeoReport v2 makes media optional: a report filed without a photo is
// accepted, stored with none, and shown so to officers; riders still need
// one. A media_url sent along with the photo is ignored, never fetched.
func TestSubmitWithoutPhoto(t *testing.T) {
	a := mustApp(t)
	ctx := context.Background()
	key := a.mustKey(t, "Test client")
	var fetched atomic.Int32
	media := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { fetched.Add(1) }))
	defer media.Close()

	multipartID := a.mustSubmit(t, postForm(fields(key.Key), nil, nil), http.StatusCreated).ID
	if again := a.mustSubmit(t, postForm(fields(key.Key), nil, nil), http.StatusOK); again.ID != multipartID {
		t.Errorf("retry got id %s, want %s", again.ID, multipartID)
	}
	formID := a.mustSubmit(t, formRequest(url.Values{"api_key": {key.Key}, "service_code": {"sanitation"}, "lat": {lat}, "long": {long}}), http.StatusCreated).ID
	withPhotoID := a.mustSubmit(t, postForm(fields(key.Key, "media_url", media.URL+"/pothole.jpg"), photo, nil), http.StatusCreated).ID

	for _, tc := range []struct {
		name   string
		id     string
		photos int
	}{
		{"multipart without media", multipartID, 0},
		{"form-encoded", formID, 0},
		{"with media and a media_url", withPhotoID, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := a.reports.Get(ctx, tc.id)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Photos) != tc.photos || r.HasPhotos() != (tc.photos > 0) {
				t.Errorf("stored %d photos, HasPhotos %v; want %d", len(r.Photos), r.HasPhotos(), tc.photos)
			}
			// What an officer or admin reads of it: the service request id
			// is the report's ticket number, which the API takes too.
			res := a.api(t, http.MethodGet, "/api/v1/reports/"+tc.id, a.admin, nil)
			var got struct {
				Ticket string            `json:"ticket"`
				Photos []json.RawMessage `json:"photos"`
			}
			decodeAPI(t, res, &got)
			if got.Ticket != tc.id || len(got.Photos) != tc.photos {
				t.Errorf("the API shows report %s with %d photos, want %s with %d: %s", got.Ticket, len(got.Photos), tc.id, tc.photos, res.body)
			}
			if res := a.api(t, http.MethodGet, "/api/v1/reports/"+tc.id+"/photos/1", a.admin, nil); (res.status == http.StatusOK) != (tc.photos > 0) {
				t.Errorf("photo 1: status %d", res.status)
			}
			var reqs []open311.Request
			decode(t, a.get(t, open311.Prefix+"/requests/"+tc.id+".json"), http.StatusOK, &reqs)
			if len(reqs) != 1 || reqs[0].Status != "open" || reqs[0].MediaURL != "" {
				t.Errorf("requests/%s.json = %+v, want it open, without media_url", tc.id, reqs)
			}
		})
	}
	a.reports.Wait() // the thumbnail is made after the answer
	if keys, err := a.blobs.List(ctx, "reports/"); err != nil || len(keys) != 2 {
		t.Errorf("stored objects %v (%v), want the one photo and its thumbnail", keys, err)
	}
	if n := fetched.Load(); n != 0 {
		t.Errorf("media_url was fetched %d times, want never", n)
	}

	t.Run("riders still need a photo", func(t *testing.T) {
		la, lo := 28.195, 112.975
		_, _, err := a.reports.Submit(ctx, "rider-1", reports.Submission{Key: "k1", Category: "road_damage", Lat: &la, Lng: &lo})
		var ve *reports.ValidationError
		if !errors.As(err, &ve) || ve.Field != "photos" {
			t.Errorf("err = %v, want a ValidationError on photos", err)
		}
	})
}

// decodeAPI decodes a successful answer of the JSON API.
func decodeAPI(t *testing.T, a answer, out any) {
	t.Helper()
	if a.status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", a.status, a.body)
	}
	if err := json.Unmarshal(a.body, out); err != nil {
		t.Fatalf("decode %s: %v", a.body, err)
	}
}

func TestSubmitRefused(t *testing.T) {
	a := mustApp(t)
	key := a.mustKey(t, "Test client")
	revoked := a.mustKey(t, "Old client")
	if res := a.api(t, http.MethodDelete, "/api/v1/admin/open311-keys/"+revoked.ID, a.admin, nil); res.status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", res.status, res.body)
	}
	// Where media_url points: it must never be asked for.
	var fetched atomic.Int32
	media := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetched.Add(1)
		w.Header().Set("Content-Type", "image/jpeg")
		_, _ = w.Write(photo)
	}))
	defer media.Close()
	for _, tc := range []struct {
		name   string
		req    *http.Request
		status int
		desc   string
	}{
		{"missing api_key", postForm(fields("", "api_key", ""), photo, nil), 403, "api_key"},
		{"unknown api_key", postForm(fields("nx311_"+strings.Repeat("A", 43)), photo, nil), 403, "not valid"},
		{"malformed api_key", postForm(fields("hello"), photo, nil), 403, "not valid"},
		{"revoked api_key", postForm(fields(revoked.Key), photo, nil), 403, "revoked"},
		{"unknown service_code", postForm(fields(key.Key, "service_code", "potholes"), photo, nil), 400, "service_code"},
		{"missing service_code", postForm(fields(key.Key, "service_code", ""), photo, nil), 400, "service_code"},
		{"missing lat", postForm(fields(key.Key, "lat", ""), photo, nil), 400, "lat and long are required"},
		{"address instead of a position", postForm(fields(key.Key, "lat", "", "long", "", "address_string", "五一大道 1 号"), photo, nil), 400, "lat and long are required"},
		{"lat out of range", postForm(fields(key.Key, "lat", "91"), photo, nil), 400, "lat"},
		{"long not a number", postForm(fields(key.Key, "long", "east"), photo, nil), 400, "long"},
		{"media_url instead of media", postForm(fields(key.Key, "media_url", media.URL+"/pothole.jpg"), nil, nil), 400, "media_url is not fetched"},
		{"form-encoded media_url", formRequest(url.Values{"api_key": {key.Key}, "service_code": {"road_damage"}, "lat": {lat}, "long": {long}, "media_url": {media.URL}}), 400, "media_url is not fetched"},
		{"not a photo", postForm(fields(key.Key), []byte("%PDF-1.4 not a photo"), nil), 400, "this is a PDF document, not a photo"},
		{"description too long", postForm(fields(key.Key, "description", strings.Repeat("长", 501)), photo, nil), 400, "description"},
		{"form-encoded without a key", formRequest(url.Values{"service_code": {"road_damage"}}), 403, "api_key"},
		{"JSON body", jsonRequest(), 400, "multipart/form-data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, a.do(t, tc.req), tc.status, tc.desc)
		})
	}
	var got []open311.Request
	decode(t, a.get(t, open311.Prefix+"/requests.json"), http.StatusOK, &got)
	if len(got) != 0 {
		t.Errorf("refused submissions left %d reports", len(got))
	}
	if n := fetched.Load(); n != 0 {
		t.Errorf("media_url was fetched %d times, want never", n)
	}
}

func formRequest(v url.Values) *http.Request {
	req := httptest.NewRequest(http.MethodPost, open311.Prefix+"/requests.json", strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

func jsonRequest() *http.Request {
	req := httptest.NewRequest(http.MethodPost, open311.Prefix+"/requests.json", strings.NewReader(`{"service_code":"road_damage"}`))
	req.Header.Set("Content-Type", "application/json")
	return req
}

func TestOnlyJSON(t *testing.T) {
	a := mustApp(t)
	for _, req := range []*http.Request{
		httptest.NewRequest(http.MethodGet, open311.Prefix+"/services.xml", nil),
		httptest.NewRequest(http.MethodGet, open311.Prefix+"/requests.xml", nil),
		httptest.NewRequest(http.MethodGet, open311.Prefix+"/requests/abc.xml", nil),
		// Without a photo: only requests.json may take a photo's body.
		postFormTo(open311.Prefix+"/requests.xml", fields("whatever"), nil, nil),
	} {
		t.Run(req.Method+" "+req.URL.Path, func(t *testing.T) {
			wantError(t, a.do(t, req), http.StatusBadRequest, "JSON")
		})
	}
}

func TestBadSearch(t *testing.T) {
	a := mustApp(t)
	for _, q := range []string{
		"start_date=yesterday",
		"start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z",
		"start_date=2026-02-01T00:00:00Z&end_date=2026-01-01T00:00:00Z",
		"status=pending",
		"service_code=potholes",
		"service_request_id=" + strings.Repeat("a,", 51),
		"service_request_id=../etc",
	} {
		t.Run(q, func(t *testing.T) {
			wantError(t, a.get(t, open311.Prefix+"/requests.json?"+q), http.StatusBadRequest, "")
		})
	}
}

func TestKeyAdmin(t *testing.T) {
	a := mustApp(t)
	base := "/api/v1/admin/open311-keys"
	k := a.mustKey(t, "  Civic app  ")
	if !strings.HasPrefix(k.Key, "nx311_") || len(k.Key) != len("nx311_")+43 || k.Name != "Civic app" || k.ID == "" {
		t.Fatalf("created %+v; want a nx311_ key of 32 random bytes, the name trimmed", k)
	}

	res := a.api(t, http.MethodGet, base, a.admin, nil)
	if res.status != http.StatusOK {
		t.Fatalf("list: %d %s", res.status, res.body)
	}
	if bytes.Contains(res.body, []byte(k.Key)) || bytes.Contains(res.body, []byte(`"key"`)) || bytes.Contains(res.body, []byte("hash")) {
		t.Errorf("the list shows the key or its hash: %s", res.body)
	}
	var list struct{ Keys []open311.Key }
	_ = json.Unmarshal(res.body, &list)
	if len(list.Keys) != 1 || list.Keys[0].ID != k.ID || list.Keys[0].Revoked || list.Keys[0].CreatedBy == "" {
		t.Fatalf("list = %+v, want the one live key with its creator", list.Keys)
	}

	if _, err := a.keys.Authenticate(context.Background(), k.Key); err != nil {
		t.Fatalf("authenticate a new key: %v", err)
	}
	for i := 0; i < 2; i++ { // revoking twice is fine
		if res := a.api(t, http.MethodDelete, base+"/"+k.ID, a.admin, nil); res.status != http.StatusNoContent {
			t.Fatalf("revoke: %d %s", res.status, res.body)
		}
	}
	_ = json.Unmarshal(a.api(t, http.MethodGet, base, a.admin, nil).body, &list)
	if len(list.Keys) != 1 || !list.Keys[0].Revoked || list.Keys[0].RevokedAt.IsZero() {
		t.Errorf("after revoking, list = %+v", list.Keys)
	}
	if _, err := a.keys.Authenticate(context.Background(), k.Key); err != open311.ErrRevokedKey {
		t.Errorf("authenticate a revoked key: %v, want ErrRevokedKey", err)
	}

	for _, tc := range []struct {
		name   string
		method string
		path   string
		token  string
		body   any
		status int
	}{
		{"unknown key", http.MethodDelete, base + "/ffffffffffffffffffffffff", a.admin, nil, http.StatusNotFound},
		{"empty name", http.MethodPost, base, a.admin, map[string]string{"name": "   "}, http.StatusUnprocessableEntity},
		{"long name", http.MethodPost, base, a.admin, map[string]string{"name": strings.Repeat("名", 61)}, http.StatusUnprocessableEntity},
		{"anonymous create", http.MethodPost, base, "", map[string]string{"name": "x"}, http.StatusUnauthorized},
		{"anonymous list", http.MethodGet, base, "", nil, http.StatusUnauthorized},
		{"anonymous revoke", http.MethodDelete, base + "/" + k.ID, "", nil, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := a.api(t, tc.method, tc.path, tc.token, tc.body)
			if res.status != tc.status {
				t.Errorf("status %d, want %d: %s", res.status, tc.status, res.body)
			}
			if res.status >= 400 && res.ctype != "application/problem+json" {
				t.Errorf("Content-Type %q, want application/problem+json", res.ctype)
			}
		})
	}
}

// TestRoutesGated checks every route is in the gate's route table with the
// permission the route table in cmd expects.
func TestRoutesGated(t *testing.T) {
	a := mustApp(t)
	want := map[string]policy.Permission{
		"GET /open311/v2/services.json":         open311.PermRead,
		"GET /open311/v2/services.xml":          open311.PermRead,
		"GET /open311/v2/requests.json":         open311.PermRead,
		"GET /open311/v2/requests.xml":          open311.PermRead,
		"GET /open311/v2/requests/:id":          open311.PermRead,
		"POST /open311/v2/requests.json":        open311.PermSubmit,
		"POST /open311/v2/requests.xml":         open311.PermSubmit,
		"POST /api/v1/admin/open311-keys":       open311.PermManage,
		"GET /api/v1/admin/open311-keys":        open311.PermManage,
		"DELETE /api/v1/admin/open311-keys/:id": open311.PermManage,
	}
	got := map[string]policy.Permission{}
	for _, r := range a.gate.Routes() {
		if strings.Contains(r.Path, "open311") {
			got[r.Method+" "+r.Path] = r.Permission
		}
	}
	for k, p := range want {
		if got[k] != p {
			t.Errorf("%s: permission %q, want %q", k, got[k], p)
		}
	}
	if len(got) != len(want) {
		t.Errorf("routes %v, want %v", got, want)
	}
}
