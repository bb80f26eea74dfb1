package reports

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// EscalateDue escalates every report whose deadline has passed: not
// acknowledged in time (the backup officer is told and the report joins the
// admin's escalation list), not verified or rejected in time (the admin is
// told). Each escalation is a timeline entry whose After state records it, so
// of several instances running this at once exactly one escalates each report
// (the unique (report, seq) index decides), and a restart loses nothing: the
// next run finds what is still due. It returns how many it escalated.
func (s *Service) EscalateDue(ctx context.Context) (int, error) {
	now := s.now()
	n := 0
	var err error
	for _, q := range []struct {
		action Action
		filter bson.D
	}{
		{ActEscalateAck, bson.D{{Key: "status", Value: StatusSubmitted}, {Key: "ack_due", Value: bson.D{{Key: "$lte", Value: now}}}, {Key: "escalated_ack", Value: false}}},
		{ActEscalateDecision, bson.D{{Key: "status", Value: bson.D{{Key: "$in", Value: bson.A{StatusSubmitted, StatusAcknowledged}}}}, {Key: "decide_due", Value: bson.D{{Key: "$lte", Value: now}}}, {Key: "escalated_decide", Value: false}}},
	} {
		var due []Report
		if x, done, ok := s.open.read(); ok {
			due = x.escalationDue(q.action, now, 200)
			done()
		} else if due, err = s.store.findOpen(ctx, q.filter, options.Find().SetSort(bson.D{{Key: "ack_due", Value: 1}}).SetLimit(200)); err != nil {
			return n, err
		}
		for _, r := range due {
			cur, err := s.transition(ctx, r.ID, Actor{Role: RoleSystem}, q.action, func(cur Report, st *State) error {
				return escalate(q.action, cur, st, now)
			}, "", "")
			switch {
			case err == nil:
				n++
			case err == errSkip:
				// Another instance escalated it, or it moved on: what was
				// read is newer than what the model had.
				s.open.put(cur, now)
			default:
				return n, fmt.Errorf("escalate %s: %w", r.ID, err)
			}
		}
	}
	return n, nil
}

// escalate records an escalation, or says errSkip when the report (as it is
// now, after any concurrent change) no longer needs it.
func escalate(action Action, r Report, st *State, now time.Time) error {
	switch action {
	case ActEscalateAck:
		if r.Status != StatusSubmitted || r.EscalatedAck || r.AckDue.After(now) {
			return errSkip
		}
		st.EscalatedAck = true
	case ActEscalateDecision:
		if (r.Status != StatusSubmitted && r.Status != StatusAcknowledged) || r.EscalatedDue || r.DecideDue.After(now) {
			return errSkip
		}
		st.EscalatedDue = true
	}
	return nil
}

// Escalated lists open reports that missed a deadline, most overdue first:
// the admin's escalation list.
func (s *Service) Escalated(ctx context.Context, limit int64) ([]Report, error) {
	if x, done, ok := s.open.read(); ok {
		defer done()
		return x.escalated(int(limit)), nil
	}
	return s.store.findOpen(ctx, bson.D{
		{Key: "$or", Value: bson.A{bson.D{{Key: "escalated_ack", Value: true}}, bson.D{{Key: "escalated_decide", Value: true}}}},
	}, options.Find().SetSort(bson.D{{Key: "next_due", Value: 1}}).SetLimit(limit))
}

