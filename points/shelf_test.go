package points

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nuanxin/nuanxin/storage"
	"github.com/nuanxin/nuanxin/storage/storagetest"
)

// shelfStations is a station directory kept in memory, standing in for
// council's (a directory, not a store: the stores under test are real).
type shelfStations map[string]StationInfo

func (d shelfStations) Station(_ context.Context, id string) (StationInfo, bool, error) {
	st, ok := d[id]
	return st, ok, nil
}

func (d shelfStations) Stations(_ context.Context) ([]StationInfo, error) {
	out := make([]StationInfo, 0, len(d))
	for _, st := range d {
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b StationInfo) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

var testStations = shelfStations{
	"s1": {ID: "s1", Name: "Wuyi Square Station", Lat: 28.196, Lng: 112.977},
	"s2": {ID: "s2", Name: "Ande Station", Lat: 28.230, Lng: 112.940},
	"s3": {ID: "s3", Name: "Meixi Lake Station", Lat: 28.190, Lng: 112.880},
}

// shelfClock is a settable clock shared by a shelf and its ledger.
type shelfClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *shelfClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *shelfClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type shelfEnv struct {
	db    *mongo.Database
	l     *Ledger
	s     *Shelf
	clock *shelfClock
}

func newShelfEnv(t testing.TB, blobs *storage.Blobs) *shelfEnv {
	t.Helper()
	db := storagetest.Docs(t)
	if err := storage.EnsureIndexes(context.Background(), db, Indexes()); err != nil {
		t.Fatal(err)
	}
	clk := &shelfClock{t: time.Date(2026, 3, 10, 4, 0, 0, 0, time.UTC)}
	l := NewLedger(db, storagetest.Logger())
	l.now = clk.now
	s := NewShelf(l, db, blobs, testStations, 7, storagetest.Logger())
	s.now = clk.now
	return &shelfEnv{db: db, l: l, s: s, clock: clk}
}

// instance is another server on the same database: its own ledger and
// shelf, with nothing remembered.
func (e *shelfEnv) instance() *Shelf {
	l := NewLedger(e.db, storagetest.Logger())
	l.now = e.clock.now
	s := NewShelf(l, e.db, e.s.blobs, testStations, 7, storagetest.Logger())
	s.now = e.clock.now
	return s
}

func (e *shelfEnv) reward(t testing.TB, scope string, price, stock int64, limit int) Reward {
	t.Helper()
	r, err := e.s.Create(context.Background(), RewardSpec{Scope: scope, NameZH: "热饭一份", NameEN: "A hot meal", Price: price, Stock: stock, Limit: limit})
	if err != nil {
		t.Fatalf("create reward: %v", err)
	}
	return r
}

func (e *shelfEnv) award(t testing.TB, rider string, amount int64) {
	t.Helper()
	_, err := e.l.Post(context.Background(), Transfer{Key: "award:test:" + rider + ":" + time.Now().String(), Kind: KindAward,
		Debit: Issuance, Credit: Rider(rider), Amount: amount})
	if err != nil {
		t.Fatalf("award %s: %v", rider, err)
	}
}

func (e *shelfEnv) balance(t testing.TB, account string) Balance {
	t.Helper()
	b, err := e.l.Balance(context.Background(), account)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (e *shelfEnv) wantBalance(t testing.TB, account string, balance, held int64) {
	t.Helper()
	b := e.balance(t, account)
	if b.Balance != balance || b.Held != held {
		t.Errorf("%s: balance %d held %d, want %d held %d", account, b.Balance, b.Held, balance, held)
	}
}

func (e *shelfEnv) count(t testing.TB, coll string, filter bson.D) int64 {
	t.Helper()
	if filter == nil {
		filter = bson.D{}
	}
	n, err := e.db.Collection(coll).CountDocuments(context.Background(), filter)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// shelfCounts counts the documents of every collection the shelf and the
// ledger write.
func (e *shelfEnv) shelfCounts(t testing.TB) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, c := range []string{rewardsCollection, slotsCollection, reservationsCollection, codesCollection, endsCollection,
		redeemOpenCollection, redeemListsCollection, codeTriesCollection, entriesCollection, movementsCollection} {
		out[c] = e.count(t, c, nil)
	}
	return out
}

func (e *shelfEnv) clean(t testing.TB) {
	t.Helper()
	rep, err := e.l.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range rep.Anomalies {
		t.Errorf("ledger anomaly: %s", a)
	}
}

func TestShelfCreateRejectsBadInputAndWritesNothing(t *testing.T) {
	e := newShelfEnv(t, nil)
	ctx := context.Background()
	ok := RewardSpec{Scope: CityScope, NameZH: "充电一次", NameEN: "One charge", Price: 10, Stock: 5, Limit: 1}
	cases := []struct {
		name  string
		edit  func(*RewardSpec)
		field string
	}{
		{"zero price", func(s *RewardSpec) { s.Price = 0 }, "price"},
		{"negative price", func(s *RewardSpec) { s.Price = -5 }, "price"},
		{"price above the maximum", func(s *RewardSpec) { s.Price = MaxPrice + 1 }, "price"},
		{"overflowing price", func(s *RewardSpec) { s.Price = math.MaxInt64 }, "price"},
		{"negative stock", func(s *RewardSpec) { s.Stock = -1 }, "stock"},
		{"overflowing stock", func(s *RewardSpec) { s.Stock = math.MaxInt64 }, "stock"},
		{"zero limit", func(s *RewardSpec) { s.Limit = 0 }, "limit"},
		{"no name", func(s *RewardSpec) { s.NameZH = "  " }, "name_zh"},
		{"unknown station", func(s *RewardSpec) { s.Scope = "nowhere" }, "scope"},
		{"no scope", func(s *RewardSpec) { s.Scope = "" }, "scope"},
		{"window ending before it starts", func(s *RewardSpec) {
			s.From = time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
			s.Until = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		}, "until"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec := ok
			c.edit(&spec)
			_, err := e.s.Create(ctx, spec)
			var fe *FieldError
			if !errors.As(err, &fe) || !errors.Is(err, ErrInvalid) || fe.Field != c.field {
				t.Fatalf("got %v, want a FieldError on %s", err, c.field)
			}
			if n := e.count(t, rewardsCollection, nil); n != 0 {
				t.Errorf("%d rewards stored, want 0", n)
			}
		})
	}

	t.Run("update refuses a bad price and changes nothing", func(t *testing.T) {
		r, err := e.s.Create(ctx, ok)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []int64{0, -1, math.MaxInt64} {
			if _, err := e.s.Update(ctx, r.ID, RewardChange{Price: &p}); !errors.Is(err, ErrInvalid) {
				t.Errorf("price %d: got %v, want ErrInvalid", p, err)
			}
		}
		if _, err := e.s.Update(ctx, r.ID, RewardChange{AddStock: -6}); !errors.Is(err, ErrInvalid) {
			t.Errorf("stock below zero: got %v, want ErrInvalid", err)
		}
		got, err := e.s.Reward(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Price != 10 || got.Stock != 5 {
			t.Errorf("after refused updates: price %d stock %d, want 10 and 5", got.Price, got.Stock)
		}
		if _, err := e.s.Update(ctx, "rwnope", RewardChange{AddStock: 1}); !errors.Is(err, ErrRewardNotFound) {
			t.Errorf("unknown reward: got %v, want ErrRewardNotFound", err)
		}
	})
}

func TestShelfUpdateRestockAndRetire(t *testing.T) {
	e := newShelfEnv(t, nil)
	ctx := context.Background()
	r := e.reward(t, "s1", 10, 2, 1)
	p, name := int64(12), "Hot meal"
	got, err := e.s.Update(ctx, r.ID, RewardChange{Price: &p, NameEN: &name, AddStock: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got.Price != 12 || got.Stock != 5 || got.NameEN != "Hot meal" || got.NameZH != "热饭一份" {
		t.Errorf("after update: %+v", got)
	}
	if _, err := e.s.Retire(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	secs, err := e.s.List(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, sec := range secs {
		if len(sec.Rewards) != 0 {
			t.Errorf("a retired reward is listed: %+v", sec)
		}
	}
	if _, err := e.s.Reserve(ctx, "u1", r.ID, "s1", "k1"); !errors.Is(err, ErrRewardUnavailable) {
		t.Errorf("reserve a retired reward: got %v, want ErrRewardUnavailable", err)
	}
}

func TestShelfListsNearestStationsFirst(t *testing.T) {
	e := newShelfEnv(t, nil)
	ctx := context.Background()
	city := e.reward(t, CityScope, 5, 1, 1)
	for _, st := range []string{"s1", "s2", "s3"} {
		e.reward(t, st, 5, 1, 1)
	}
	// A reward outside its window is not shown.
	if _, err := e.s.Create(ctx, RewardSpec{Scope: "s1", NameZH: "以后", Price: 1, Stock: 1, Limit: 1,
		From: e.clock.now().Add(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	order := func(at *Position) []string {
		secs, err := e.s.List(ctx, at)
		if err != nil {
			t.Fatal(err)
		}
		if len(secs[0].Rewards) != 1 || secs[0].Rewards[0].ID != city.ID || secs[0].Station != nil {
			t.Fatalf("first section is not the city's: %+v", secs[0])
		}
		var ids []string
		for _, sec := range secs[1:] {
			if len(sec.Rewards) != 1 {
				t.Errorf("station %s lists %d rewards, want 1", sec.Station.ID, len(sec.Rewards))
			}
			ids = append(ids, sec.Station.ID)
		}
		return ids
	}
	// Next to Meixi Lake (s3); the other two in order of distance.
	near := &Position{Lat: 28.191, Lng: 112.882}
	got := order(near)
	want := []string{"s3", "s1", "s2"}
	if Haversine(near.Lat, near.Lng, 28.230, 112.940) < Haversine(near.Lat, near.Lng, 28.196, 112.977) {
		want = []string{"s3", "s2", "s1"}
	}
	if !slices.Equal(got, want) {
		t.Errorf("with a position: %v, want %v", got, want)
	}
	// Without a position: by name (Ande, Meixi Lake, Wuyi Square).
	if got := order(nil); !slices.Equal(got, []string{"s2", "s3", "s1"}) {
		t.Errorf("without a position: %v, want [s2 s3 s1]", got)
	}
}

func TestShelfHaversine(t *testing.T) {
	// One degree of latitude is about 111.2 km.
	if d := Haversine(28, 112, 29, 112); math.Abs(d-111_195) > 200 {
		t.Errorf("one degree of latitude: %.0f m", d)
	}
	if d := Haversine(28.2, 112.9, 28.2, 112.9); d != 0 {
		t.Errorf("same point: %f", d)
	}
}

// TestShelfPicture runs on the embedded object store and on a real MinIO
// (.ci/run starts one; without NUANXIN_TEST_MINIO the MinIO half is
// skipped, and fails under CI).
func TestShelfPicture(t *testing.T) {
	t.Run("embedded", func(t *testing.T) { testShelfPicture(t, storagetest.Blobs(t)) })
	t.Run("minio", func(t *testing.T) { testShelfPicture(t, storagetest.MinIO(t)) })
}

func testShelfPicture(t *testing.T, blobs *storage.Blobs) {
	e := newShelfEnv(t, blobs)
	ctx := context.Background()
	r := e.reward(t, CityScope, 5, 1, 1)
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for x := range 40 {
		img.Set(x, x%30, color.RGBA{200, 10, 10, 255})
	}
	var jp bytes.Buffer
	if err := jpeg.Encode(&jp, img, nil); err != nil {
		t.Fatal(err)
	}
	// A JPEG with an APP1 (EXIF) segment right after SOI: the stored
	// picture must not carry it.
	exif := append([]byte{0xFF, 0xE1, 0x00, 0x16}, []byte("Exif\x00\x00GPS-SECRET-DATA!")...)
	withExif := append(append([]byte{0xFF, 0xD8}, exif...), jp.Bytes()[2:]...)

	t.Run("a JPEG is stored without its metadata", func(t *testing.T) {
		got, err := e.s.SetPicture(ctx, r.ID, withExif)
		if err != nil {
			t.Fatal(err)
		}
		if !got.HasPicture {
			t.Error("HasPicture not set")
		}
		rc, ctype, err := e.s.Picture(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, _ := io.ReadAll(rc)
		if ctype != "image/jpeg" {
			t.Errorf("content type %q", ctype)
		}
		if bytes.Contains(b, []byte("GPS-SECRET")) {
			t.Error("the stored picture still holds the EXIF block")
		}
		if cfg, err := jpeg.DecodeConfig(bytes.NewReader(b)); err != nil || cfg.Width != 40 || cfg.Height != 30 {
			t.Errorf("stored picture: %v %+v", err, cfg)
		}
	})
	t.Run("refused pictures", func(t *testing.T) {
		before, _ := e.s.Reward(ctx, r.ID)
		big := image.NewGray(image.Rect(0, 0, MaxPictureSide+1, 1))
		var bp bytes.Buffer
		if err := png.Encode(&bp, big); err != nil {
			t.Fatal(err)
		}
		for name, data := range map[string][]byte{
			"not a picture":  []byte("GIF89a not really"),
			"too wide":       bp.Bytes(),
			"too many bytes": make([]byte, MaxPictureBytes+1),
			"truncated JPEG": jp.Bytes()[:len(jp.Bytes())/2],
		} {
			if _, err := e.s.SetPicture(ctx, r.ID, data); !errors.Is(err, ErrPicture) {
				t.Errorf("%s: got %v, want ErrPicture", name, err)
			}
		}
		after, _ := e.s.Reward(ctx, r.ID)
		if after.Picture != before.Picture {
			t.Errorf("a refused picture replaced the stored one")
		}
	})
	t.Run("a reward without a picture", func(t *testing.T) {
		r2 := e.reward(t, CityScope, 5, 1, 1)
		if _, _, err := e.s.Picture(ctx, r2.ID); !errors.Is(err, ErrNoPicture) {
			t.Errorf("got %v, want ErrNoPicture", err)
		}
	})
}

func TestCodeFormatAndParse(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		c := NewCode()
		if len(c) != codeLen {
			t.Fatalf("code %q has %d characters", c, len(c))
		}
		if seen[c] {
			t.Fatalf("code %q drawn twice in 1000", c)
		}
		seen[c] = true
		f := FormatCode(c)
		if len(f) != 12 || f[4] != '-' || f[9] != '-' {
			t.Fatalf("formatted %q", f)
		}
		for _, typed := range []string{f, strings.ToLower(f), c, " " + strings.ReplaceAll(f, "-", " ") + " "} {
			if got, ok := ParseCode(typed); !ok || got != c {
				t.Fatalf("ParseCode(%q) = %q, %v; want %q", typed, got, ok, c)
			}
		}
	}
	if got, ok := ParseCode("oil1-0000-00"); !ok || got != "0111000000" {
		t.Errorf("O, I and L: got %q %v", got, ok)
	}
	for _, bad := range []string{"", "K7M3-9QXA-2", "K7M3-9QXA-2PP", "K7M3-9QXA-2U", "K7M3-9QXA-2*", "密码密码密码密码密码"} {
		if _, ok := ParseCode(bad); ok {
			t.Errorf("ParseCode(%q) accepted", bad)
		}
	}
}

func TestCodeQR(t *testing.T) {
	b, err := CodeQR(NewCode(), 256)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil || cfg.Width != 256 {
		t.Errorf("QR PNG: %v %+v", err, cfg)
	}
}

func TestCodeCrockfordBits(t *testing.T) {
	// 50 bits: all ones gives ten 'Z's, all zeros ten '0's.
	if got := encodeCrockford([]byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, 10); got != "ZZZZZZZZZZ" {
		t.Errorf("ones: %q", got)
	}
	if got := encodeCrockford([]byte{0, 0, 0, 0, 0, 0, 0}, 10); got != "0000000000" {
		t.Errorf("zeros: %q", got)
	}
	if got := encodeCrockford([]byte{0x08}, 2); got != "10" { // 00001 000|00
		t.Errorf("0x08: %q", got)
	}
}
