package points

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// RepairReport says what Repair did.
type RepairReport struct {
	// Completed counts movements whose missing legs (or only their open
	// marker's removal) Repair wrote.
	Completed int
	// Aborted counts open markers of posts stopped before their movement
	// was stored, removed once older than the grace period.
	Aborted int
	// Pending counts such markers still within the grace period: a post
	// may be in flight, so they are left for a later run.
	Pending int
}

// Repair completes the movements a crash left incomplete: those with an
// open marker (see Ledger). It reads only the open markers, a collection
// that holds the movements in flight and nothing else. Each leg is written
// once whatever runs at the same time (a live post of the same key,
// another instance's Repair), so Repair may run at start, on an interval,
// and on every instance; a second run finds nothing to do.
//
// A movement refused on its chain counts as completed: the refusal is its
// outcome. A movement that cannot be completed (a credit that would
// overflow) is left open and reported in the error, and by Verify.
func (l *Ledger) Repair(ctx context.Context) (RepairReport, error) {
	var rep RepairReport
	cur, err := l.open.Find(ctx, bson.D{})
	if err != nil {
		return rep, fmt.Errorf("repair the points ledger: %w", err)
	}
	var markers []openMarker
	if err := cur.All(ctx, &markers); err != nil {
		return rep, fmt.Errorf("repair the points ledger: %w", err)
	}
	var errs []error
	for _, mk := range markers {
		m, ok, err := l.movement(ctx, mk.Key)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !ok {
			if l.now().Sub(mk.At) < l.grace {
				rep.Pending++
				continue
			}
			res, err := l.open.DeleteOne(ctx, bson.D{{Key: "_id", Value: mk.Key}})
			if err != nil {
				errs = append(errs, fmt.Errorf("remove the open marker of %q: %w", mk.Key, err))
				continue
			}
			rep.Aborted += int(res.DeletedCount)
			continue
		}
		if _, err := l.complete(ctx, m); err != nil && !errors.Is(err, ErrInsufficient) {
			errs = append(errs, fmt.Errorf("complete movement %q: %w", mk.Key, err))
			continue
		}
		rep.Completed++
	}
	if err := errors.Join(errs...); err != nil {
		return rep, fmt.Errorf("repair the points ledger: %w", err)
	}
	return rep, nil
}
