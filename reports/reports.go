// Package reports is the heart of Nuanxin: a rider's photo of a civic
// problem becomes a report, routed to the grid officer of the cell where it
// happened, who acknowledges it, verifies or rejects it, and follows it up.
// Every change is an entry appended to the report's timeline; nothing is
// deleted or rewritten.
package reports

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Status is where a report stands.
type Status string

// Statuses. Open reports are submitted, acknowledged, verified or
// in_progress; resolved and rejected reports are closed.
const (
	StatusSubmitted    Status = "submitted"    // waiting for the officer to acknowledge
	StatusAcknowledged Status = "acknowledged" // the officer has seen it
	StatusVerified     Status = "verified"     // the officer confirmed the problem
	StatusInProgress   Status = "in_progress"  // being handled
	StatusResolved     Status = "resolved"     // handled
	StatusRejected     Status = "rejected"     // not a problem, duplicate, outside the area…
)

// Statuses lists every status in lifecycle order.
var Statuses = []Status{StatusSubmitted, StatusAcknowledged, StatusVerified, StatusInProgress, StatusResolved, StatusRejected}

// Open reports whether the report still needs work.
func (s Status) Open() bool { return s != StatusResolved && s != StatusRejected }

// Action is something that happens to a report; each becomes a timeline entry.
type Action string

// Actions.
const (
	ActSubmit           Action = "submit"
	ActAcknowledge      Action = "acknowledge"
	ActVerify           Action = "verify"
	ActReject           Action = "reject"
	ActHandover         Action = "handover"
	ActStart            Action = "start"
	ActResolve          Action = "resolve"
	ActReopen           Action = "reopen"
	ActConfirmDuplicate Action = "confirm_duplicate"
	ActUnlinkDuplicate  Action = "unlink_duplicate"
	ActEscalateAck      Action = "escalate_ack"     // by the SLA worker: not acknowledged in time
	ActEscalateDecision Action = "escalate_decide"  // by the SLA worker: not verified or rejected in time
	ActPhotoUnreadable  Action = "photo_unreadable" // by the service: a photo's pixels are damaged (State.UnreadablePhotos)
	ActAskMore          Action = "ask_more"         // the officer asks the reporter for more (补充材料): Note says what
	ActMessage          Action = "message"          // by the reporter: text and 0–3 photos (messages_thread.go)
	ActUrge             Action = "urge"             // by the reporter, once a deadline has passed (催办, urge.go)
	ActMeToo            Action = "me_too"           // by a rider who is not the reporter: "我也遇到" (metoo.go)
	ActRate             Action = "rate"             // by the reporter, once per resolution (回访, rating.go)
	ActUphold           Action = "uphold"           // by an admin: an unsatisfied rating is heard and the resolution stands (rating.go)
)

// Actor roles as the timeline shows them.
const (
	RoleRider   = "rider"
	RoleOfficer = "officer"
	RoleAdmin   = "admin"
	RoleSystem  = "system"
)

// Limits of what a rider sends.
const (
	MinPhotos         = 1
	MaxPhotos         = 3
	MaxDescription    = 500 // characters
	MaxAddress        = 200 // characters
	MaxNote           = 500 // characters
	MaxIdempotencyKey = 128
)

// Routing rules.
const (
	DuplicateRadius = 50.0 // metres
	DuplicateWindow = 72 * time.Hour
	BorderMargin    = 30.0 // metres
)

// ManualActions are the actions people take (the rest are the system's).
var ManualActions = []Action{ActAcknowledge, ActVerify, ActReject, ActHandover, ActStart, ActResolve, ActReopen, ActConfirmDuplicate, ActUnlinkDuplicate, ActAskMore}

// transitions says from which statuses an action may be taken, and the
// status it leads to ("" = unchanged).
var transitions = map[Action]struct {
	from []Status
	to   Status
}{
	ActAcknowledge: {[]Status{StatusSubmitted}, StatusAcknowledged},
	ActVerify:      {[]Status{StatusSubmitted, StatusAcknowledged}, StatusVerified},
	ActReject:      {[]Status{StatusSubmitted, StatusAcknowledged}, StatusRejected},
	ActHandover:    {[]Status{StatusSubmitted, StatusAcknowledged}, StatusSubmitted},
	ActStart:       {[]Status{StatusVerified}, StatusInProgress},
	ActResolve:     {[]Status{StatusVerified, StatusInProgress}, StatusResolved},
	// A reopened report needs a decision again, from the officer who has it.
	ActReopen:           {[]Status{StatusResolved, StatusRejected}, StatusAcknowledged},
	ActConfirmDuplicate: {[]Status{StatusSubmitted, StatusAcknowledged, StatusVerified, StatusInProgress}, ""},
	ActUnlinkDuplicate:  {[]Status{StatusSubmitted, StatusAcknowledged, StatusVerified, StatusInProgress}, ""},
	// Asking for more needs the report acknowledged first, so that asking
	// never stands in for the 10-minute acknowledgement; it stays open
	// until the report is closed.
	ActAskMore: {[]Status{StatusAcknowledged, StatusVerified, StatusInProgress}, ""},
	// Upholding decides a dispute (an unsatisfied rating) on a resolved
	// report; it is not in ManualActions: only admins take it, and only on
	// a disputed report (rating.go).
	ActUphold: {[]Status{StatusResolved}, ""},
}

