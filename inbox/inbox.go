// Package inbox keeps each user's in-app notifications: "a new report in
// your cell", "your report was verified", "a report missed its deadline".
// It is the first consumer of report events, and handles each event once
// however often it is delivered.
package inbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nuanxin/nuanxin/reports"
	"github.com/nuanxin/nuanxin/storage"
)

// The notifications are kept as one numbered chain per user (storage's
// chains): entry n of user U is the document _id "U/n", so the inbox is
// read by _id only. On the embedded store any other filter reads the whole
// collection (DESIGN.md), which on every inbox view grew with every
// notification ever stored. Each entry names its source, "<event or notice
// id>.<user>", under a unique index: that, not the _id, is what makes a
// second delivery of an event write nothing.
//
// The chains live in their own collection: the notifications of earlier
// releases (legacyCollection, _id "<event>.<user>", no src field) would
// break a unique index on src, as every one of them counts as a null src.
// Migrate moves them into the chains.
const (
	collection       = "notification_chains"
	legacyCollection = "notifications"
)

// unreadWindow is how many of a user's latest notifications the unread
// count looks at: counting all of them would read the whole chain.
const unreadWindow = 200

// Indexes lists the indexes the inbox needs: the unique source that makes
// each notification stored once.
func Indexes() []storage.Index {
	return []storage.Index{
		{Collection: collection, Name: "src", Keys: bson.D{{Key: "src", Value: 1}}, Unique: true},
	}
}

// Notification is one message to one user. Its text is chosen by the page
// from Kind and Status, in the reader's language.
type Notification struct {
	// ID is the entry's place in its user's chain, "<user>/<n>": a path
	// escapes it (the '/' as %2F).
	ID       string         `bson:"_id" json:"id"`
	UserID   string         `bson:"user_id" json:"-"`
	Src      string         `bson:"src" json:"-"` // "<event or notice id>.<user>", unique
	EventID  string         `bson:"event_id" json:"-"`
	Kind     reports.Action `bson:"kind" json:"kind" doc:"what happened: submit, acknowledge, verify, escalate_ack…"`
	ReportID string         `bson:"report_id" json:"report_id"`
	// Ticket is the report's ticket number, as its pages show it; empty in
	// notifications stored before tickets existed.
	Ticket   string         `bson:"ticket,omitempty" json:"ticket,omitempty"`
	Status   reports.Status `bson:"status" json:"status"`
	Category string         `bson:"category" json:"category"`
	Cell     string         `bson:"cell" json:"cell,omitempty"`
	Why      string         `bson:"why" json:"why" doc:"why you got it: reporter, officer, backup, admin, member"`
	// Subject and Link are set on notices that are not about a report
	// (a council's votes and outcomes): what it is about, and its page.
	Subject string `bson:"subject,omitempty" json:"subject,omitempty"`
	Link    string `bson:"link,omitempty" json:"link,omitempty"`
	// Note is an admin's word to the reporter on an upheld resolution
	// (uphold); empty otherwise.
	Note string    `bson:"note,omitempty" json:"note,omitempty"`
	At   time.Time `bson:"at" json:"at"`
	Read bool      `bson:"read" json:"read"`
}

// ErrNotFound is returned for a notification that is not the user's.
var ErrNotFound = errors.New("notification not found")

// Service stores notifications.
type Service struct {
	db     *mongo.Database
	coll   *mongo.Collection
	legacy *mongo.Collection
	admins func() []string // account ids of admins
	log    *slog.Logger

	// writers makes the appends to one user's chain take turns inside
	// this instance: racing writers of a chain collapse its throughput on
	// the embedded store (DESIGN.md). Instances race through the unique
	// inserts.
	writers storage.KeyedLocks[struct{}]
	hints   storage.ChainHints
	seen    readCache

	indexMu sync.Mutex
	indexed bool
}

// NewService builds the inbox. admins lists the admin accounts to tell about
// escalations and unassigned reports.
func NewService(db *mongo.Database, admins func() []string, log *slog.Logger) *Service {
	return &Service{db: db, coll: db.Collection(collection), legacy: db.Collection(legacyCollection), admins: admins, log: log}
}

