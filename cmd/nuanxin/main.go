// Command nuanxin runs the Nuanxin server. With no configuration it starts
// embedded document and object stores under ./data, so it runs on a laptop
// with nothing installed; NUANXIN_MONGO_URI and NUANXIN_S3_ENDPOINT point it
// at MongoDB and MinIO in production.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/nuanxin/nuanxin/accounts"
	"github.com/nuanxin/nuanxin/council"
	"github.com/nuanxin/nuanxin/grid"
	"github.com/nuanxin/nuanxin/inbox"
	"github.com/nuanxin/nuanxin/open311"
	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/reports"
	"github.com/nuanxin/nuanxin/storage"
	"github.com/nuanxin/nuanxin/web"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, "nuanxin:", err)
		os.Exit(1)
	}
}

// run builds the application, serves until ctx ends, then shuts down
// gracefully. listening, if set, is told the bound address (tests listen on
// port 0).
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, listening func(addr string)) error {
	cfg, err := parseConfig(args, getenv, stdout)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stdout)
	log.Info("starting", "config", cfg)
	a, err := newApp(ctx, cfg, log, stdout)
	if err != nil {
		return err
	}
	defer a.close()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	log.Info("listening", "addr", ln.Addr().String())
	if listening != nil {
		listening(ln.Addr().String())
	}
	served := make(chan error, 1)
	go func() { served <- a.srv.App.Listener(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down; letting in-flight requests finish", "timeout", cfg.ShutdownWait)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownWait)
	defer cancel()
	if err := a.srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, net.ErrClosed) {
		log.Warn("server stopped", "err", err)
	}
	log.Info("stopped")
	return nil
}

// app is the built application: what run serves and what tests drive.
type app struct {
	stores   *storage.Stores
	srv      *web.Server
	gate     *policy.Gate
	accounts *accounts.Service
	grid     *grid.Service
	reports  *reports.Service
	inbox    *inbox.Service
	closers  []func()
}

// close stops background work and closes the stores, last opened first.
func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
}

// newApp builds everything in order: stores, indexes, policy, services,
// background watchers and routes. On error nothing is left running.
func newApp(ctx context.Context, cfg config, log *slog.Logger, stdout io.Writer) (_ *app, err error) {
	a := &app{}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cfg.Storage.Metrics = reg

	stores, err := storage.Open(ctx, cfg.Storage, log)
	if err != nil {
		return nil, err
	}
	a.stores = stores
	a.closers = append(a.closers, func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := stores.Close(cctx); err != nil {
			log.Warn("close stores", "err", err)
		}
	})
	log.Info("stores open", "embedded_documents", stores.EmbeddedDocs, "embedded_objects", stores.EmbeddedBlobs)

	var indexes []storage.Index
	for _, ix := range [][]storage.Index{policy.Indexes(), accounts.Indexes(), grid.Indexes(), council.Indexes(), reports.Indexes(), inbox.Indexes(), open311.Indexes()} {
		indexes = append(indexes, ix...)
	}
	if err := storage.EnsureIndexes(ctx, stores.DB, indexes); err != nil {
		return nil, err
	}

	enforcer, err := policy.NewEnforcer(ctx, stores.DB, log)
	if err != nil {
		return nil, err
	}
	a.accounts = accounts.NewService(stores.DB, enforcer, log)
	a.gate = policy.NewGate(enforcer, a.accounts, log)
	a.grid = grid.NewService(stores.DB, enforcer, officerLookup(a.accounts), log)
	if err := a.grid.Load(ctx); err != nil {
		return nil, err
	}
	councilSvc := council.NewService(stores.DB, enforcer, stationAdminLookup(a.accounts), log)
	a.inbox = inbox.NewService(stores.DB, func() []string { return enforcer.UsersWith(policy.RoleAdmin, policy.DomainAll) }, log)
	feed := reports.NewFeed(stores.DB, log)
	if err := feed.Init(ctx); err != nil {
		return nil, err
	}
	a.reports = reports.NewService(stores.DB, stores.Blobs, a.grid.Routing(), a.accounts, reports.Fanout{a.inbox, feed},
		reports.Config{AcknowledgeWithin: cfg.AcknowledgeWithin, DecideWithin: cfg.DecideWithin, Categories: cfg.Categories}, log)

	created, pw, err := a.accounts.EnsureAdmin(ctx, cfg.AdminPassword)
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
		if err := seedDemo(ctx, stdout, a.accounts, a.grid, councilSvc); err != nil {
			return nil, fmt.Errorf("seed demo city: %w", err)
		}
	}

	a.srv = web.NewServer(web.Options{Gate: a.gate, Ready: stores.Ping, Registry: reg, Log: log, TrustProxy: cfg.TrustProxy})
	accounts.Routes(a.srv.API, a.gate, a.accounts, log)
	grid.Routes(a.srv.API, a.gate, a.grid, log)
	council.Routes(a.srv.API, a.gate, councilSvc, log)
	reports.Routes(a.srv.API, a.gate, a.reports, log)
	inbox.Routes(a.srv.API, a.gate, a.inbox, log)
	open311Keys := open311.NewKeys(stores.DB, log)
	open311.Routes(a.srv.App, a.srv.API, a.gate, open311Keys, open311.NewService(stores.DB, a.reports, open311Keys, log), log)
	web.MountLive(a.srv, web.LiveDeps{Gate: a.gate, Feed: feed, Inbox: a.inbox, Log: log})
	web.MountPages(a.srv, web.PageDeps{Gate: a.gate, Accounts: a.accounts, Grid: a.grid, Stations: councilSvc, Log: log})

	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { enforcer.Watch(bg, cfg.ReloadInterval) })
	wg.Go(func() { a.grid.Watch(bg, cfg.ReloadInterval) })
	wg.Go(func() { pruneSessions(bg, a.accounts, log) })
	wg.Go(func() { a.reports.Run(bg, cfg.SLAInterval) })
	wg.Go(func() { feed.Follow(bg, cfg.LiveInterval) })
	a.closers = append(a.closers, func() { stopBG(); wg.Wait() })
	return a, nil
}

func newLogger(cfg config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
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

func pruneSessions(ctx context.Context, a *accounts.Service, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := a.PruneSessions(ctx); err != nil && ctx.Err() == nil {
				log.Warn("prune sessions", "err", err)
			}
		}
	}
}
