package reports

import (
	"context"
	"errors"
	"fmt"
	"sync"
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
	// listCollection is "my reports": entry n of reporter R is the document
	// _id "R/n" naming one report, in the order filed (see reporterList).
	// Documents whose _id is a bare reporter id, with an "ids" array, are
	// the lists of an earlier release, still read.
	listCollection = "reporter_reports"
	// deliveryCollection records which consumer has taken which event:
	// _id "<event id>/<consumer>".
	deliveryCollection = "report_deliveries"
	// pendingCollection holds a note per submission in flight, from before
	// its photos are stored until its first timeline entry is: what a
	// stopped submission leaves here, Repair completes or removes. It stays
	// small, so reading all of it is cheap even on the embedded store.
	pendingCollection = "report_pending"
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
		// One feed entry per event: a second Publish of an event collides here.
		{Collection: feedCollection, Name: "event", Keys: bson.D{{Key: "id", Value: 1}}, Unique: true},
		// One ticket number per submission attempt, and per report numbered
		// by MigrateTickets (tickets.go).
		ticketIndexes()[0],
	}
}

type store struct {
	reports, timeline, open, deliveries, pending *mongo.Collection
	list                                         *reporterList

	// The inserts of concurrent submissions and changes are joined per
	// collection (storage.Joiner): on the embedded store each write is
	// its own transaction and they commit one at a time, so N concurrent
	// submissions cost one transaction per collection, not N. Each write
	// keeps its own outcome, duplicate keys included.
	reportIns, entryIns, openIns, pendingIns, pendingDel *storage.Joiner
}

func newStore(db *mongo.Database) *store {
	s := &store{reports: db.Collection(reportsCollection), timeline: db.Collection(timelineCollection),
		open: db.Collection(openCollection), deliveries: db.Collection(deliveryCollection),
		pending: db.Collection(pendingCollection),
		list:    &reporterList{coll: db.Collection(listCollection)}}
	// Deletes go as one DeleteMany by _id $in: the pending notes are few
	// (submissions in flight), so even a store that scans for $in reads
	// little.
	s.reportIns, s.entryIns, s.openIns = storage.JoinInserts(s.reports), storage.JoinInserts(s.timeline), storage.JoinInserts(s.open)
	s.pendingIns, s.pendingDel = storage.JoinInserts(s.pending), storage.JoinDeletes(s.pending)
	return s
}

// reporterList keeps each reporter's list of reports. It takes the submit
// events as a consumer (Service.consumers), so a list entry is written once
// per report like any delivery, and again only if the service stopped
// between writing it and recording the delivery; Mine skips such a repeat.
//
// Entry n of reporter R is the document _id "R/n", claimed by inserting it:
// a writer finds the end of the list, inserts the next number, and on a
// duplicate key (another writer took it) tries the next. Only unique
// inserts are atomic on the embedded store, so no entry is ever lost or
// overwritten, and the list has no gaps. The writers of one list are
// serialized inside an instance (locks), leaving only the instances' race
// to the unique _id.
type reporterList struct {
	coll  *mongo.Collection
	locks storage.KeyedLocks[struct{}] // one reporter's writers take turns

	mu    sync.Mutex
	hints map[string]int64 // reporter → an entry known to exist: where to start looking for the end
}

// maxHints bounds the memory the hints take; past it they are forgotten and
// the end is searched for again.
const maxHints = 10_000

func (l *reporterList) hint(reporterID string) (int64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, ok := l.hints[reporterID]
	return n, ok
}

func (l *reporterList) remember(reporterID string, n int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.hints == nil || len(l.hints) >= maxHints {
		l.hints = map[string]int64{}
	}
	l.hints[reporterID] = max(l.hints[reporterID], n)
}

type listEntry struct {
	ID       string `bson:"_id"`
	ReportID string `bson:"report_id"`
}

func listID(reporterID string, n int64) string { return fmt.Sprintf("%s/%d", reporterID, n) }

