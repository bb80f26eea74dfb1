package points

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Auditor runs reconciliation (Ledger.Verify) and keeps the last result for
// the admin page and the metrics. Verify reads the whole ledger, so it runs
// in the background on an interval and when an admin asks, never on a page
// view.
type Auditor struct {
	l *Ledger

	anomalies prometheus.Gauge
	lastRun   prometheus.Gauge
	failures  prometheus.Counter

	mu      sync.Mutex
	running sync.Mutex // one run at a time in this instance
	last    Report
	lastErr error
	ran     bool
}

// NewAuditor builds an auditor of l and registers its metrics on reg (nil:
// not registered):
//
//	nuanxin_points_anomalies                  anomalies the last reconciliation found
//	nuanxin_points_reconciled_timestamp_seconds when it finished
//	nuanxin_points_reconcile_failures_total   runs that could not read the ledger
func NewAuditor(l *Ledger, reg prometheus.Registerer) *Auditor {
	a := &Auditor{
		l: l,
		anomalies: prometheus.NewGauge(prometheus.GaugeOpts{Name: "nuanxin_points_anomalies",
			Help: "Anomalies the last reconciliation of the points ledger found; anything but 0 needs an auditor."}),
		lastRun: prometheus.NewGauge(prometheus.GaugeOpts{Name: "nuanxin_points_reconciled_timestamp_seconds",
			Help: "When the last reconciliation of the points ledger finished (Unix time)."}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "nuanxin_points_reconcile_failures_total",
			Help: "Reconciliation runs that could not read the points ledger."}),
	}
	a.anomalies.Set(-1) // not run yet
	if reg != nil {
		reg.MustRegister(a.anomalies, a.lastRun, a.failures)
	}
	return a
}

// Run completes what a crash left half-written (Repair), then reconciles.
// Repairing first keeps a movement that was merely interrupted from showing
// as a missing leg.
func (a *Auditor) Run(ctx context.Context) (Report, error) {
	a.running.Lock()
	defer a.running.Unlock()
	if _, err := a.l.Repair(ctx); err != nil {
		a.failures.Inc()
		a.store(Report{}, err)
		return Report{}, err
	}
	rep, err := a.l.Verify(ctx)
	if err != nil {
		a.failures.Inc()
	} else {
		a.anomalies.Set(float64(len(rep.Anomalies)))
		a.lastRun.Set(float64(time.Now().Unix()))
	}
	a.store(rep, err)
	return rep, err
}

func (a *Auditor) store(rep Report, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.last, a.lastErr, a.ran = rep, err, true
}

// Last returns the last result; ran is false before the first run.
func (a *Auditor) Last() (rep Report, err error, ran bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last, a.lastErr, a.ran
}

// WriteReport writes a reconciliation result as text, one anomaly a line,
// as `nuanxin ledger verify` prints it.
func WriteReport(w io.Writer, rep Report) error {
	state := "clean"
	if !rep.Clean() {
		state = fmt.Sprintf("%d anomalies", len(rep.Anomalies))
	}
	if _, err := fmt.Fprintf(w, "points ledger at %s: %d accounts, %d entries, %d movements: %s\n",
		rep.At.Format(time.RFC3339), rep.Accounts, rep.Entries, rep.Movements, state); err != nil {
		return err
	}
	for _, an := range rep.Anomalies {
		if _, err := fmt.Fprintln(w, "  "+an.String()); err != nil {
			return err
		}
	}
	return nil
}
