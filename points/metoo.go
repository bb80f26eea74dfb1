package points

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/nuanxin/nuanxin/reports"
)

// "Me too" (我也遇到): a rider who confirms another rider's report instead
// of filing a new one earns Rules.MeToo, once the problem is verified. The
// first reporter keeps the report's own award (Earner's chain, unchanged);
// a confirmation is a fact of its own, paid through Award under the key
// "metoo:<report>:<rider>", so that it is paid once however often the
// events come, within the rider's caps like any award.
//
// Every event carries the report's confirmers (Event.MeTooBy), so the
// first event in a verified status pays all who confirmed before, and the
// event of a later confirmation (still verified, in progress or resolved)
// pays that rider. A report rejected, or still undecided, pays none; a
// confirmation of a report later rejected keeps what it was paid, as the
// problem was verified when it confirmed it.

// meTooPaid remembers the confirmations this instance has settled (paid,
// or refused for good), so that the many events of a report do not ask
// the store again for each of its confirmers. Forgetting is harmless: the
// Award key makes asking again a replay.
type meTooPaid struct {
	mu   sync.Mutex
	keys map[string]bool
}

func (m *meTooPaid) has(key string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.keys[key]
}

func (m *meTooPaid) add(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.keys == nil || len(m.keys) >= maxRemembered {
		m.keys = map[string]bool{}
	}
	m.keys[key] = true
}

// MeTooKey is the Award key of a rider's confirmation of a report.
func MeTooKey(reportID, riderID string) string { return "metoo:" + reportID + ":" + riderID }

// payMeToo pays the confirmers of a verified report (see above). It
// returns an error only when the event must come again: a store failure.
func (e *Earner) payMeToo(ctx context.Context, ev reports.Event) error {
	switch ev.Status {
	case reports.StatusVerified, reports.StatusInProgress, reports.StatusResolved:
	default:
		return nil
	}
	if e.rules.MeToo <= 0 || ev.ReportID == "" || strings.Contains(ev.ReportID, "/") {
		return nil
	}
	for _, rider := range ev.MeTooBy {
		if rider == "" || rider == ev.ReporterID {
			continue
		}
		key := MeTooKey(ev.ReportID, rider)
		if e.meToo.has(key) {
			continue
		}
		_, err := e.Award(ctx, AwardRequest{Key: key, UserID: rider, Points: e.rules.MeToo,
			Note: "confirmed a report of another rider (me too), verified", Ref: "report:" + ev.ReportID, Tags: e.tags(ev.Cell)})
		switch {
		case err == nil:
		case errors.Is(err, ErrCapped), errors.Is(err, ErrInvalid), errors.Is(err, ErrKeyConflict):
			// Decided for good: over a cap (kept for the key), a rider who
			// cannot hold points, or paid already at another amount (the
			// rules changed since).
			e.log.Info("points: a me-too confirmation earns nothing", "report", ev.ReportID, "rider", rider, "reason", err)
		default:
			return fmt.Errorf("points: pay the confirmation of report %s by %s: %w", ev.ReportID, rider, err)
		}
		e.meToo.add(key)
	}
	return nil
}