// Publish implements Events: a submission joins its reporter's list.
func (l *reporterList) Publish(ctx context.Context, e Event) error {
	if e.Action != ActSubmit {
		return nil
	}
	_, unlock := l.locks.Lock(e.ReporterID)
	defer unlock()
	// Entries are never removed, so a remembered entry still exists and the
	// end is at or after it: start there, and let the duplicate keys of
	// what other instances added since move us on.
	n, ok := l.hint(e.ReporterID)
	if !ok {
		var err error
		if n, err = l.end(ctx, e.ReporterID); err != nil {
			return err
		}
	}
	for try := 1; try <= 1000; try++ {
		n++
		_, err := l.coll.InsertOne(ctx, listEntry{ID: listID(e.ReporterID, n), ReportID: e.ReportID})
		if err == nil {
			l.remember(e.ReporterID, n)
			return nil
		}
		if !storage.IsDuplicateKey(err) {
			return fmt.Errorf("add to the reporter's list: %w", err)
		}
		if try%4 == 0 {
			// Far behind (other instances added many): look for the end.
			end, err := l.end(ctx, e.ReporterID)
			if err != nil {
				return err
			}
			n = max(n, end)
		}
	}
	return errors.New("add to the reporter's list: too many concurrent writers")
}

// end is the number of the reporter's last list entry (0: none).
func (l *reporterList) end(ctx context.Context, reporterID string) (int64, error) {
	n, err := storage.LastFrom(0, func(n int64) (bool, error) {
		err := l.coll.FindOne(ctx, bson.D{{Key: "_id", Value: listID(reporterID, n)}}, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
		if errors.Is(err, mongo.ErrNoDocuments) {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		return 0, fmt.Errorf("find the end of the reporter's list: %w", err)
	}
	return n, nil
}

// at returns the report id of entry n.
func (l *reporterList) at(ctx context.Context, reporterID string, n int64) (string, error) {
	var e listEntry
	if err := l.coll.FindOne(ctx, bson.D{{Key: "_id", Value: listID(reporterID, n)}}).Decode(&e); err != nil {
		return "", fmt.Errorf("load the reporter's list: %w", err)
	}
	return e.ReportID, nil
}

// legacy returns the ids in the reporter's list as an earlier release kept
// it (one document, _id the reporter), oldest first.
func (l *reporterList) legacy(ctx context.Context, reporterID string) ([]string, error) {
	var d struct {
		IDs []string `bson:"ids"`
	}
	err := l.coll.FindOne(ctx, bson.D{{Key: "_id", Value: reporterID}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load the reporter's list: %w", err)
	}
	return d.IDs, nil
}

func deliveryID(eventID, consumer string) string { return eventID + "/" + consumer }

// delivered tells whether a consumer's delivery of an event is recorded.
func (s *store) delivered(ctx context.Context, id string) (bool, error) {
	err := s.deliveries.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("load a delivery record: %w", err)
	}
	return true, nil
}

// recordDelivery records that a consumer took an event; recording it twice
// is a no-op.
func (s *store) recordDelivery(ctx context.Context, id string, at time.Time) error {
	_, err := s.deliveries.InsertOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "at", Value: at}})
	if err != nil && !storage.IsDuplicateKey(err) {
		return fmt.Errorf("record a delivery: %w", err)
	}
	return nil
}

// pending is the note a submission keeps while it is in flight: which
// report it stores and which photo objects it put.
type pending struct {
	ID       string    `bson:"_id"` // report id "/" the attempt's nonce
	ReportID string    `bson:"report_id"`
	Keys     []string  `bson:"keys"`
	At       time.Time `bson:"at"`
}

func (s *store) insertPending(ctx context.Context, p pending) error {
	if err := s.pendingIns.Do(ctx, p); err != nil {
		return fmt.Errorf("note the submission: %w", err)
	}
	return nil
}