// Publish turns a report event into notifications, appended to each
// recipient's chain once: a second delivery of the same event, from this
// instance or another, writes nothing (the unique source).
func (s *Service) Publish(ctx context.Context, e reports.Event) error {
	for _, r := range s.recipients(e) {
		if err := s.add(ctx, s.Notification(e, r.user, r.why)); err != nil {
			return err
		}
	}
	return nil
}

// Notice is a message that is not about a report, for Tell.
type Notice struct {
	ID      string    // unique per notice: telling it again adds nothing
	Kind    string    // chooses the text: "council_opened", "outcome_done"…
	Subject string    // what it is about, such as a proposal's title
	Link    string    // the page to open, such as "/proposals/<id>"
	Users   []string  // who to tell
	At      time.Time // zero: now
}

// Tell stores a notice for each of its users, once: the notification's
// source is the notice's id and the user, so telling it again writes
// nothing.
func (s *Service) Tell(ctx context.Context, n Notice) error {
	at := n.At
	if at.IsZero() {
		at = time.Now()
	}
	at = at.UTC().Truncate(time.Millisecond)
	for _, u := range n.Users {
		doc := Notification{UserID: u, EventID: n.ID, Kind: reports.Action(n.Kind), Why: "member",
			Subject: n.Subject, Link: n.Link, At: at}
		if err := s.add(ctx, doc); err != nil {
			return err
		}
	}
	return nil
}

// source is what makes a notification once: the event or notice, and the
// user. It is also the _id notifications had before the chains, so a
// migrated one is not stored again when its event is delivered again.
func source(eventID, userID string) string { return eventID + "." + userID }

// add appends n to its user's chain unless its source is there already.
func (s *Service) add(ctx context.Context, n Notification) error {
	if n.UserID == "" {
		return errors.New("store notification: no user")
	}
	if err := s.ensureIndex(ctx); err != nil {
		return err
	}
	n.Src = source(n.EventID, n.UserID)
	_, unlock := s.writers.Lock(n.UserID)
	defer unlock()
	_, err := storage.AppendOnce(ctx, s.coll, &s.hints, n.UserID, n.Src, func(id string, _ int) any {
		n.ID = id
		return n
	})
	if err != nil && !storage.IsRecorded(err) {
		return fmt.Errorf("store notification: %w", err)
	}
	return nil
}

// ensureIndex creates the unique source index before this service's first
// write. The application creates it at start (Indexes), but a service
// built on a database without it (a test's, a tool's) would otherwise store
// an event twice without any error: the index is what makes it once.
func (s *Service) ensureIndex(ctx context.Context) error {
	s.indexMu.Lock()
	defer s.indexMu.Unlock()
	if s.indexed {
		return nil
	}
	if err := storage.EnsureIndexes(ctx, s.db, Indexes()); err != nil {
		return fmt.Errorf("inbox: %w", err)
	}
	s.indexed = true
	return nil
}

type recipient struct{ user, why string }

// Notifies reports whether the event notifies the user, and why.
func (s *Service) Notifies(e reports.Event, userID string) (why string, ok bool) {
	for _, r := range s.recipients(e) {
		if r.user == userID {
			return r.why, true
		}
	}
	return "", false
}

// Notification returns the notification an event makes for a user. Its ID
// is empty: the place in the user's chain is known only once it is stored.
func (s *Service) Notification(e reports.Event, userID, why string) Notification {
	return Notification{UserID: userID, EventID: e.ID, Kind: e.Action, ReportID: e.ReportID, Ticket: e.Ticket,
		Status: e.Status, Category: e.Category, Cell: e.Cell, Why: why, At: e.At, Note: e.Note}
}

