package reports

// Ticket numbers (工单号): what a rider reads aloud to a hotline, writes on a
// form or types into a search, instead of a 24-digit hex id. A ticket is the
// Beijing day the report was filed and its number that day, "20261129-0042"
// (four digits, more once a day passes 9999).
//
// The numbers of a day are a numbered chain (storage's chains) in
// ticketsCollection: entry n of day D is the document _id "D/n", the ticket
// "D-000n" in the chain's spelling, holding the report's id. A number is
// claimed by inserting its entry, the one write that is atomic on every store
// (DESIGN.md), never by reading a counter and writing it back; one day's
// claims take turns inside an instance (KeyedLocks), and instances race
// through the unique _id. A ticket is read by _id, never by a scan.
//
// A submission claims its number just before it stores its report, and the
// number goes into the report document itself, so the report never exists
// without it and never changes it: a retry or a second copy of the same
// submission finds the report's ticket in the report it collides with. Each
// attempt claims under a source of its own (the attempt's pending note), so
// a number claimed by an attempt that then lost the race for the report, or
// stopped before storing it, stays unused: a gap in that day's numbers. The
// report is the truth: a ticket whose report carries another number is not
// found.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nuanxin/nuanxin/storage"
)

const (
	// ticketsCollection holds the day chains of ticket numbers: _id
	// "<YYYYMMDD>/<n>".
	ticketsCollection = "report_tickets"
	// ticketsMetaCollection holds the marker of the finished migration
	// (_id migratedID).
	ticketsMetaCollection = "report_tickets_meta"
)

// ticketIndexes is the unique source that makes an entry appear once per
// source: per submission attempt, and per report for the migration.
func ticketIndexes() []storage.Index {
	return []storage.Index{
		{Collection: ticketsCollection, Name: "src", Keys: bson.D{{Key: "src", Value: 1}}, Unique: true},
	}
}

// ticketEntry is a claimed number as stored.
type ticketEntry struct {
	ID     string    `bson:"_id"`    // "<YYYYMMDD>/<n>"
	Src    string    `bson:"src"`    // unique: "<report id>/<attempt>" for a submission, the report id for the migration
	Report string    `bson:"report"` // the report id
	At     time.Time `bson:"at"`
}

// ticketDay is the Beijing day of t as a ticket spells it: "YYYYMMDD".
func ticketDay(t time.Time) string { return t.In(beijing).Format("20060102") }

// formatTicket is the ticket of entry n of day.
func formatTicket(day string, n int) string { return fmt.Sprintf("%s-%04d", day, n) }

// maxTicketDigits bounds the number part: a billion reports a day is more
// than any city files, and the number stays an int on every platform.
const maxTicketDigits = 9

