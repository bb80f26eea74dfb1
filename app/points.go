package app

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/paulmach/orb/geo"
	"github.com/paulmach/orb/planar"

	"github.com/nuanxin/nuanxin/accounts"
	"github.com/nuanxin/nuanxin/council"
	"github.com/nuanxin/nuanxin/grid"
	"github.com/nuanxin/nuanxin/points"
)

// stationDirectory shows council's stations to points.
type stationDirectory struct{ st *council.Service }

func (d stationDirectory) Station(ctx context.Context, id string) (points.StationInfo, bool, error) {
	s, err := d.st.Get(ctx, id)
	if errors.Is(err, council.ErrNotFound) {
		return points.StationInfo{}, false, nil
	}
	if err != nil {
		return points.StationInfo{}, false, err
	}
	return points.StationInfo{ID: s.ID, Name: s.Name, Lat: s.Lat, Lng: s.Lng}, true, nil
}

func (d stationDirectory) Stations(ctx context.Context) ([]points.StationInfo, error) {
	sts, err := d.st.List(ctx)
	out := make([]points.StationInfo, len(sts))
	for i, s := range sts {
		out[i] = points.StationInfo{ID: s.ID, Name: s.Name, Lat: s.Lat, Lng: s.Lng}
	}
	return out, err
}

// awardTags tags an award for the honour boards: the district of the
// report's cell and the station nearest the cell's centre (the station that
// serves the area), so the district and station boards rank the riders who
// look after that part of the city.
func awardTags(g *grid.Service, stations points.StationDirectory) func(cell string) []string {
	return func(cell string) []string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := g.Cell(cell)
		if err != nil {
			return nil
		}
		var tags []string
		if c.District != "" {
			tags = append(tags, "district:"+c.District)
		}
		centre, _ := planar.CentroidArea(c.Geometry)
		sts, err := stations.Stations(ctx)
		if err != nil || len(sts) == 0 {
			return tags
		}
		best, bestD := "", math.Inf(1)
		for _, s := range sts {
			if d := geo.Distance(centre, [2]float64{s.Lng, s.Lat}); d < bestD {
				best, bestD = s.ID, d
			}
		}
		return append(tags, "station:"+best)
	}
}

// accountNames gives points the display names of accounts.
type accountNames struct{ acc *accounts.Service }

func (n accountNames) DisplayName(ctx context.Context, id string) (string, error) {
	u, err := n.acc.Get(ctx, id)
	if errors.Is(err, accounts.ErrNotFound) {
		return "", nil
	}
	return u.DisplayName, err
}

// riderLookup finds a rider by phone number (their login) or account id.
func riderLookup(acc *accounts.Service) func(ctx context.Context, phoneOrID string) (string, bool, error) {
	return func(ctx context.Context, who string) (string, bool, error) {
		u, err := acc.ByLogin(ctx, who)
		if errors.Is(err, accounts.ErrNotFound) {
			u, err = acc.Get(ctx, who)
		}
		if errors.Is(err, accounts.ErrNotFound) {
			return "", false, nil
		}
		if err != nil {
			return "", false, err
		}
		return u.ID, u.Kind == accounts.KindRider, nil
	}
}

// runPointsJobs starts the points background jobs on wg. Each is safe on
// every instance at once: what they write is keyed by unique inserts.
func (a *App) runPointsJobs(ctx context.Context, wg *sync.WaitGroup) {
	p, log := a.Points, a.Log
	// Movements a crash left half-written, and adjustments approved but
	// not yet posted.
	wg.Go(func() {
		every(ctx, 30*time.Second, log, "repair the points ledger", func(ctx context.Context) error {
			if _, err := p.Ledger.Repair(ctx); err != nil {
				return err
			}
			_, err := p.Adjust.Repair(ctx, 100)
			return err
		})
	})
	wg.Go(func() {
		every(ctx, time.Minute, log, "release rewards not picked up", func(ctx context.Context) error {
			_, err := p.Shelf.ExpirePickups(ctx)
			return err
		})
	})
	wg.Go(func() {
		every(ctx, time.Hour, log, "expire points", func(ctx context.Context) error {
			// Two months back: a hold voided after its lot's month ended
			// gives back points that a later run expires.
			rep, err := p.Ledger.ExpireDue(ctx, 2)
			if rep.Points > 0 {
				log.Info("expired points", "accounts", rep.Accounts, "lots", rep.Lots, "points", rep.Points)
			}
			return err
		})
	})
	wg.Go(func() { every(ctx, 2*time.Second, log, "follow the honour boards", p.Honour.Refresh) })
	reconcile := func(ctx context.Context) error {
		rep, err := p.Audit.Run(ctx)
		if err == nil && !rep.Clean() {
			log.Error("the points ledger has anomalies; see /admin/points/ledger", "anomalies", len(rep.Anomalies))
		}
		return err
	}
	wg.Go(func() {
		// Once at start, so the metric and the admin page have a result,
		// then hourly: it reads the whole ledger.
		if err := reconcile(ctx); err != nil && ctx.Err() == nil {
			log.Warn("reconcile the points ledger", "err", err)
		}
		every(ctx, time.Hour, log, "reconcile the points ledger", reconcile)
	})
}

// seedDemoPoints puts rewards on the demo shelves (the city's and each
// station's) and gives the first demo rider welcome points, so the shelf
// can be tried at once. It changes nothing that exists already: a shelf
// with rewards is left alone, and the welcome award is keyed.
func seedDemoPoints(ctx context.Context, acc *accounts.Service, p *points.Service, stations points.StationDirectory) error {
	add := func(scope string, specs []points.RewardSpec) error {
		have, err := p.Shelf.All(ctx, scope)
		if err != nil || len(have) > 0 {
			return err
		}
		for _, s := range specs {
			s.Scope = scope
			if _, err := p.Shelf.Create(ctx, s); err != nil {
				return fmt.Errorf("demo reward %s: %w", s.NameEN, err)
			}
		}
		return nil
	}
	if err := add(points.CityScope, []points.RewardSpec{
		{NameZH: "矿泉水一瓶", NameEN: "A bottle of water", Price: 10, Stock: 200, Limit: 5},
		{NameZH: "共享充电宝两小时", NameEN: "Two hours of a shared power bank", Price: 30, Stock: 50, Limit: 2},
	}); err != nil {
		return err
	}
	sts, err := stations.Stations(ctx)
	if err != nil {
		return err
	}
	for _, st := range sts {
		if err := add(st.ID, []points.RewardSpec{
			{NameZH: "暖心食堂午餐", NameEN: "Lunch at the station canteen", Price: 50, Stock: 20, Limit: 4},
			{NameZH: "骑行雨衣", NameEN: "Riding raincoat", Price: 80, Stock: 10, Limit: 1},
		}); err != nil {
			return err
		}
	}
	u, err := acc.ByLogin(ctx, "13800138001")
	if err != nil {
		return err
	}
	_, err = p.Earner.Award(ctx, points.AwardRequest{Key: "demo:welcome:" + u.ID, UserID: u.ID, Points: 100,
		Note: "演示欢迎积分 / demo welcome points", Ref: "demo:welcome"})
	return err
}