// Allowed lists the actions people may take on a report in status s.
func Allowed(s Status) []Action {
	var out []Action
	for _, a := range ManualActions {
		if slices.Contains(transitions[a].from, s) {
			out = append(out, a)
		}
	}
	return out
}

// RejectReasons are the reasons an officer may give for rejecting.
var RejectReasons = []string{"not_a_problem", "duplicate", "outside_area", "insufficient_evidence", "abusive"}

// Category is a kind of problem riders report.
type Category struct {
	Code string `json:"code"`
	ZH   string `json:"zh"`
	EN   string `json:"en"`
}

// DefaultCategories is the list used unless configured otherwise.
var DefaultCategories = []Category{
	{"road_damage", "道路破损", "Road damage"},
	{"traffic_facility", "交通设施", "Traffic facilities"},
	{"fire_safety", "消防安全隐患", "Fire and safety hazards"},
	{"food_safety", "食品安全", "Food safety"},
	{"public_facility", "公共设施", "Public facilities"},
	{"sanitation", "环境卫生", "Sanitation"},
	{"blocked_passage", "通道堵塞与违停", "Blocked passages and illegal parking"},
	{"other", "其他", "Other"},
}

// Photo is one stored photo of a report.
type Photo struct {
	Key         string `bson:"key" json:"key"`
	ThumbKey    string `bson:"thumb_key" json:"-"`
	ContentType string `bson:"content_type" json:"content_type"`
	Width       int    `bson:"width" json:"width"`
	Height      int    `bson:"height" json:"height"`
	Size        int    `bson:"size" json:"size"`
}

// Report is one reported problem. Status, Cell, Officer and the rest are a
// projection of the timeline's last entry.
type Report struct {
	ID string `bson:"_id" json:"id"`
	// Ticket is the number people read aloud and type (tickets.go), set
	// when the report is stored and never changed; empty only for a report
	// stored before tickets existed and not yet numbered (MigrateTickets).
	Ticket         string    `bson:"ticket" json:"ticket" doc:"ticket number (工单号): the Beijing day and its number, e.g. 20261129-0042; accepted wherever a report id is"`
	ReporterID     string    `bson:"reporter_id" json:"-"`
	Category       string    `bson:"category" json:"category"`
	Description    string    `bson:"description" json:"description"`
	Address        string    `bson:"address" json:"address,omitempty"`
	Lat            float64   `bson:"lat" json:"lat"`
	Lng            float64   `bson:"lng" json:"lng"`
	LocationSource string    `bson:"location_source" json:"location_source" doc:"device, photo or manual"`
	Photos         []Photo   `bson:"photos" json:"photos"`
	AfterPhoto     *Photo    `bson:"after_photo,omitempty" json:"after_photo,omitempty"`
	CreatedAt      time.Time `bson:"created_at" json:"created_at"`
	IdemKey        string    `bson:"idem_key" json:"-"`
	BodyHash       string    `bson:"body_hash" json:"-"`
	State          `bson:",inline"`
}

