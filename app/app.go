// Package app assembles Nuanxin: the stores, the policy, every domain service,
// the background workers and the HTTP routes. The binary (cmd/nuanxin) and
// every test that exercises more than one package build the application
// through New, so what is tested is what ships: a dependency missing from the
// wiring fails here, at start, with a message naming it, not at a page view.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/nuanxin/nuanxin/accounts"
	"github.com/nuanxin/nuanxin/council"
	"github.com/nuanxin/nuanxin/grid"
	"github.com/nuanxin/nuanxin/inbox"
	"github.com/nuanxin/nuanxin/open311"
	"github.com/nuanxin/nuanxin/points"
	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/reports"
	"github.com/nuanxin/nuanxin/storage"
	"github.com/nuanxin/nuanxin/web"
)

// App is the built application: what Run serves and what tests drive.
type App struct {
	Config   Config
	Log      *slog.Logger
	Stores   *storage.Stores
	Server   *web.Server
	Enforcer *policy.Enforcer
	Gate     *policy.Gate
	Accounts *accounts.Service
	Grid     *grid.Service
	Stations *council.Service
	Reports  *reports.Service
	Feed     *reports.Feed
	Days     *reports.DayIndex
	Inbox    *inbox.Service
	Points   *points.Service
	Council  *council.Hub

	closeOnce sync.Once
	closers   []func()
}

