package reports

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Limits of one Search.
const (
	MaxSearchResults = 1000 // reports returned at most
	MaxSearchIDs     = 100  // ids looked up at most
)

// SearchFilter selects reports for Search. Every filter that is set must
// match.
type SearchFilter struct {
	IDs        []string  // only these reports, by id or ticket number; empty: any report
	Categories []string  // category codes; empty: any
	From, To   time.Time // created between From and To, both included; a zero bound is open
	Statuses   []Status  // empty: any
	Limit      int       // at most this many; 0 or more than MaxSearchResults: MaxSearchResults
}

// Summary is what anyone may see of a report, for public listings such as
// Open311. It has no field naming the reporter or an officer, no
// idempotency key and no photo: Search does not even load those.
type Summary struct {
	ID           string
	Ticket       string // the ticket number; empty for a report not yet numbered (MigrateTickets)
	Category     string
	Description  string
	Address      string
	Lat, Lng     float64
	Status       Status
	Cell         string // empty: unassigned
	RejectReason string // one of RejectReasons, when rejected
	CreatedAt    time.Time
	UpdatedAt    time.Time
	AckDue       time.Time // when the officer is due to acknowledge it
	DecideDue    time.Time // when the officer is due to verify or reject it
}

// Summary is the public part of r.
func (r Report) Summary() Summary {
	return Summary{ID: r.ID, Ticket: r.Ticket, Category: r.Category, Description: r.Description, Address: r.Address, Lat: r.Lat, Lng: r.Lng,
		Status: r.Status, Cell: r.Cell, RejectReason: r.RejectReason, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		AckDue: r.AckDue, DecideDue: r.DecideDue}
}

// summaryFields is the projection of a Summary: the private fields of a
// report never leave the store for a search.
var summaryFields = bson.D{
	{Key: "_id", Value: 1}, {Key: "ticket", Value: 1}, {Key: "category", Value: 1}, {Key: "description", Value: 1}, {Key: "address", Value: 1},
	{Key: "lat", Value: 1}, {Key: "lng", Value: 1}, {Key: "status", Value: 1}, {Key: "cell", Value: 1},
	{Key: "reject_reason", Value: 1}, {Key: "created_at", Value: 1}, {Key: "updated_at", Value: 1},
	{Key: "ack_due", Value: 1}, {Key: "decide_due", Value: 1},
}

// Search returns the reports that match f, newest first (by creation time,
// then by id), across every cell. Reports asked for by id are read one by
// one by _id, which every store answers from its index; unknown ids are left
// out. Otherwise, when the service delivers its events to a DayIndex that
// has migrated, the search walks that index's days and reads the reports it
// keeps by _id (days.go): its cost follows the days searched and the
// reports returned, not the reports stored. Without one, the (created_at)
// and (category, created_at) indexes serve the search on MongoDB and the
// embedded store reads the whole collection.
//
// Errors: *ValidationError when f has more than MaxSearchIDs ids; any other
// error is the store's, and the caller may retry.
func (s *Service) Search(ctx context.Context, f SearchFilter) ([]Summary, error) {
	if len(f.IDs) > MaxSearchIDs {
		return nil, &ValidationError{Field: "ids", Reason: fmt.Sprintf("at most %d ids at once (got %d)", MaxSearchIDs, len(f.IDs))}
	}
	limit := f.Limit
	if limit <= 0 || limit > MaxSearchResults {
		limit = MaxSearchResults
	}
	var (
		rs  []Report
		err error
	)
	if len(f.IDs) > 0 {
		rs, err = s.searchIDs(ctx, f)
	} else {
		rs, err = s.searchAll(ctx, f, limit)
	}
	if err != nil {
		return nil, err
	}
	out := make([]Summary, 0, min(len(rs), limit))
	for _, r := range rs[:min(len(rs), limit)] {
		out = append(out, r.Summary())
	}
	return out, nil
}

func (s *Service) searchAll(ctx context.Context, f SearchFilter, limit int) ([]Report, error) {
	if d := s.dayIndex(); d != nil && d.migrated.Load() {
		return d.search(ctx, s, f, limit)
	}
	return s.scan(ctx, f, limit)
}

// dayIndex is the DayIndex among the service's consumers, nil if none. The
// index a service searches is the one it writes: a service that does not
// deliver its submissions to a DayIndex could not trust one.
func (s *Service) dayIndex() *DayIndex {
	for _, c := range s.consumers {
		if d, ok := c.Events.(*DayIndex); ok {
			return d
		}
	}
	return nil
}

// scan is the search without the day index: one query of the reports
// collection, which the embedded store answers by reading all of it.
func (s *Service) scan(ctx context.Context, f SearchFilter, limit int) ([]Report, error) {
	q := bson.D{}
	if len(f.Categories) > 0 {
		q = append(q, bson.E{Key: "category", Value: bson.D{{Key: "$in", Value: f.Categories}}})
	}
	created := bson.D{}
	if !f.From.IsZero() {
		created = append(created, bson.E{Key: "$gte", Value: f.From})
	}
	if !f.To.IsZero() {
		created = append(created, bson.E{Key: "$lte", Value: f.To})
	}
	if len(created) > 0 {
		q = append(q, bson.E{Key: "created_at", Value: created})
	}
	if len(f.Statuses) > 0 {
		q = append(q, bson.E{Key: "status", Value: bson.D{{Key: "$in", Value: f.Statuses}}})
	}
	cur, err := s.store.reports.Find(ctx, q, options.Find().
		SetSort(bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}).
		SetProjection(summaryFields).
		SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("search reports: %w", err)
	}
	var out []Report
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("search reports: %w", err)
	}
	return out, nil
}

// searchIDs reads each report by _id, rather than one query with $in: the
// embedded store answers only _id equality from an index, and at most
// MaxSearchIDs lookups are cheaper than reading every report. A ticket
// number is read by its _id first; one that is not a ticket's (malformed,
// unclaimed, or the gap of an attempt that lost) is left out, as an unknown
// id is.
func (s *Service) searchIDs(ctx context.Context, f SearchFilter) ([]Report, error) {
	var out []Report
	seen := make(map[string]bool, len(f.IDs))
	for _, ref := range f.IDs {
		if len(ref) > 64 {
			continue
		}
		id, ticket, err := s.resolve(ctx, ref)
		if errors.Is(err, ErrNotFound) || isValidation(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("search reports: %w", err)
		}
		if seen[id] {
			continue
		}
		var r Report
		err = s.store.reports.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, options.FindOne().SetProjection(summaryFields)).Decode(&r)
		if errors.Is(err, mongo.ErrNoDocuments) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("search reports: load report %s: %w", id, err)
		}
		if ticket != "" && r.Ticket != ticket {
			continue
		}
		seen[id] = true
		if f.matches(r) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b Report) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.ID, a.ID))
	})
	return out, nil
}

func isValidation(err error) bool {
	var ve *ValidationError
	return errors.As(err, &ve)
}

// matches applies the filters other than IDs, as the query of searchAll does.
func (f SearchFilter) matches(r Report) bool {
	return (len(f.Categories) == 0 || slices.Contains(f.Categories, r.Category)) &&
		(f.From.IsZero() || !r.CreatedAt.Before(f.From)) &&
		(f.To.IsZero() || !r.CreatedAt.After(f.To)) &&
		(len(f.Statuses) == 0 || slices.Contains(f.Statuses, r.Status))
}