// ParseTicket reads a ticket number as a person writes it. ok is false when
// s is not written as one (it may then be a report id); err, a
// *ValidationError, when it is written like one but cannot be one (a day
// that does not exist, no number). The ticket returned is canonical: the
// number has four digits or more, so "20261129-42" and "20261129-00042"
// are both "20261129-0042".
func ParseTicket(s string) (ticket string, ok bool, err error) {
	s = strings.TrimSpace(s)
	// Report ids are hex without '-', so only digits around a '-' are
	// taken as a ticket; an all-digit string may be a hex id.
	if !strings.Contains(s, "-") || strings.ContainsFunc(s, func(r rune) bool { return !(r >= '0' && r <= '9' || r == '-') }) {
		return "", false, nil
	}
	bad := &ValidationError{Field: "id", Reason: fmt.Sprintf("%q is not a ticket number: write the day and the number as on the receipt, like 20261129-0042", truncateText(s, 40))}
	day, num, found := strings.Cut(s, "-")
	if !found || len(day) != 8 || num == "" || strings.Contains(num, "-") {
		return "", true, bad
	}
	if _, err := time.Parse("20060102", day); err != nil {
		return "", true, bad
	}
	num = strings.TrimLeft(num, "0")
	if num == "" || len(num) > maxTicketDigits {
		return "", true, bad
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 {
		return "", true, bad
	}
	return formatTicket(day, n), true, nil
}

// ticketPlace is the chain entry of a canonical ticket.
func ticketPlace(ticket string) (day string, n int, ok bool) {
	day, num, found := strings.Cut(ticket, "-")
	if !found {
		return "", 0, false
	}
	n, err := strconv.Atoi(num)
	return day, n, err == nil && n > 0
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// tickets claims and reads ticket numbers.
type tickets struct {
	db   *mongo.Database
	coll *mongo.Collection
	meta *mongo.Collection

	// days group-commits the claims of one day inside this instance: the
	// claims waiting for a day's chain are written together, as one
	// InsertMany (storage.AppendMany), so that concurrent submissions
	// neither race for the same number (racing writers collapse a
	// chain's throughput on the embedded store, DESIGN.md) nor wait for
	// one transaction each. Instances race through the unique _id.
	days  storage.Batcher[storage.ChainItem, int]
	hints storage.ChainHints

	indexes storage.LazyIndexes
}

func newTickets(db *mongo.Database) *tickets {
	t := &tickets{db: db, coll: db.Collection(ticketsCollection), meta: db.Collection(ticketsMetaCollection)}
	t.days.Write = func(ctx context.Context, day string, items []storage.ChainItem) []storage.Outcome[int] {
		return storage.AppendMany(ctx, t.coll, &t.hints, day, items)
	}
	return t
}

// ensureIndex creates the unique source index before the first claim. The
// application creates it at start (Indexes), but claims on a database
// without it could number one report twice in the migration.
func (t *tickets) ensureIndex(ctx context.Context) error {
	if err := t.indexes.Ensure(ctx, t.db, ticketIndexes()); err != nil {
		return fmt.Errorf("ticket numbers: %w", err)
	}
	return nil
}

// claim takes the next number of the Beijing day of at for reportID, under
// src, and returns the ticket. A src that holds a number already answers
// storage.ErrRecorded, with that ticket when the chain told it, else "".
func (t *tickets) claim(ctx context.Context, src, reportID string, at time.Time) (string, error) {
	if err := t.ensureIndex(ctx); err != nil {
		return "", err
	}
	day := ticketDay(at)
	n, err := t.days.Do(ctx, day, storage.ChainItem{Src: src, Doc: func(id string, _ int) any {
		return ticketEntry{ID: id, Src: src, Report: reportID, At: at.UTC()}
	}})
	switch {
	case storage.IsRecorded(err):
		if n > 0 {
			return formatTicket(day, n), err
		}
		return "", err
	case err != nil:
		return "", fmt.Errorf("claim a ticket number: %w", err)
	}
	return formatTicket(day, n), nil
}

// report returns the id of the report that claimed ticket (canonical), or
// ErrNotFound. The caller checks the report carries that ticket: a number
// claimed by an attempt that lost names a report numbered otherwise.
func (t *tickets) report(ctx context.Context, ticket string) (string, error) {
	day, n, ok := ticketPlace(ticket)
	if !ok {
		return "", ErrNotFound
	}
	var e ticketEntry
	err := t.coll.FindOne(ctx, bson.D{{Key: "_id", Value: storage.ChainID(day, n)}}).Decode(&e)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("%w: read ticket %s: %w", ErrUnavailable, ticket, err)
	}
	return e.Report, nil
}

// ByTicket returns the report with this ticket number (as ParseTicket
// returns it). Errors: ErrNotFound, ErrUnavailable.
func (s *Service) ByTicket(ctx context.Context, ticket string) (Report, error) {
	id, err := s.tickets.report(ctx, ticket)
	if err != nil {
		return Report{}, err
	}
	r, err := s.store.report(ctx, id)
	if err != nil {
		return Report{}, err
	}
	if r.Ticket != ticket {
		return Report{}, ErrNotFound // a gap: the number of an attempt that lost
	}
	return r, nil
}

// resolve turns a report reference, an id or a ticket number, into a report
// id, reading the ticket by _id. Errors: *ValidationError for a malformed
// ticket, ErrNotFound, ErrUnavailable.
func (s *Service) resolve(ctx context.Context, ref string) (id, ticket string, err error) {
	t, ok, err := ParseTicket(ref)
	if err != nil {
		return "", "", err
	}
	if !ok {
		return ref, "", nil
	}
	id, err = s.tickets.report(ctx, t)
	return id, t, err
}

// MigrateTickets numbers the reports stored before ticket numbers existed,
// once, in the order they were filed: each gets the next number of the
// Beijing day it was filed on. When the marker of a finished migration is
// missing it reads every report and every claimed number (one scan of each),
// then writes the marker; afterwards it reads the marker alone. A report is
// numbered under its own id as the source, so two instances migrating at
// once, or a migration run again after a failure, number it once: the
// second claim collides on the source and takes the number the first wrote.
// It returns how many reports it numbered here.
func (s *Service) MigrateTickets(ctx context.Context) (int, error) {
	t := s.tickets
	if err := t.ensureIndex(ctx); err != nil {
		return 0, err
	}
	err := t.meta.FindOne(ctx, bson.D{{Key: "_id", Value: migratedID}}).Err()
	if err == nil {
		return 0, nil
	}
	if !errors.Is(err, mongo.ErrNoDocuments) {
		return 0, fmt.Errorf("number the stored reports: %w", err)
	}

	// Numbers claimed by an earlier, interrupted run: by report id.
	claimed := map[string]string{}
	cur, err := t.coll.Find(ctx, bson.D{})
	if err != nil {
		return 0, fmt.Errorf("number the stored reports: %w", err)
	}
	for cur.Next(ctx) {
		var e ticketEntry
		if err := cur.Decode(&e); err != nil {
			cur.Close(ctx)
			return 0, fmt.Errorf("number the stored reports: %w", err)
		}
		if e.Src == e.Report { // a migration's claim, not a submission's
			if day, n, ok := strings.Cut(e.ID, "/"); ok {
				if k, err := strconv.Atoi(n); err == nil {
					claimed[e.Report] = formatTicket(day, k)
				}
			}
		}
	}
	if err := cur.Err(); err != nil {
		cur.Close(ctx)
		return 0, fmt.Errorf("number the stored reports: %w", err)
	}
	cur.Close(ctx)

	type old struct {
		ID        string    `bson:"_id"`
		CreatedAt time.Time `bson:"created_at"`
		Ticket    string    `bson:"ticket"`
	}
	var todo []old
	cur, err = s.store.reports.Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "created_at", Value: 1}, {Key: "ticket", Value: 1}}))
	if err != nil {
		return 0, fmt.Errorf("number the stored reports: read the reports: %w", err)
	}
	for cur.Next(ctx) {
		var r old
		if err := cur.Decode(&r); err != nil {
			cur.Close(ctx)
			return 0, fmt.Errorf("number the stored reports: read the reports: %w", err)
		}
		if r.Ticket == "" {
			todo = append(todo, r)
		}
	}
	if err := cur.Err(); err != nil {
		cur.Close(ctx)
		return 0, fmt.Errorf("number the stored reports: read the reports: %w", err)
	}
	cur.Close(ctx)
	slices.SortFunc(todo, func(a, b old) int { return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID)) })

	count := 0
	for _, r := range todo {
		ticket, ok := claimed[r.ID]
		if !ok {
			var err error
			ticket, err = t.claim(ctx, r.ID, r.ID, r.CreatedAt)
			switch {
			case err == nil:
				count++
			case storage.IsRecorded(err) && ticket != "":
				// Another instance numbered it meanwhile: its number.
			case storage.IsRecorded(err):
				// The same, and the chain did not say where: one scan,
				// only in that race.
				if ticket, err = t.claimedFor(ctx, r.ID); err != nil {
					return count, fmt.Errorf("number the stored reports: %w", err)
				}
			default:
				return count, fmt.Errorf("number the stored reports: %w", err)
			}
		}
		// Every writer sets the same number (the one the source holds), so
		// racing instances agree; the open copy is what the queue loads.
		set := bson.D{{Key: "$set", Value: bson.D{{Key: "ticket", Value: ticket}}}}
		if _, err := s.store.reports.UpdateOne(ctx, bson.D{{Key: "_id", Value: r.ID}}, set); err != nil {
			return count, fmt.Errorf("number the stored reports: %w", err)
		}
		if _, err := s.store.open.UpdateOne(ctx, bson.D{{Key: "_id", Value: r.ID}}, set); err != nil {
			return count, fmt.Errorf("number the stored reports: %w", err)
		}
	}
	if _, err := t.meta.InsertOne(ctx, bson.D{{Key: "_id", Value: migratedID}, {Key: "at", Value: s.now()}}); err != nil && !storage.IsDuplicateKey(err) {
		return count, fmt.Errorf("number the stored reports: mark it done: %w", err)
	}
	if count > 0 {
		s.log.Info("gave the stored reports ticket numbers", "reports", count)
	}
	return count, nil
}

// claimedFor finds the number the migration claimed for a report, by its
// source: a scan of the ticket chains on the embedded store, used only when
// two migrations raced for the report.
func (t *tickets) claimedFor(ctx context.Context, reportID string) (string, error) {
	var e ticketEntry
	if err := t.coll.FindOne(ctx, bson.D{{Key: "src", Value: reportID}}).Decode(&e); err != nil {
		return "", fmt.Errorf("find the ticket of report %s: %w", reportID, err)
	}
	day, n, _ := strings.Cut(e.ID, "/")
	k, err := strconv.Atoi(n)
	if err != nil {
		return "", fmt.Errorf("ticket entry %q: %w", e.ID, err)
	}
	return formatTicket(day, k), nil
}
