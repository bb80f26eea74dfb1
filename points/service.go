package points

import (
	"context"
	"log/slog"
	"time"

	"github.com/nuanxin/nuanxin/storage"
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
	Stations StationDirectory
	Names    Names
	Blobs    *storage.Blobs
	Log      *slog.Logger
	Cfg      Config
}