// State is the part of a report that changes: each timeline entry carries the
// whole State after it, so the report can always be rebuilt from its last
// entry (see Service.repair). No field is omitempty: projecting an entry must
// also clear what it cleared.
type State struct {
	Seq            int       `bson:"seq" json:"seq"`
	Status         Status    `bson:"status" json:"status"`
	Cell           string    `bson:"cell" json:"cell" doc:"grid cell code; empty: unassigned (admin queue)"`
	OfficerID      string    `bson:"officer_id" json:"-"`
	BackupID       string    `bson:"backup_id" json:"-"`
	NearBorder     bool      `bson:"near_border" json:"near_border" doc:"within 30 m of the cell border: the officer may hand it over"`
	DuplicateOf    string    `bson:"duplicate_of" json:"duplicate_of,omitempty"`
	DuplicateState string    `bson:"duplicate_state" json:"duplicate_state,omitempty" doc:"probable or confirmed"`
	Severity       int       `bson:"severity" json:"severity,omitempty"`
	RejectReason   string    `bson:"reject_reason" json:"reject_reason,omitempty"`
	AckDue         time.Time `bson:"ack_due" json:"ack_due"`
	DecideDue      time.Time `bson:"decide_due" json:"decide_due"`
	NextDue        time.Time `bson:"next_due" json:"next_due" doc:"the next deadline; orders the officer's queue"`
	AckedAt        time.Time `bson:"acked_at" json:"acked_at,omitzero"`
	DecidedAt      time.Time `bson:"decided_at" json:"decided_at,omitzero"`
	ResolvedAt     time.Time `bson:"resolved_at" json:"resolved_at,omitzero"`
	EscalatedAck   bool      `bson:"escalated_ack" json:"escalated_ack"`
	EscalatedDue   bool      `bson:"escalated_decide" json:"escalated_decide"`
	UpdatedAt      time.Time `bson:"updated_at" json:"updated_at"`
	// UnreadablePhotos are the indexes in Photos of photos that passed the
	// checks made before the answer but whose pixels turned out damaged
	// when their thumbnail was made.
	UnreadablePhotos []int `bson:"unreadable_photos,omitempty" json:"unreadable_photos,omitempty" doc:"indexes of photos that could not be read; the rider may add another"`
	// MeToo counts the other riders who confirmed the problem ("我也遇到",
	// metoo.go); MeTooBy names the first MaxMeTooBy of them, for the
	// points rules. Never shown: no rider learns who else confirmed.
	MeToo   int      `bson:"me_too" json:"me_too" doc:"how many other riders confirmed they met the same problem (我也遇到)"`
	MeTooBy []string `bson:"me_too_by" json:"-"`
	// Rating is the reporter's rating of the current resolution (回访,
	// rating.go): satisfied, basic or unsatisfied; "" not rated. A reopen
	// clears it with RatedAt and Disputed, so the next resolution is rated
	// afresh.
	Rating  string    `bson:"rating" json:"rating,omitempty" doc:"the reporter's rating of the resolution: satisfied (满意), basic (基本满意) or unsatisfied (不满意); empty: not rated"`
	RatedAt time.Time `bson:"rated_at" json:"rated_at,omitzero"`
	// Disputed: rated unsatisfied, and no admin has decided yet (uphold or
	// reopen).
	Disputed bool `bson:"disputed" json:"disputed,omitempty" doc:"rated unsatisfied and awaiting an administrator's decision"`
}

// Entry is one step of a report's timeline. It names the actor's role and
// cell, never their identity or contact details, because riders see it.
type Entry struct {
	ID        string    `bson:"_id" json:"-"`
	ReportID  string    `bson:"report_id" json:"report_id"`
	Seq       int       `bson:"seq" json:"seq"`
	Action    Action    `bson:"action" json:"action"`
	From      Status    `bson:"from" json:"from,omitempty"`
	ActorRole string    `bson:"actor_role" json:"actor_role" doc:"rider, officer, admin or system"`
	ActorID   string    `bson:"actor_id" json:"-"`
	Cell      string    `bson:"cell_at" json:"cell,omitempty"`
	Note      string    `bson:"note,omitempty" json:"note,omitempty"`
	Reason    string    `bson:"reason,omitempty" json:"reason,omitempty"`
	At        time.Time `bson:"at" json:"at"`
	Published bool      `bson:"published" json:"-"`
	After     State     `bson:"after" json:"-"`
	// Photos are a reporter's message's photos (ActMessage), served by
	// GET /api/v1/reports/{id}/messages/{seq}/photos/{n}.
	Photos []Photo `bson:"photos,omitempty" json:"photos,omitempty"`
	// Key is what makes the entry once: a message's Idempotency-Key
	// claim, an urge's deadline (claims.go). Never shown.
	Key string `bson:"key,omitempty" json:"-"`
}

// Errors.
var (
	ErrNotFound       = errors.New("report not found")
	ErrIdempotencyKey = errors.New("this Idempotency-Key was used for a different report; generate a new key for a new report")
	ErrConflict       = errors.New("the report was changed by someone else at the same moment; reload and try again")
)

// ValidationError says which input is wrong and how to fix it.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }

// TransitionError is returned when an action is not allowed in the report's
// current status; Allowed lists what is.
type TransitionError struct {
	Action  Action
	Status  Status
	Allowed []Action
}

func (e *TransitionError) Error() string {
	names := make([]string, len(e.Allowed))
	for i, a := range e.Allowed {
		names[i] = string(a)
	}
	allowed := "none"
	if len(names) > 0 {
		allowed = strings.Join(names, ", ")
	}
	return fmt.Sprintf("cannot %s a report that is %s; allowed now: %s", e.Action, e.Status, allowed)
}
