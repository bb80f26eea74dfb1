package reports

import (
	"context"
	"fmt"
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
	for _, q := range []struct {
		action Action
		filter bson.D
	}{
		{ActEscalateAck, bson.D{{Key: "status", Value: StatusSubmitted}, {Key: "ack_due", Value: bson.D{{Key: "$lte", Value: now}}}, {Key: "escalated_ack", Value: false}}},
		{ActEscalateDecision, bson.D{{Key: "status", Value: bson.D{{Key: "$in", Value: bson.A{StatusSubmitted, StatusAcknowledged}}}}, {Key: "decide_due", Value: bson.D{{Key: "$lte", Value: now}}}, {Key: "escalated_decide", Value: false}}},
	} {
		due, err := s.store.findOpen(ctx, q.filter, options.Find().SetSort(bson.D{{Key: "ack_due", Value: 1}}).SetLimit(200))
		if err != nil {
			return n, err
		}
		for _, r := range due {
			_, err := s.transition(ctx, r.ID, Actor{Role: RoleSystem}, q.action, func(cur Report, st *State) error {
				return escalate(q.action, cur, st, now)
			}, "", "")
			switch {
			case err == nil:
				n++
			case err == errSkip:
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
	return s.store.findOpen(ctx, bson.D{
		{Key: "$or", Value: bson.A{bson.D{{Key: "escalated_ack", Value: true}}, bson.D{{Key: "escalated_decide", Value: true}}}},
	}, options.Find().SetSort(bson.D{{Key: "next_due", Value: 1}}).SetLimit(limit))
}

// Redeliver publishes entries whose first delivery failed, oldest first.
func (s *Service) Redeliver(ctx context.Context) error {
	entries, err := s.store.unpublished(ctx, s.now().Add(-5*time.Second), 200)
	if err != nil {
		return err
	}
	for _, e := range entries {
		r, err := s.store.report(ctx, e.ReportID)
		if err != nil {
			return err
		}
		s.publish(ctx, r, e)
	}
	return nil
}

// SweepOpen corrects the open set where it disagrees with the reports: an
// update of it that lost a race to a newer one, or a report closed while an
// older copy was being written. It reads the open set and each report by _id.
func (s *Service) SweepOpen(ctx context.Context) error {
	open, err := s.store.findOpen(ctx, bson.D{}, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "seq", Value: 1}, {Key: "status", Value: 1}}))
	if err != nil {
		return err
	}
	for _, o := range open {
		r, err := s.store.report(ctx, o.ID)
		if err != nil {
			return err
		}
		if r.Seq != o.Seq || r.Status != o.Status {
			if err := s.store.syncOpen(ctx, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// Run escalates due reports and redelivers events every interval, and
// sweeps the open set every 20 intervals, until ctx ends. Every instance may
// run it.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for tick := 0; ; tick++ {
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
		if err := s.Redeliver(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("redeliver report events", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
