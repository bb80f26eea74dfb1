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
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nuanxin/nuanxin/reports"
	"github.com/nuanxin/nuanxin/storage"
)

const collection = "notifications"

// Indexes lists the indexes the inbox needs.
func Indexes() []storage.Index {
	return []storage.Index{
		{Collection: collection, Name: "user_at", Keys: bson.D{{Key: "user_id", Value: 1}, {Key: "at", Value: -1}}},
		{Collection: collection, Name: "user_read", Keys: bson.D{{Key: "user_id", Value: 1}, {Key: "read", Value: 1}}},
	}
}

// Notification is one message to one user. Its text is chosen by the page
// from Kind and Status, in the reader's language.
type Notification struct {
	ID       string         `bson:"_id" json:"id"`
	UserID   string         `bson:"user_id" json:"-"`
	EventID  string         `bson:"event_id" json:"-"`
	Kind     reports.Action `bson:"kind" json:"kind" doc:"what happened: submit, acknowledge, verify, escalate_ack…"`
	ReportID string         `bson:"report_id" json:"report_id"`
	Status   reports.Status `bson:"status" json:"status"`
	Category string         `bson:"category" json:"category"`
	Cell     string         `bson:"cell" json:"cell,omitempty"`
	Why      string         `bson:"why" json:"why" doc:"why you got it: reporter, officer, backup, admin, member"`
	// Subject and Link are set on notices that are not about a report
	// (a council's votes and outcomes): what it is about, and its page.
	Subject string    `bson:"subject,omitempty" json:"subject,omitempty"`
	Link    string    `bson:"link,omitempty" json:"link,omitempty"`
	At      time.Time `bson:"at" json:"at"`
	Read    bool      `bson:"read" json:"read"`
}

// ErrNotFound is returned for a notification that is not the user's.
var ErrNotFound = errors.New("notification not found")

// Service stores notifications.
type Service struct {
	coll   *mongo.Collection
	admins func() []string // account ids of admins
	log    *slog.Logger
}

// NewService builds the inbox. admins lists the admin accounts to tell about
// escalations and unassigned reports.
func NewService(db *mongo.Database, admins func() []string, log *slog.Logger) *Service {
	return &Service{coll: db.Collection(collection), admins: admins, log: log}
}

// Publish turns a report event into notifications. Each notification's id is
// the event id and the recipient, so a second delivery of the same event
// inserts nothing new: the unique _id makes handling idempotent.
func (s *Service) Publish(ctx context.Context, e reports.Event) error {
	for _, r := range s.recipients(e) {
		n := s.Notification(e, r.user, r.why)
		if _, err := s.coll.InsertOne(ctx, n); err != nil && !storage.IsDuplicateKey(err) {
			return fmt.Errorf("store notification: %w", err)
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

// Tell stores a notice for each of its users, once: the notification's id
// is the notice's and the user's, so telling it again inserts nothing.
func (s *Service) Tell(ctx context.Context, n Notice) error {
	at := n.At
	if at.IsZero() {
		at = time.Now()
	}
	at = at.UTC().Truncate(time.Millisecond)
	for _, u := range n.Users {
		doc := Notification{ID: n.ID + "." + u, UserID: u, EventID: n.ID, Kind: reports.Action(n.Kind), Why: "member",
			Subject: n.Subject, Link: n.Link, At: at}
		if _, err := s.coll.InsertOne(ctx, doc); err != nil && !storage.IsDuplicateKey(err) {
			return fmt.Errorf("store notification: %w", err)
		}
	}
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

// Notification returns the notification an event makes for a user. Its id
// joins the event and the user with a dot, which needs no escaping in a path.
func (s *Service) Notification(e reports.Event, userID, why string) Notification {
	return Notification{ID: e.ID + "." + userID, UserID: userID, EventID: e.ID, Kind: e.Action, ReportID: e.ReportID,
		Status: e.Status, Category: e.Category, Cell: e.Cell, Why: why, At: e.At}
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
	case reports.ActUnlinkDuplicate:
	default:
		add(e.ReporterID, "reporter")
	}
	return out
}

// List returns the user's latest notifications and how many are unread.
func (s *Service) List(ctx context.Context, userID string, limit int64) ([]Notification, int64, error) {
	cur, err := s.coll.Find(ctx, bson.D{{Key: "user_id", Value: userID}}, options.Find().SetSort(bson.D{{Key: "at", Value: -1}}).SetLimit(limit))
	if err != nil {
		return nil, 0, fmt.Errorf("list notifications: %w", err)
	}
	out := []Notification{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, 0, fmt.Errorf("list notifications: %w", err)
	}
	unread, err := s.coll.CountDocuments(ctx, bson.D{{Key: "user_id", Value: userID}, {Key: "read", Value: false}})
	if err != nil {
		return nil, 0, fmt.Errorf("count notifications: %w", err)
	}
	return out, unread, nil
}

// Since returns the user's notifications newer than t, oldest first.
func (s *Service) Since(ctx context.Context, userID string, t time.Time) ([]Notification, error) {
	cur, err := s.coll.Find(ctx, bson.D{{Key: "user_id", Value: userID}, {Key: "at", Value: bson.D{{Key: "$gt", Value: t}}}},
		options.Find().SetSort(bson.D{{Key: "at", Value: 1}}).SetLimit(100))
	if err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	out := []Notification{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	return out, nil
}

// MarkRead marks one of the user's notifications read.
func (s *Service) MarkRead(ctx context.Context, userID, id string) error {
	res, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "user_id", Value: userID}}, bson.D{{Key: "$set", Value: bson.D{{Key: "read", Value: true}}}})
	if err != nil {
		return fmt.Errorf("mark notification read: %w", err)
	}
	if res.MatchedCount == 0 {
		return ErrNotFound
	}
	return nil
}