// Run is the program: it reads the configuration from args and getenv, builds
// the application, serves until ctx ends, then shuts down gracefully.
// listening, if set, is told the bound address (tests listen on port 0).
//
// `nuanxin ledger verify` reconciles the points ledger instead (runLedger).
func Run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, listening func(addr string)) error {
	if len(args) > 0 && args[0] == "ledger" {
		return runLedger(ctx, args[1:], getenv, stdout)
	}
	cfg, err := ParseConfig(args, getenv, stdout)
	if err != nil {
		return err
	}
	log := NewLogger(cfg, stdout)
	log.Info("starting", "config", cfg)
	a, err := New(ctx, cfg, log, stdout)
	if err != nil {
		return err
	}
	defer a.Close()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	log.Info("listening", "addr", ln.Addr().String(), "url", "http://"+displayAddr(ln.Addr()))
	if listening != nil {
		listening(ln.Addr().String())
	}
	if err := a.Serve(ctx, ln); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// displayAddr is an address a person can paste into a browser: a wildcard
// listener is reachable on localhost.
func displayAddr(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok && ta.IP.IsUnspecified() {
		return fmt.Sprintf("localhost:%d", ta.Port)
	}
	return a.String()
}

// Serve serves on ln until ctx ends, then lets in-flight requests finish for
// up to Config.ShutdownWait. It always returns once ctx has ended, even when
// ctx ends before the server has started accepting on ln.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	served := make(chan error, 1)
	go func() { served <- a.Server.App.Listener(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	a.Log.Info("shutting down; letting in-flight requests finish", "timeout", a.Config.ShutdownWait)
	sctx, cancel := context.WithTimeout(context.Background(), a.Config.ShutdownWait)
	defer cancel()
	err := a.Server.Shutdown(sctx)
	// The server closes only the listeners it has registered: if the
	// serving goroutine had not got that far, closing ln here makes it
	// return at once instead of serving forever.
	_ = ln.Close()
	if serr := <-served; serr != nil && !errors.Is(serr, net.ErrClosed) {
		a.Log.Warn("server stopped", "err", serr)
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// Close stops background work and closes the stores, last opened first. It
// may be called more than once.
func (a *App) Close() {
	a.closeOnce.Do(func() {
		for i := len(a.closers) - 1; i >= 0; i-- {
			a.closers[i]()
		}
	})
}

// NewLogger makes the logger the configuration asks for.
func NewLogger(cfg Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// New builds everything in order: stores, indexes, policy, services,
// background workers and routes. stdout receives the demo city's logins. On
// error nothing is left running.
func New(ctx context.Context, cfg Config, log *slog.Logger, stdout io.Writer) (_ *App, err error) {
	cfg = cfg.withDefaults()
	a := &App{Config: cfg, Log: log}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cfg.Storage.Metrics = reg

	stores, err := storage.Open(ctx, cfg.Storage, log)
	if err != nil {
		return nil, err
	}
	a.Stores = stores
	a.closers = append(a.closers, func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := stores.Close(cctx); err != nil {
			log.Warn("close stores", "err", err)
		}
	})
	log.Info("stores open", "embedded_documents", stores.EmbeddedDocs, "embedded_objects", stores.EmbeddedBlobs)

	var indexes []storage.Index
	for _, ix := range [][]storage.Index{policy.Indexes(), accounts.Indexes(), grid.Indexes(), council.Indexes(), council.MemberIndexes(), council.FeedbackIndexes(), council.HubIndexes(), reports.Indexes(), reports.DayIndexes(), inbox.Indexes(), open311.Indexes(), points.Indexes()} {
		indexes = append(indexes, ix...)
	}
	if err := storage.EnsureIndexes(ctx, stores.DB, indexes); err != nil {
		return nil, err
	}
	if n, err := stores.IndexIDs(ctx); err != nil {
		return nil, err
	} else if n > 0 {
		log.Info("indexed _id lookups of the embedded document store", "collections", n)
	}

	a.Enforcer, err = policy.NewEnforcer(ctx, stores.DB, log)
	if err != nil {
		return nil, err
	}
	a.Accounts = accounts.NewService(stores.DB, a.Enforcer, log)
	a.Gate = policy.NewGate(a.Enforcer, a.Accounts, log)
	a.Grid = grid.NewService(stores.DB, a.Enforcer, officerLookup(a.Accounts), log)
	if err := a.Grid.Load(ctx); err != nil {
		return nil, err
	}
	a.Stations = council.NewService(stores.DB, a.Enforcer, stationAdminLookup(a.Accounts), log)
	if err := a.Stations.Load(ctx); err != nil {
		return nil, err
	}
	enforcer := a.Enforcer
	a.Inbox = inbox.NewService(stores.DB, func() []string { return enforcer.UsersWith(policy.RoleAdmin, policy.DomainAll) }, log)
	if _, err := a.Inbox.Migrate(ctx); err != nil {
		return nil, fmt.Errorf("move earlier notifications into the inbox chains: %w", err)
	}
	a.Feed = reports.NewFeed(stores.DB, log)
	if err := a.Feed.Init(ctx); err != nil {
		return nil, err
	}
	stations := stationDirectory{a.Stations}
	a.Points, err = points.New(points.Deps{DB: stores.DB, Blobs: stores.Blobs, Stations: stations,
		Names: points.MaskedNames{Inner: accountNames{a.Accounts}, Prefs: stores.DB}, Metrics: reg, Log: log}, cfg.Points)
	if err != nil {
		return nil, err
	}
	a.Points.Earner.TagsFor = awardTags(a.Grid, stations)
	a.Points.Adjust.Riders = riderLookup(a.Accounts)
	a.Council = newCouncil(a, log)
	// Points take an event before the feed does (Last), so that a page
	// refreshed by the live stream (which follows the feed) shows the
	// award. The day index lets Open311 searches read by _id.
	a.Days = reports.NewDayIndex(stores.DB, log)
	if _, err := a.Days.Migrate(ctx); err != nil {
		return nil, fmt.Errorf("index the stored reports by day: %w", err)
	}
	consumers := []reports.Consumer{{Name: "inbox", Events: a.Inbox}, {Name: "points", Events: a.Points.Earner},
		{Name: "day_index", Events: a.Days}, {Name: reports.DisputesConsumer, Events: reports.NewDisputes(stores.DB)},
		{Name: "feed", Events: a.Feed, Last: true}}
	a.Reports = reports.NewService(stores.DB, stores.Blobs, a.Grid.Routing(), a.Accounts, consumers,
		reports.Config{AcknowledgeWithin: cfg.AcknowledgeWithin, DecideWithin: cfg.DecideWithin, Categories: cfg.Categories,
			SubmitWriters: submitWriters(stores.EmbeddedDocs)}, log)
	// Reports stored before ticket numbers get theirs, once, before the
	// open reports are loaded with them.
	if _, err := a.Reports.MigrateTickets(ctx); err != nil {
		return nil, fmt.Errorf("give the stored reports ticket numbers: %w", err)
	}
	// The open reports are read from memory (the queue, the SLA worker, the
	// duplicate search), kept current by the feed every instance follows.
	if err := a.Reports.LoadOpen(ctx, a.Feed); err != nil {
		return nil, err
	}
	// So are the figures: per day, built from the feed, each closed day
	// rolled up once into a document read by _id.
	if err := a.Reports.LoadFigures(ctx, a.Feed); err != nil {
		return nil, err
	}

	created, pw, err := a.Accounts.EnsureAdmin(ctx, cfg.AdminPassword)
	if err != nil {
		return nil, err
	}
	if created && cfg.AdminPassword == "" {
		// Shown once: it is not stored anywhere in clear.
		log.Warn("created the admin account; write this password down, it is not shown again", "login", "admin", "password", pw)
	} else if created {
		log.Info("created the admin account with NUANXIN_ADMIN_PASSWORD", "login", "admin")
	}
	if cfg.Demo {
		if err := seedDemo(ctx, stdout, a.Accounts, a.Grid, a.Stations); err != nil {
			return nil, fmt.Errorf("seed demo city: %w", err)
		}
		if err := seedDemoPoints(ctx, a.Accounts, a.Points, stations); err != nil {
			return nil, fmt.Errorf("seed demo points: %w", err)
		}
		if err := seedDemoCouncil(ctx, a.Accounts, a.Council); err != nil {
			return nil, fmt.Errorf("seed demo council: %w", err)
		}
	}

	a.Server = web.NewServer(web.Options{Gate: a.Gate, Ready: func(ctx context.Context) error {
		if err := stores.Ping(ctx); err != nil {
			return err
		}
		if err := a.Reports.OpenReady(); err != nil {
			return err
		}
		return a.Reports.FiguresReady()
	}, Registry: reg, Log: log, TrustProxy: cfg.TrustProxy, ImgSrc: []string{cfg.MapTiles.Origin()}})
	accounts.Routes(a.Server.API, a.Gate, a.Accounts, log)
	grid.Routes(a.Server.API, a.Gate, a.Grid, log)
	council.Routes(a.Server.API, a.Gate, a.Stations, log)
	reports.Routes(a.Server.API, a.Gate, a.Reports, log)
	inbox.Routes(a.Server.API, a.Gate, a.Inbox, log)
	points.Routes(a.Server.API, a.Gate, a.Points)
	council.HubRoutes(a.Server.API, a.Gate, a.Council, log)
	open311Keys := open311.NewKeys(stores.DB, log)
	open311.Routes(a.Server.App, a.Server.API, a.Gate, open311Keys, open311.NewService(a.Reports, open311Keys, log), log)
	if err := inbox.MountLive(a.Server, a.Gate, a.Accounts, a.Feed, a.Inbox, log); err != nil {
		return nil, err
	}
	if err := mountPages(a, log); err != nil {
		return nil, err
	}

	// Every route takes web.DefaultBody at most; these take more, and only
	// from a caller who sent a credential (Open311 clients send their key
	// in the form, so that route is open to all, with a photo's limit).
	for _, r := range []struct {
		path  string
		limit int
	}{
		{"/api/v1/reports", reports.MaxSubmitBody},
		{"/report", reports.MaxSubmitBody},
		{"/api/v1/reports/:id/resolve", reports.MaxResolveBody},
		{"/reports/:id/resolve", reports.MaxResolveBody},
		{"/api/v1/reports/:id/messages", reports.MaxMessageBody},
		{"/reports/:id/messages", reports.MaxMessageBody},
		{"/api/v1/reports/metoo", reports.MaxMeTooBody},
		{"/api/v1/grid/import", grid.MaxImportBytes},
		{"/admin/grid/import", grid.MaxImportBytes},
		// "Select all" on a map of up to grid.MaxAssignCells cells.
		{"/admin/grid/assign", 256 << 10},
		{"/api/v1/grid/assign", 256 << 10},
		{"/station/:id/shelf/:reward/picture", points.MaxPictureBody},
		{"/admin/points/shelf/:reward/picture", points.MaxPictureBody},
		{"/api/v1/stations/:id/feedback", council.MaxFeedbackBody},
		{"/stations/:id/feedback", council.MaxFeedbackBody},
		{"/station/:id/photos", council.MaxFeedbackBody},
	} {
		a.Server.AllowBody(fiber.MethodPost, r.path, r.limit, true)
	}
	a.Server.AllowBody(fiber.MethodPut, "/api/v1/points/rewards/:id/picture", points.MaxPictureBody, true)
	a.Server.AllowBody(fiber.MethodPost, "/open311/v2/requests.json", open311.MaxSubmitBody, false)

	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { a.Enforcer.Watch(bg, cfg.ReloadInterval) })
	wg.Go(func() { a.Grid.Watch(bg, cfg.ReloadInterval) })
	wg.Go(func() { a.Stations.Watch(bg, cfg.ReloadInterval) })
	wg.Go(func() { every(bg, time.Hour, log, "prune sessions", a.Accounts.PruneSessions) })
	wg.Go(func() { a.Reports.Run(bg, cfg.SLAInterval) })
	wg.Go(func() { every(bg, 5*time.Minute, log, "roll up the report figures", a.Reports.RollUpFigures) })
	wg.Go(func() { a.Feed.Follow(bg, cfg.LiveInterval) })
	// The session cache follows account changes made elsewhere at the pace
	// live pages follow reports: a disabled account is out everywhere
	// within one interval.
	wg.Go(func() { a.Accounts.Follow(bg, cfg.LiveInterval) })
	a.runPointsJobs(bg, &wg)
	a.runCouncilJobs(bg, &wg)
	// Collections created since the start get their _id index here.
	wg.Go(func() {
		every(bg, time.Minute, log, "index _id lookups of the embedded document store", func(ctx context.Context) error {
			_, err := stores.IndexIDs(ctx)
			return err
		})
	})
	a.closers = append(a.closers, func() {
		stopBG()
		wg.Wait()
		// Thumbnails still waiting for a slot are left to Repair after the
		// restart; the one being made finishes before the stores close.
		a.Reports.StopLater()
		a.Reports.Wait()
	})
	return a, nil
}

// mountPages mounts every domain's pages on one page kit, then checks that
// every message and static file the templates name was added.
func mountPages(a *App, log *slog.Logger) error {
	pages, err := web.NewPages(a.Server, web.PageOptions{Gate: a.Gate, Auth: a.Accounts, CookieLifetime: accounts.SessionTTL, Log: log})
	if err != nil {
		return err
	}
	officers := func(ctx context.Context) ([]grid.OfficerAccount, error) {
		us, err := a.Accounts.List(ctx, string(accounts.KindOfficer))
		out := make([]grid.OfficerAccount, len(us))
		for i, u := range us {
			out[i] = grid.OfficerAccount{ID: u.ID, Name: u.DisplayName, Login: u.Login, Disabled: u.Disabled}
		}
		return out, err
	}
	nameOf := func(ctx context.Context, id string) (string, error) {
		u, err := a.Accounts.Get(ctx, id)
		return u.DisplayName, err
	}
	if err := accounts.MountPages(pages, a.Accounts, log); err != nil {
		return err
	}
	if err := grid.MountPages(pages, a.Grid, officers, a.Reports.OpenByCell); err != nil {
		return err
	}
	if err := reports.MountPages(pages, a.Reports, a.Grid, nameOf, reports.WithMapTiles(a.Config.MapTiles)); err != nil {
		return err
	}
	if err := inbox.MountPages(pages, a.Inbox, a.Reports, a.Grid); err != nil {
		return err
	}
	if err := points.MountPages(pages, a.Points); err != nil {
		return err
	}
	if err := council.MountPages(pages, a.Council); err != nil {
		return err
	}
	return pages.Check()
}

func officerLookup(a *accounts.Service) grid.OfficerLookup {
	return func(ctx context.Context, id string) (grid.Officer, bool, error) {
		u, err := a.Get(ctx, id)
		if errors.Is(err, accounts.ErrNotFound) {
			return grid.Officer{}, false, nil
		}
		if err != nil {
			return grid.Officer{}, false, err
		}
		return grid.Officer{ID: u.ID, Name: u.DisplayName, Eligible: u.Kind == accounts.KindOfficer && !u.Disabled}, true, nil
	}
}

func stationAdminLookup(a *accounts.Service) council.StationAdminLookup {
	return func(ctx context.Context, id string) (bool, error) {
		u, err := a.Get(ctx, id)
		if errors.Is(err, accounts.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return u.Kind == accounts.KindStationAdmin && !u.Disabled, nil
	}
}

// submitWriters is how many submissions write at once: as many as there
// are cores on the embedded store, which commits one write at a time (see
// reports.Config.SubmitWriters); no bound on MongoDB.
func submitWriters(embedded bool) int {
	if !embedded {
		return 0
	}
	return runtime.GOMAXPROCS(0)
}

// every runs job each interval until ctx ends; a failure is logged and the
// job runs again at the next tick.
func every(ctx context.Context, interval time.Duration, log *slog.Logger, what string, job func(context.Context) error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := job(ctx); err != nil && ctx.Err() == nil {
				log.Warn(what, "err", err)
			}
		}
	}
}
