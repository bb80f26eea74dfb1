package points

import (
	"context"
	"log/slog"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/storage"
	"github.com/nuanxin/nuanxin/web"
)

// Zone is the time zone of the days and months that points count in
// (daily and monthly caps, leaderboards, the end of the month a lot expires
// at): China Standard Time, which has had no daylight saving since 1991, so
// a fixed offset is exact and needs no time zone database.
var Zone = time.FixedZone("CST", 8*3600)

// DayKey names the day of t in Zone, "2006-01-02".
func DayKey(t time.Time) string { return t.In(Zone).Format("2006-01-02") }

// MonthKey names the month of t in Zone, "2006-01".
func MonthKey(t time.Time) string { return t.In(Zone).Format("2006-01") }

// StationInfo is what points needs to know of a rest station.
type StationInfo struct {
	ID, Name string
	Lat, Lng float64
}

// StationDirectory looks stations up (council keeps them).
type StationDirectory interface {
	// Station returns a station by id; ok is false if there is none.
	Station(ctx context.Context, id string) (st StationInfo, ok bool, err error)
	// Stations lists every station.
	Stations(ctx context.Context) ([]StationInfo, error)
}

// Names gives the name a public page may show for a rider: the display
// name if the rider chose to show it, else a masked one; never a phone
// number.
type Names interface {
	DisplayName(ctx context.Context, userID string) (string, error)
}

// Config holds the points settings.
type Config struct {
	Rules      Rules // earning rules; DefaultRules() unless a file says otherwise
	LotMonths  int   // an award expires at the end of the month this many months later; default 12
	PickupDays int   // a reserved reward not picked up in this many days is released; default 7
}

func (c Config) withDefaults() Config {
	if c.LotMonths <= 0 {
		c.LotMonths = 12
	}
	if c.PickupDays <= 0 {
		c.PickupDays = 7
	}
	if c.Rules.empty() {
		c.Rules = DefaultRules()
	}
	return c
}

// Service is the points domain: the ledger and what is built on it.
type Service struct {
	Ledger   *Ledger
	Earner   *Earner
	Shelf    *Shelf
	Honour   *Honour
	Adjust   *Adjuster
	Audit    *Auditor
	Stations StationDirectory
	Names    Names
	Blobs    *storage.Blobs
	Log      *slog.Logger
	Cfg      Config
}

// Deps is what New needs from the rest of the application.
type Deps struct {
	DB       *mongo.Database
	Blobs    *storage.Blobs
	Stations StationDirectory
	Names    Names
	Metrics  prometheus.Registerer // nil: metrics not registered
	Log      *slog.Logger
}

// New builds the points domain on one ledger. The indexes of Indexes must
// exist first (storage.EnsureIndexes).
func New(d Deps, cfg Config) (*Service, error) {
	if err := web.Require("points", map[string]bool{"DB": d.DB == nil, "Blobs": d.Blobs == nil, "Stations": d.Stations == nil,
		"Names": d.Names == nil, "Log": d.Log == nil}); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	l := NewLedger(d.DB, d.Log)
	s := &Service{
		Ledger: l, Stations: d.Stations, Names: d.Names, Blobs: d.Blobs, Log: d.Log, Cfg: cfg,
		Earner: NewEarner(l, d.DB, cfg.Rules, cfg.LotMonths, d.Log),
		Shelf:  NewShelf(l, d.DB, d.Blobs, d.Stations, cfg.PickupDays, d.Log),
		Honour: NewHonour(l, d.Names, d.Log),
		Adjust: NewAdjuster(l, d.DB, cfg.LotMonths, d.Log),
		Audit:  NewAuditor(l, d.Metrics),
	}
	return s, nil
}

// levelName is the name of the level of a lifetime's earnings in l's language.
func (s *Service) levelName(l web.Lang, earned int64) string {
	lv, _ := LevelOf(earned)
	return levelWord(l, lv)
}

// levelWord is a level's name in l's language.
func levelWord(l web.Lang, lv Level) string {
	if l.Tag() == "en" {
		return lv.EN
	}
	return lv.ZH
}

// Routes mounts the points JSON API.
func Routes(api huma.API, gate *policy.Gate, s *Service) {
	walletRoutes(api, gate, s)
	earnRoutes(api, gate, s)
	shelfRoutes(api, gate, s)
	honourRoutes(api, gate, s)
}

// MountPages adds the points pages. Its templates use reports' live
// messages and inbox's live.js, so those are mounted too.
func MountPages(k *web.Pages, s *Service) error {
	if err := web.Require("points: pages", map[string]bool{"Pages": k == nil, "Service": s == nil}); err != nil {
		return err
	}
	for _, mount := range []func(*web.Pages, *Service) error{mountWalletPages, mountEarnPages, mountShelfPages, mountHonourPages} {
		if err := mount(k, s); err != nil {
			return err
		}
	}
	return nil
}