func (s *store) deletePending(ctx context.Context, id string) error {
	if err := s.pendingDel.Do(ctx, id); err != nil {
		return fmt.Errorf("remove the submission's note: %w", err)
	}
	return nil
}

// pendingBefore lists the notes written before t.
func (s *store) pendingBefore(ctx context.Context, t time.Time, limit int64) ([]pending, error) {
	cur, err := s.pending.Find(ctx, bson.D{{Key: "at", Value: bson.D{{Key: "$lt", Value: t}}}}, options.Find().SetLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("find pending submissions: %w", err)
	}
	var out []pending
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("find pending submissions: %w", err)
	}
	return out, nil
}

// syncOpen makes the open set agree with r: a copy while r is open, nothing
// once it is closed. Writes go by _id, the one shape every store indexes.
func (s *store) syncOpen(ctx context.Context, r Report, first bool) error {
	var err error
	if first && r.Status.Open() {
		// A report's first open copy is inserted: on the embedded store an
		// insert is half the work of a replace, and it joins the other
		// submissions' (openIns). A copy already there is this
		// submission's own (a retry's, Repair's) or a newer state of the
		// report: either way there is nothing to write.
		if err = s.openIns.Do(ctx, r); storage.IsDuplicateKey(err) {
			err = nil
		}
	} else if r.Status.Open() {
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
	err := s.reportIns.Do(ctx, r)
	if storage.IsDuplicateKey(err) {
		return errDuplicate
	}
	if err != nil {
		return fmt.Errorf("store report: %w", err)
	}
	return nil
}

var errDuplicate = errors.New("duplicate key")

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
	err := s.entryIns.Do(ctx, e)
	if storage.IsDuplicateKey(err) {
		return errDuplicate
	}
	if err != nil {
		return fmt.Errorf("append to timeline: %w", err)
	}
	return nil
}

// entry loads one timeline entry by its _id.
func (s *store) entry(ctx context.Context, id string) (Entry, error) {
	var e Entry
	err := s.timeline.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&e)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return Entry{}, ErrNotFound
	}
	if err != nil {
		return Entry{}, fmt.Errorf("load timeline: %w", err)
	}
	return e, nil
}

// lastEntry reads the report's last timeline entry, knowing that entry
// from exists (or from is 0). Entries are numbered without gaps (each is
// written after the one before, see transition), so the end is found by
// _id probes: the embedded store would read every entry of every report to
// answer a query on report_id.
func (s *store) lastEntry(ctx context.Context, reportID string, from int) (Entry, error) {
	last, err := storage.LastFrom(int64(from), func(n int64) (bool, error) {
		_, err := s.entry(ctx, entryID(reportID, int(n)))
		if errors.Is(err, ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		return Entry{}, err
	}
	if last == 0 {
		return Entry{}, ErrNotFound
	}
	return s.entry(ctx, entryID(reportID, int(last)))
}

// entriesBatch is how many entries entries asks for at once.
const entriesBatch = 8

// entries reads the report's timeline after afterSeq, in order, by _id:
// batches of entriesBatch lookups run at once, until one is missing (a
// timeline has no gaps) or 500 are read. Most timelines have fewer than
// eight entries: one round of lookups.
func (s *store) entries(ctx context.Context, reportID string, afterSeq int) ([]Entry, error) {
	out := []Entry{}
	for next := afterSeq + 1; len(out) < 500; next += entriesBatch {
		batch := make([]Entry, entriesBatch)
		errs := make([]error, entriesBatch)
		var wg sync.WaitGroup
		for i := range entriesBatch {
			wg.Go(func() { batch[i], errs[i] = s.entry(ctx, entryID(reportID, next+i)) })
		}
		wg.Wait()
		for i := range entriesBatch {
			if errors.Is(errs[i], ErrNotFound) {
				return out, nil
			}
			if errs[i] != nil {
				return nil, errs[i]
			}
			out = append(out, batch[i])
		}
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
