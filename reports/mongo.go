package reports

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nuanxin/nuanxin/storage"
)

const (
	reportsCollection  = "reports"
	timelineCollection = "report_timeline"
	// openCollection holds a copy of every open report, and nothing else.
	// The queue, the SLA worker and the duplicate search read it. On MongoDB
	// that only keeps their indexes small; on the embedded FerretDB, which
	// reads a whole collection for any query not on _id, it is what keeps
	// them fast: open reports are a small share of all reports, which grow
	// without end.
	openCollection = "open_reports"
	// mineCollection has one document per reporter, _id the reporter, listing
	// their report ids in the order filed: "my reports" is then one lookup by
	// _id and one per report, instead of a read of every report on the
	// embedded store.
	mineCollection = "reporter_reports"
)

// Indexes lists the indexes reports need. The queue's queries each match one
// of them: (cell, status, next_due) for an officer's cells, (officer_id,
// next_due) for the admin's unassigned queue, (status, next_due) for the SLA
// worker, (reporter_id, created_at) for "my reports", (category, created_at)
// for the duplicate search, (updated_at) for live updates and (created_at)
// for Open311 searches by date.
func Indexes() []storage.Index {
	return []storage.Index{
		{Collection: reportsCollection, Name: "cell_status_due", Keys: bson.D{{Key: "cell", Value: 1}, {Key: "status", Value: 1}, {Key: "next_due", Value: 1}}},
		{Collection: reportsCollection, Name: "cell_due", Keys: bson.D{{Key: "cell", Value: 1}, {Key: "next_due", Value: 1}}},
		{Collection: reportsCollection, Name: "officer_due", Keys: bson.D{{Key: "officer_id", Value: 1}, {Key: "next_due", Value: 1}}},
		{Collection: reportsCollection, Name: "status_ackdue", Keys: bson.D{{Key: "status", Value: 1}, {Key: "ack_due", Value: 1}}},
		{Collection: reportsCollection, Name: "status_decidedue", Keys: bson.D{{Key: "status", Value: 1}, {Key: "decide_due", Value: 1}}},
		{Collection: reportsCollection, Name: "reporter_created", Keys: bson.D{{Key: "reporter_id", Value: 1}, {Key: "created_at", Value: -1}}},
		{Collection: reportsCollection, Name: "category_created", Keys: bson.D{{Key: "category", Value: 1}, {Key: "created_at", Value: -1}}},
		{Collection: reportsCollection, Name: "updated", Keys: bson.D{{Key: "updated_at", Value: 1}}},
		{Collection: reportsCollection, Name: "created", Keys: bson.D{{Key: "created_at", Value: -1}}},
		{Collection: openCollection, Name: "cell_status_due", Keys: bson.D{{Key: "cell", Value: 1}, {Key: "status", Value: 1}, {Key: "next_due", Value: 1}}},
		{Collection: openCollection, Name: "cell_due", Keys: bson.D{{Key: "cell", Value: 1}, {Key: "next_due", Value: 1}}},
		{Collection: openCollection, Name: "due", Keys: bson.D{{Key: "next_due", Value: 1}}},
		{Collection: openCollection, Name: "status_ackdue", Keys: bson.D{{Key: "status", Value: 1}, {Key: "ack_due", Value: 1}}},
		{Collection: openCollection, Name: "status_decidedue", Keys: bson.D{{Key: "status", Value: 1}, {Key: "decide_due", Value: 1}}},
		{Collection: openCollection, Name: "category_created", Keys: bson.D{{Key: "category", Value: 1}, {Key: "created_at", Value: -1}}},
		{Collection: timelineCollection, Name: "report_seq", Keys: bson.D{{Key: "report_id", Value: 1}, {Key: "seq", Value: 1}}, Unique: true},
		{Collection: timelineCollection, Name: "unpublished", Keys: bson.D{{Key: "published", Value: 1}, {Key: "at", Value: 1}}},
	}
}

type store struct {
	reports, timeline, open, mine *mongo.Collection
}

func newStore(db *mongo.Database) *store {
	return &store{reports: db.Collection(reportsCollection), timeline: db.Collection(timelineCollection),
		open: db.Collection(openCollection), mine: db.Collection(mineCollection)}
}

// addMine records a report in its reporter's list; recording it twice is a
// no-op ($addToSet).
func (s *store) addMine(ctx context.Context, reporterID, reportID string) error {
	_, err := s.mine.UpdateOne(ctx, bson.D{{Key: "_id", Value: reporterID}},
		bson.D{{Key: "$addToSet", Value: bson.D{{Key: "ids", Value: reportID}}}}, options.UpdateOne().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("update the reporter's list: %w", err)
	}
	return nil
}

