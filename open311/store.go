package open311

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nuanxin/nuanxin/reports"
)

// reportsCollection is where the reports package keeps its reports.
//
// requestStore reads it directly, read-only, decoding into reports.Report:
// reports.Service offers no listing across every cell by date range, category
// and status (its queue is scoped to an officer's cells and ordered by
// deadline), and adding one would mean editing the reports package. If
// reports gains such a method, this file should go in favour of it. The
// store never writes, and its projection leaves out every field that names
// the reporter or an officer, so those are never even loaded here.
const reportsCollection = "reports"

// private are the report fields never read here: who reported it, who
// handles it, and the reporter's idempotency key.
var private = bson.D{
	{Key: "reporter_id", Value: 0},
	{Key: "officer_id", Value: 0},
	{Key: "backup_id", Value: 0},
	{Key: "idem_key", Value: 0},
	{Key: "body_hash", Value: 0},
	{Key: "photos", Value: 0},
	{Key: "after_photo", Value: 0},
}

type requestStore struct {
	reports *mongo.Collection
}

func newRequestStore(db *mongo.Database) *requestStore {
	return &requestStore{reports: db.Collection(reportsCollection)}
}

// filter selects reports for a requests.json search.
type filter struct {
	ids        []string // when set, the rest is ignored
	categories []string // empty: all
	start, end time.Time
	statuses   []reports.Status // empty: all
	limit      int64
}

// find returns the matching reports, newest first. The (category,
// created_at) index serves searches by category; a search over all
// categories walks the reports of the period.
func (s *requestStore) find(ctx context.Context, f filter) ([]reports.Report, error) {
	q := bson.D{}
	if len(f.ids) > 0 {
		q = append(q, bson.E{Key: "_id", Value: bson.D{{Key: "$in", Value: f.ids}}})
	} else {
		if len(f.categories) > 0 {
			q = append(q, bson.E{Key: "category", Value: bson.D{{Key: "$in", Value: f.categories}}})
		}
		q = append(q, bson.E{Key: "created_at", Value: bson.D{{Key: "$gte", Value: f.start}, {Key: "$lte", Value: f.end}}})
		if len(f.statuses) > 0 {
			q = append(q, bson.E{Key: "status", Value: bson.D{{Key: "$in", Value: f.statuses}}})
		}
	}
	cur, err := s.reports.Find(ctx, q, options.Find().
		SetSort(bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}).
		SetProjection(private).
		SetLimit(f.limit))
	if err != nil {
		return nil, fmt.Errorf("find reports: %w", err)
	}
	out := []reports.Report{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("find reports: %w", err)
	}
	return out, nil
}