func (s *Service) recipients(e reports.Event) []recipient {
	var out []recipient
	seen := map[string]bool{}
	add := func(user, why string) {
		if user != "" && !seen[user] {
			seen[user] = true
			out = append(out, recipient{user, why})
		}
	}
	officerOrAdmins := func() {
		if e.OfficerID != "" {
			add(e.OfficerID, "officer")
			return
		}
		for _, a := range s.admins() {
			add(a, "admin")
		}
	}
	switch e.Action {
	case reports.ActSubmit:
		officerOrAdmins()
	case reports.ActHandover:
		officerOrAdmins()
		add(e.ReporterID, "reporter")
	case reports.ActEscalateAck:
		add(e.BackupID, "backup")
		for _, a := range s.admins() {
			add(a, "admin")
		}
	case reports.ActEscalateDecision:
		for _, a := range s.admins() {
			add(a, "admin")
		}
	case reports.ActMessage:
		// The reporter answered or added something: the officer who has
		// the report reads it (the admins when nobody has it).
		officerOrAdmins()
	case reports.ActUrge:
		// 催办 goes over the officer's head: to the cell's backup and the
		// admins.
		add(e.BackupID, "backup")
		for _, a := range s.admins() {
			add(a, "admin")
		}
	case reports.ActRate:
		// 回访: an unsatisfied rating asks the admins to decide (uphold or
		// reopen); the others tell the officer who resolved it.
		if e.Rating == reports.RatingUnsatisfied {
			for _, a := range s.admins() {
				add(a, "admin")
			}
		} else {
			officerOrAdmins()
		}
	case reports.ActMeToo:
		// Another rider met the problem too ("我也遇到"): the officer who
		// has the report weighs it (the admins when nobody has it); the
		// reporter reads it on their report's page, not in the inbox.
		officerOrAdmins()
	case reports.ActUnlinkDuplicate:
	default:
		// The reporter, among them on ActUphold: the resolution stands,
		// with the admin's note.
		add(e.ReporterID, "reporter")
	}
	return out
}

// List returns the user's latest limit notifications, newest first (in the
// order they were stored), and how many of the 200 latest are unread: an
// unread notification older than the 200 latest is not counted, so that a
// view reads a bounded number of documents, all by _id. It reads the head
// of the user's chain (from a hint, so a read or two), then the entries;
// entries already read are kept in memory, as they never change again.
func (s *Service) List(ctx context.Context, userID string, limit int64) ([]Notification, int64, error) {
	out := []Notification{}
	if userID == "" {
		return out, 0, nil
	}
	key := storage.ChainKey(s.coll, userID)
	head, err := storage.ChainHead(ctx, s.coll, userID, s.hints.Get(key))
	if err != nil {
		return nil, 0, fmt.Errorf("list notifications: %w", err)
	}
	s.hints.Set(key, head)
	want := max(int(min(limit, int64(head))), min(unreadWindow, head))
	entries, err := s.entries(ctx, userID, head, want)
	if err != nil {
		return nil, 0, fmt.Errorf("list notifications: %w", err)
	}
	var unread int64
	for i, n := range entries {
		if i < unreadWindow && !n.Read {
			unread++
		}
		if int64(len(out)) < limit {
			out = append(out, n)
		}
	}
	return out, unread, nil
}

// listReaders is how many of one view's entries are read at once.
const listReaders = 4

// entries reads the count entries of the user's chain ending at head,
// newest first. Entries known read come from the cache; the others from
// the store, a few at a time.
func (s *Service) entries(ctx context.Context, userID string, head, count int) ([]Notification, error) {
	out := make([]Notification, count)
	found := make([]bool, count)
	var todo []int // indexes in out still to read
	for i := range count {
		if n, ok := s.seen.get(userID, head-i); ok {
			out[i], found[i] = n, true
		} else {
			todo = append(todo, i)
		}
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		failure error
		next    = make(chan int)
	)
	for range min(listReaders, len(todo)) {
		wg.Go(func() {
			for i := range next {
				var n Notification
				err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: storage.ChainID(userID, head-i)}}).Decode(&n)
				mu.Lock()
				switch {
				case err == nil:
					out[i], found[i] = n, true
				case errors.Is(err, mongo.ErrNoDocuments):
					// Chains have no gaps and lose nothing; a missing
					// entry is left out rather than failing the view.
				case failure == nil:
					failure = err
				}
				mu.Unlock()
			}
		})
	}
	for _, i := range todo {
		next <- i
	}
	close(next)
	wg.Wait()
	if failure != nil {
		return nil, failure
	}
	kept := out[:0]
	for i, n := range out {
		if !found[i] {
			continue
		}
		if n.Read {
			s.seen.put(userID, head-i, n)
		}
		kept = append(kept, n)
	}
	s.seen.trim(userID, head-max(count, unreadWindow))
	return kept, nil
}