// Repair finishes what writers that failed or stopped (a crash, a kill -9,
// a store or consumer that was down) left undone, once it is older than a
// few seconds (settle), so that writers still at work are left alone:
//
//   - a submission that stored its report but not the report's first
//     timeline entry gets the entry (the report is then queued, listed and
//     announced below);
//   - photos of a submission that never stored its report are removed, an
//     hour after it began;
//   - every timeline entry not yet published has its report's open copy
//     brought up to date and its event handed to each consumer that has not
//     taken it (see Consumer).
//
// Every instance runs it (Run, at start and every interval). Two instances
// repairing the same thing at once both write the same entry, which the
// unique (report, seq) lets in once, and may both hand an event to a consumer
// that has not taken it yet: consumers are idempotent by Event.ID (the inbox
// by notification id, the feed by its unique event index), so that costs a
// second call, never a second notification or award. Delivery records keep
// a consumer that has the event from being handed it again because another
// consumer failed.
func (s *Service) Repair(ctx context.Context) error {
	before := s.now().Add(-settle)
	notes, err := s.store.pendingBefore(ctx, before, 200)
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range notes {
		if err := s.repairSubmission(ctx, n); err != nil {
			errs = append(errs, err)
		}
	}
	entries, err := s.store.unpublished(ctx, before, 200)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, e := range entries {
		r, err := s.store.report(ctx, e.ReportID)
		if err != nil {
			// One entry that cannot be redelivered must not hold up the rest.
			errs = append(errs, fmt.Errorf("redeliver %s: %w", e.ID, err))
			continue
		}
		s.publish(ctx, r, e, true)
	}
	return errors.Join(errs...)
}

// repairSubmission deals with the pending note of a submission that has not
// finished within settle.
func (s *Service) repairSubmission(ctx context.Context, n pending) error {
	r, err := s.store.report(ctx, n.ReportID)
	switch {
	case errors.Is(err, ErrNotFound):
		// Nothing anyone sees: the rider's retry stores the report. The
		// photos go once the attempt is surely over.
		if n.At.After(s.now().Add(-abandonAfter)) {
			return nil
		}
		s.abandon(ctx, n)
		return nil
	case err != nil:
		return fmt.Errorf("repair submission %s: %w", n.ID, err)
	case !slices.ContainsFunc(r.Photos, func(p Photo) bool { return slices.Contains(n.Keys, p.Key) }) && len(n.Keys) > 0:
		// Another copy of the submission stored the report: this one's
		// photos are nobody's.
		s.abandon(ctx, n)
		return nil
	}
	if _, err := s.ensureSubmitEntry(ctx, r); err != nil {
		return fmt.Errorf("repair submission %s: %w", n.ID, err)
	}
	if err := s.repairThumbs(ctx, r, n); errors.Is(err, errThumbsBusy) {
		return nil // the note stays: the next run makes them
	} else if err != nil {
		return fmt.Errorf("repair the thumbnails of %s: %w", n.ID, err)
	}
	return s.store.deletePending(ctx, n.ID)
}

// SweepOpen corrects the open set where it disagrees with the reports: an
// update of it that lost a race to a newer one, or a report closed while an
// older copy was being written. It reads each report by _id, and which to
// check from this instance's model (built from the collection, so a stale
// copy loaded from there is in it, and reports seen closed lately) or, while
// the model is not ready, from the collection. The collection and the model
// are both corrected.
func (s *Service) SweepOpen(ctx context.Context) error {
	var open []Report
	if x, done, ok := s.open.read(); ok {
		open = x.sweepList()
		done()
	} else {
		var err error
		if open, err = s.store.findOpen(ctx, bson.D{}, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "seq", Value: 1}, {Key: "status", Value: 1}})); err != nil {
			return err
		}
	}
	for _, o := range open {
		r, err := s.store.report(ctx, o.ID)
		if err != nil {
			return err
		}
		if r.Seq != o.Seq || r.Status != o.Status {
			if err := s.syncOpen(ctx, r, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// Run escalates due reports and repairs what stopped writers left (Repair)
// at start and every interval, and sweeps the open set every 20 intervals,
// until ctx ends. Every instance may run it.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for tick := 0; ; tick++ {
		// Repair first: a report completed now is queued, then escalated
		// if it is late.
		if err := s.Repair(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("repair reports", "err", err)
		}
		if tick%20 == 0 {
			if err := s.SweepOpen(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("sweep open reports", "err", err)
			}
		}
		if n, err := s.EscalateDue(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("escalate due reports", "err", err)
		} else if n > 0 {
			s.log.Info("escalated reports", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