// mineIDs returns the reporter's report ids in the order filed.
func (s *store) mineIDs(ctx context.Context, reporterID string) ([]string, error) {
	var d struct {
		IDs []string `bson:"ids"`
	}
	err := s.mine.FindOne(ctx, bson.D{{Key: "_id", Value: reporterID}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load the reporter's list: %w", err)
	}
	return d.IDs, nil
}

// syncOpen makes the open set agree with r: a copy while r is open, nothing
// once it is closed. Writes go by _id, the one shape every store indexes.
func (s *store) syncOpen(ctx context.Context, r Report) error {
	var err error
	if r.Status.Open() {
		_, err = s.open.ReplaceOne(ctx, bson.D{{Key: "_id", Value: r.ID}}, r, options.Replace().SetUpsert(true))
	} else {
		_, err = s.open.DeleteOne(ctx, bson.D{{Key: "_id", Value: r.ID}})
	}
	if err != nil {
		return fmt.Errorf("update the open reports: %w", err)
	}
	return nil
}

// findOpen queries the open set.
func (s *store) findOpen(ctx context.Context, filter bson.D, opts *options.FindOptionsBuilder) ([]Report, error) {
	cur, err := s.open.Find(ctx, filter, opts)
	if err != nil {
		return nil, fmt.Errorf("find open reports: %w", err)
	}
	out := []Report{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("find open reports: %w", err)
	}
	return out, nil
}

func (s *store) insertReport(ctx context.Context, r Report) error {
	_, err := s.reports.InsertOne(ctx, r)
	if storage.IsDuplicateKey(err) {
		return errDuplicate
	}
	if err != nil {
		return fmt.Errorf("store report: %w", err)
	}
	return nil
}

var errDuplicate = errors.New("duplicate key")

func (s *store) deleteReport(ctx context.Context, id string) error {
	_, err := s.reports.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	return err
}

func (s *store) report(ctx context.Context, id string) (Report, error) {
	var r Report
	err := s.reports.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&r)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return Report{}, ErrNotFound
	}
	if err != nil {
		return Report{}, fmt.Errorf("load report: %w", err)
	}
	return r, nil
}

// insertEntry appends a timeline entry. The unique (report, seq) index makes
// this the moment a change is decided: of two writers of the same seq, one
// gets errDuplicate.
func (s *store) insertEntry(ctx context.Context, e Entry) error {
	_, err := s.timeline.InsertOne(ctx, e)
	if storage.IsDuplicateKey(err) {
		return errDuplicate
	}
	if err != nil {
		return fmt.Errorf("append to timeline: %w", err)
	}
	return nil
}

func (s *store) lastEntry(ctx context.Context, reportID string) (Entry, error) {
	var e Entry
	err := s.timeline.FindOne(ctx, bson.D{{Key: "report_id", Value: reportID}}, options.FindOne().SetSort(bson.D{{Key: "seq", Value: -1}})).Decode(&e)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return Entry{}, ErrNotFound
	}
	if err != nil {
		return Entry{}, fmt.Errorf("load timeline: %w", err)
	}
	return e, nil
}

func (s *store) entries(ctx context.Context, reportID string, afterSeq int) ([]Entry, error) {
	cur, err := s.timeline.Find(ctx, bson.D{{Key: "report_id", Value: reportID}, {Key: "seq", Value: bson.D{{Key: "$gt", Value: afterSeq}}}},
		options.Find().SetSort(bson.D{{Key: "seq", Value: 1}}).SetLimit(500))
	if err != nil {
		return nil, fmt.Errorf("load timeline: %w", err)
	}
	out := []Entry{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("load timeline: %w", err)
	}
	return out, nil
}

// setState writes the projection of a timeline entry onto the report, unless
// a later entry's projection is there already.
func (s *store) setState(ctx context.Context, id string, st State) error {
	_, err := s.reports.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "seq", Value: bson.D{{Key: "$lt", Value: st.Seq}}}},
		bson.D{{Key: "$set", Value: st}})
	if err != nil {
		return fmt.Errorf("update report: %w", err)
	}
	return nil
}

func (s *store) setAfterPhoto(ctx context.Context, id string, p Photo) error {
	_, err := s.reports.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{{Key: "after_photo", Value: p}}}})
	return err
}

func (s *store) markPublished(ctx context.Context, entryID string) error {
	_, err := s.timeline.UpdateOne(ctx, bson.D{{Key: "_id", Value: entryID}}, bson.D{{Key: "$set", Value: bson.D{{Key: "published", Value: true}}}})
	return err
}

func (s *store) unpublished(ctx context.Context, before time.Time, limit int64) ([]Entry, error) {
	cur, err := s.timeline.Find(ctx, bson.D{{Key: "published", Value: false}, {Key: "at", Value: bson.D{{Key: "$lt", Value: before}}}},
		options.Find().SetSort(bson.D{{Key: "at", Value: 1}}).SetLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("find unpublished events: %w", err)
	}
	var out []Entry
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("find unpublished events: %w", err)
	}
	return out, nil
}

func (s *store) find(ctx context.Context, filter bson.D, opts *options.FindOptionsBuilder) ([]Report, error) {
	cur, err := s.reports.Find(ctx, filter, opts)
	if err != nil {
		return nil, fmt.Errorf("find reports: %w", err)
	}
	out := []Report{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("find reports: %w", err)
	}
	return out, nil
}

func (s *store) countOpenByStatus(ctx context.Context, filter bson.D) (map[Status]int64, error) {
	cur, err := s.open.Aggregate(ctx, mongo.Pipeline{
		{{Key: "$match", Value: filter}},
		{{Key: "$group", Value: bson.D{{Key: "_id", Value: "$status"}, {Key: "n", Value: bson.D{{Key: "$sum", Value: 1}}}}}},
	})
	if err != nil {
		return nil, fmt.Errorf("count reports: %w", err)
	}
	var rows []struct {
		ID Status `bson:"_id"`
		N  int64  `bson:"n"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, fmt.Errorf("count reports: %w", err)
	}
	out := make(map[Status]int64, len(Statuses))
	for _, st := range Statuses {
		if st.Open() {
			out[st] = 0
		}
	}
	for _, r := range rows {
		out[r.ID] = r.N
	}
	return out, nil
}