// MarkRead marks one of the user's notifications read. Errors: ErrNotFound
// when the user has no notification with that id.
func (s *Service) MarkRead(ctx context.Context, userID, id string) error {
	if userID == "" || !strings.HasPrefix(id, userID+"/") {
		return ErrNotFound
	}
	res, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "user_id", Value: userID}}, bson.D{{Key: "$set", Value: bson.D{{Key: "read", Value: true}}}})
	if err != nil {
		return fmt.Errorf("mark notification read: %w", err)
	}
	if res.MatchedCount == 0 {
		return ErrNotFound
	}
	return nil
}

// Migrate moves the notifications of earlier releases (one document each,
// _id "<event>.<user>", in the legacy collection) into their users'
// chains, each user's in the order they happened, and deletes each legacy
// document once its entry is in the chain. Call it once at start, before
// events are delivered, so the moved notifications come before new ones.
// It scans the legacy collection, which it leaves empty, so a later start
// scans nothing. A stop midway and a run on two instances at once are
// safe: an entry is appended by its source once (the same source a
// redelivered event would have), and a legacy document whose entry is
// there already is only deleted. It returns how many legacy documents it
// moved.
func (s *Service) Migrate(ctx context.Context) (int, error) {
	if err := s.ensureIndex(ctx); err != nil {
		return 0, err
	}
	cur, err := s.legacy.Find(ctx, bson.D{})
	if err != nil {
		return 0, fmt.Errorf("inbox: read the notifications to migrate: %w", err)
	}
	var old []Notification
	if err := cur.All(ctx, &old); err != nil {
		return 0, fmt.Errorf("inbox: read the notifications to migrate: %w", err)
	}
	old = slices.DeleteFunc(old, func(n Notification) bool { return strings.Contains(n.ID, "/") || n.UserID == "" })
	slices.SortStableFunc(old, func(a, b Notification) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	moved := 0
	for _, n := range old {
		legacyID := n.ID
		// The legacy _id is the source (source(event, user)); kept as it
		// is, so that one whose fields were edited by hand still matches.
		n.Src = legacyID
		err := func() error {
			_, unlock := s.writers.Lock(n.UserID)
			defer unlock()
			_, err := storage.AppendOnce(ctx, s.coll, &s.hints, n.UserID, n.Src, func(id string, _ int) any {
				n.ID = id
				return n
			})
			return err
		}()
		if err != nil && !storage.IsRecorded(err) {
			return moved, fmt.Errorf("inbox: migrate notification %s: %w", legacyID, err)
		}
		if _, err := s.legacy.DeleteOne(ctx, bson.D{{Key: "_id", Value: legacyID}}); err != nil {
			return moved, fmt.Errorf("inbox: delete migrated notification %s: %w", legacyID, err)
		}
		moved++
	}
	if moved > 0 {
		s.log.Info("inbox: moved notifications of an earlier release into the users' chains", "count", moved)
	}
	return moved, nil
}

// readCache keeps entries that are read, per user: a read entry never
// changes again, so a view need not read it from the store a second time.
// It holds at most the unread window of each user's latest entries and is
// bounded by forgetting everything past maxCachedUsers users (at about
// 300 bytes an entry, some 60 MB at most).
type readCache struct {
	mu    sync.Mutex
	users map[string]map[int]Notification
}

const maxCachedUsers = 1000

func (c *readCache) get(user string, n int) (Notification, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.users[user][n]
	return e, ok
}

func (c *readCache) put(user string, n int, e Notification) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.users == nil || (c.users[user] == nil && len(c.users) >= maxCachedUsers) {
		c.users = map[string]map[int]Notification{}
	}
	if c.users[user] == nil {
		c.users[user] = map[int]Notification{}
	}
	c.users[user][n] = e
}

// trim forgets the user's entries numbered at or below n.
func (c *readCache) trim(user string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.users[user] {
		if k <= n {
			delete(c.users[user], k)
		}
	}
}
