package reports

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nuanxin/nuanxin/storage"
)

// disputesCollection holds one small document per report rated unsatisfied
// and not yet decided by an admin (uphold or reopen), under the report's
// id. It is the admins' list of disputes: listing it reads only it, never
// the reports (DESIGN.md: every filter but _id scans a collection on the
// embedded store), and it stays small because decided disputes leave it.
const disputesCollection = "report_disputes"

// DisputesConsumer is the name the disputes list takes report events under
// (see Consumer): it must not change across releases.
const DisputesConsumer = "disputes"

// Dispute is one report awaiting an admin's decision.
type Dispute struct {
	ReportID string    `bson:"_id" json:"id"`
	Ticket   string    `bson:"ticket" json:"ticket"`
	Cell     string    `bson:"cell" json:"cell"`
	At       time.Time `bson:"at" json:"at" doc:"when the reporter rated it unsatisfied"`
}

// Disputes keeps the disputes list from the report events: a consumer to
// give NewService (under DisputesConsumer).
type Disputes struct{ coll *mongo.Collection }

// NewDisputes builds the disputes list's consumer.
func NewDisputes(db *mongo.Database) *Disputes {
	return &Disputes{coll: db.Collection(disputesCollection)}
}

// Publish adds a report rated unsatisfied, and removes a report upheld or
// reopened. Events come at least once and may come again after a later
// one: inserting is insert-or-ignore and removing is idempotent, and a
// dispute put back by a late redelivery is dropped when it is listed
// (Service.Disputes checks each report).
func (d *Disputes) Publish(ctx context.Context, e Event) error {
	switch {
	case e.Action == ActRate && e.Rating == RatingUnsatisfied:
		_, err := d.coll.InsertOne(ctx, Dispute{ReportID: e.ReportID, Ticket: e.Ticket, Cell: e.Cell, At: e.At})
		if err != nil && !storage.IsDuplicateKey(err) {
			return fmt.Errorf("add a dispute: %w", err)
		}
	case e.Action == ActUphold || e.Action == ActReopen:
		if _, err := d.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: e.ReportID}}); err != nil {
			return fmt.Errorf("remove a dispute: %w", err)
		}
	}
	return nil
}

// maxDisputes bounds the list read: far more than admins leave undecided.
const maxDisputes = 1000

// Disputes lists the reports awaiting an admin's decision, oldest first,
// with each report as it is now (read by _id). A listed report that is no
// longer disputed (a late redelivery put it back) is removed and left out.
func (s *Service) Disputes(ctx context.Context) ([]Dispute, []Report, error) {
	coll := s.store.reports.Database().Collection(disputesCollection)
	cur, err := coll.Find(ctx, bson.D{})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: list disputes: %w", ErrUnavailable, err)
	}
	var all []Dispute
	if err := cur.All(ctx, &all); err != nil {
		return nil, nil, fmt.Errorf("%w: list disputes: %w", ErrUnavailable, err)
	}
	slices.SortFunc(all, func(a, b Dispute) int { return a.At.Compare(b.At) })
	var (
		ds []Dispute
		rs []Report
	)
	for _, d := range all {
		if len(ds) == maxDisputes {
			break
		}
		r, err := s.store.report(ctx, d.ReportID)
		if errors.Is(err, ErrNotFound) || err == nil && !r.Disputed {
			// Only this dispute: a newer one of the same report (reopened,
			// resolved and rated again since it was read) stays.
			if _, err := coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: d.ReportID}, {Key: "at", Value: d.At}}); err != nil {
				s.log.Warn("remove a decided dispute", "report", d.ReportID, "err", err)
			}
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		ds, rs = append(ds, d), append(rs, r)
	}
	return ds, rs, nil
}
