package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/nuanxin/nuanxin/points"
	"github.com/nuanxin/nuanxin/storage"
)

// ErrLedgerAnomalies is what `nuanxin ledger verify` returns when
// reconciliation finds anything wrong, so the command exits non-zero.
var ErrLedgerAnomalies = errors.New("the points ledger has anomalies")

const ledgerUsage = `usage: nuanxin ledger verify [flags]

Reconciles the points ledger: recomputes every account's chain (numbers and
balances follow on), checks every movement's legs sum to zero and no hold is
overdue, prints what it found and exits 1 on any anomaly. It only reads.
The flags and NUANXIN_* variables are those of the server (-mongo-uri,
-data-dir, …). The embedded store belongs to one process at a time: stop the
server before verifying its ./data, or use the admin page
/admin/points/ledger, which runs the same check inside the server.`

// runLedger runs `nuanxin ledger <command>`.
func runLedger(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintln(stdout, ledgerUsage)
		return fmt.Errorf("ledger: give the command verify")
	}
	cfg, err := ParseConfig(args[1:], getenv, stdout)
	if err != nil {
		return err
	}
	cfg.LogLevel = max(cfg.LogLevel, slog.LevelWarn) // warnings only: the report is the output
	log := NewLogger(cfg, stdout)
	stores, err := storage.Open(ctx, cfg.Storage, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := stores.Close(context.WithoutCancel(ctx)); err != nil {
			log.Warn("close stores", "err", err)
		}
	}()
	rep, err := points.NewLedger(stores.DB, log).Verify(ctx)
	if err != nil {
		return err
	}
	if err := points.WriteReport(stdout, rep); err != nil {
		return err
	}
	if !rep.Clean() {
		return fmt.Errorf("%w: %d found", ErrLedgerAnomalies, len(rep.Anomalies))
	}
	return nil
}
