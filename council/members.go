package council

// Council membership.
//
// Design (why it looks like this): the embedded store makes only unique
// inserts atomic, and reads only by _id without scanning, so membership is
// kept as numbered chains of documents claimed by unique _id inserts.
//
//   - council_memberships, "<rider>/<n>": each rider's chain. Entry n is the
//     decision "from now on the rider's home is Station" (empty: no home),
//     taken by whoever inserts n first; the head (highest n) is the current
//     home. A rider joining two stations at once therefore ends with exactly
//     one home: the loser re-reads the head and decides again. The chain is
//     dense (n is inserted only after n-1 was read), so its head is found by
//     galloping probes by _id.
//   - council_roster, "<station>/<k>": each station's roster log of joins and
//     leaves, a projection of the riders' chains. Every entry names its
//     source (rider chain entry and station) under a unique index, so
//     writing it twice is a no-op. The roster is folded from the log, per
//     rider keeping the entry with the highest chain number, so entries that
//     land out of order still fold to the chain's answer. Each instance keeps
//     the fold in memory and reads only the new entries (by _id) on each
//     request; a cold instance folds a station's log once.
//
// A chain entry is written first and its roster entries after, then it is
// marked rostered. A writer stopped in between leaves the roster behind the
// chain; the next change of the same rider writes the missing entries before
// its own, and RepairRoster (a background pass, the only scan) finds the
// rest. IsMember reads the chain, the source of truth; Members and Roster
// read the roster.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nuanxin/nuanxin/storage"
)

const (
	membershipsCollection = "council_memberships"
	rosterCollection      = "council_roster"
)

// Membership errors.
var (
	ErrNotMember = errors.New("the rider is not a member of this station's council")
	// ErrContended means a chain changed under the caller more times than it
	// retries; asking again normally succeeds. It is storage.ErrContended,
	// which storage.AppendOnce returns, so errors.Is matches either name.
	ErrContended = storage.ErrContended
)

// Kinds of membership change.
const (
	KindJoin    = "join"
	KindLeave   = "leave"
	KindRemoved = "removed"
)

// MemberIndexes lists the indexes membership needs (the lead adds them to
// Indexes). The source keys make roster entries written once.
func MemberIndexes() []storage.Index {
	return []storage.Index{
		{Collection: rosterCollection, Name: "roster_src", Keys: bson.D{{Key: "src", Value: 1}}, Unique: true},
	}
}

// StationExists is what membership needs from the stations: Service.Get,
// which answers ErrNotFound for an unknown station.
type StationExists interface {
	Get(ctx context.Context, id string) (Station, error)
}

// Names gives a rider's display name (never a phone number) for rosters.
type Names interface {
	DisplayName(ctx context.Context, userID string) (string, error)
}

// Membership is one entry of a rider's chain: the rider's home from At on.
type Membership struct {
	ID       string    `bson:"_id" json:"-"`
	Rider    string    `bson:"rider" json:"rider_id"`
	Seq      int       `bson:"seq" json:"seq"`
	Station  string    `bson:"station" json:"station_id"` // empty: no home
	From     string    `bson:"from" json:"from,omitempty"`
	Kind     string    `bson:"kind" json:"kind"`
	Reason   string    `bson:"reason,omitempty" json:"reason,omitempty"`
	By       string    `bson:"by,omitempty" json:"by,omitempty"`
	At       time.Time `bson:"at" json:"at"`
	Rostered bool      `bson:"rostered" json:"-"`
}

// rosterEntry is one join or leave in a station's roster log.
type rosterEntry struct {
	ID       string    `bson:"_id"`
	Src      string    `bson:"src"` // "<rider>/<n>@<station>"
	Station  string    `bson:"station"`
	Rider    string    `bson:"rider"`
	ChainSeq int       `bson:"chain_seq"`
	Present  bool      `bson:"present"`
	Kind     string    `bson:"kind"`
	Reason   string    `bson:"reason,omitempty"`
	By       string    `bson:"by,omitempty"`
	At       time.Time `bson:"at"`
}

// RosterMember is one member as the roster shows them.
type RosterMember struct {
	RiderID string    `json:"rider_id"`
	Name    string    `json:"name"`
	Since   time.Time `json:"since"`
}

type rosterState struct {
	chainSeq int
	present  bool
	since    time.Time
}

type rosterView struct {
	folded  int
	members map[string]rosterState
}

// Members keeps the councils' memberships.
type Members struct {
	chain    *mongo.Collection
	roster   *mongo.Collection
	stations StationExists
	names    Names
	log      *slog.Logger
	now      func() time.Time

	riders storage.KeyedLocks[struct{}]
	hints  storage.ChainHints

	rosterWriters storage.KeyedLocks[struct{}]
	folds         storage.KeyedLocks[struct{}]
	viewsMu       sync.Mutex
	views         map[string]*rosterView
}

// NewMembers builds the membership service.
func NewMembers(db *mongo.Database, stations StationExists, names Names, log *slog.Logger) *Members {
	return &Members{chain: db.Collection(membershipsCollection), roster: db.Collection(rosterCollection),
		stations: stations, names: names, log: log, now: time.Now, views: map[string]*rosterView{}}
}

// Join makes station the rider's home council, leaving the previous one.
// Joining one's home again changes nothing. Errors: ErrNotFound for an
// unknown station, ErrContended.
func (m *Members) Join(ctx context.Context, station, rider string) (Membership, error) {
	if err := checkID("rider_id", rider); err != nil {
		return Membership{}, err
	}
	if _, err := m.stations.Get(ctx, station); err != nil {
		return Membership{}, err
	}
	return m.change(ctx, rider, func(head Membership) (*Membership, error) {
		if head.Station == station {
			return nil, nil
		}
		return &Membership{Station: station, Kind: KindJoin, By: rider}, nil
	})
}

// Leave ends the rider's membership of their home council. Errors:
// ErrNotMember when the rider has no home council.
func (m *Members) Leave(ctx context.Context, rider string) error {
	_, err := m.change(ctx, rider, func(head Membership) (*Membership, error) {
		if head.Station == "" {
			return nil, ErrNotMember
		}
		return &Membership{Kind: KindLeave, By: rider}, nil
	})
	return err
}

// Remove takes a member off the station's council, recording who did it and
// why. The caller checks that by is an admin of the station. A removed
// rider may join again. Errors: *ValidationError for a missing or long
// reason, ErrNotMember when the rider is not a member of station.
func (m *Members) Remove(ctx context.Context, station, rider, by, reason string) error {
	reason = strings.TrimSpace(reason)
	if n := utf8.RuneCountInString(reason); n == 0 || n > 500 {
		return &ValidationError{Field: "reason", Reason: "give a reason of 1 to 500 characters"}
	}
	_, err := m.change(ctx, rider, func(head Membership) (*Membership, error) {
		if head.Station != station {
			return nil, ErrNotMember
		}
		return &Membership{Kind: KindRemoved, By: by, Reason: reason}, nil
	})
	return err
}

// Home returns the head of the rider's chain: their home council (Station
// empty when they have none) and how it came to be, a removal's reason
// included. A rider who never joined gets a zero Membership.
func (m *Members) Home(ctx context.Context, rider string) (Membership, error) {
	return m.head(ctx, rider)
}

// IsMember reports whether station is the rider's home council.
func (m *Members) IsMember(ctx context.Context, station, rider string) (bool, error) {
	if station == "" || rider == "" {
		return false, nil
	}
	h, err := m.head(ctx, rider)
	if err != nil {
		return false, err
	}
	return h.Station == station, nil
}

// Members returns the ids of the station's members, sorted: what a vote
// roll snapshots when voting opens.
func (m *Members) Members(ctx context.Context, station string) ([]string, error) {
	view, err := m.fold(ctx, station)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(view))
	for id := range view {
		out = append(out, id)
	}
	slices.Sort(out)
	return out, nil
}

// Roster returns the station's members with their display names, longest
// serving first. It never shows phone numbers: names come from Names.
func (m *Members) Roster(ctx context.Context, station string) ([]RosterMember, error) {
	view, err := m.fold(ctx, station)
	if err != nil {
		return nil, err
	}
	out := make([]RosterMember, 0, len(view))
	for id, st := range view {
		name, err := m.names.DisplayName(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("council: name of member %s: %w", id, err)
		}
		out = append(out, RosterMember{RiderID: id, Name: name, Since: st.since})
	}
	slices.SortFunc(out, func(a, b RosterMember) int {
		if c := a.Since.Compare(b.Since); c != 0 {
			return c
		}
		return strings.Compare(a.RiderID, b.RiderID)
	})
	return out, nil
}

// RepairRoster writes the roster entries of chain entries whose writer
// stopped before writing them (older than a minute, so as not to race a
// writer still at work). It scans the chain collection: run it in the
// background, not on a request path. It returns how many it repaired.
func (m *Members) RepairRoster(ctx context.Context) (int, error) {
	cur, err := m.chain.Find(ctx, bson.D{{Key: "rostered", Value: false}, {Key: "at", Value: bson.D{{Key: "$lt", Value: m.now().Add(-time.Minute)}}}},
		options.Find().SetLimit(500))
	if err != nil {
		return 0, fmt.Errorf("council: find unrostered memberships: %w", err)
	}
	var todo []Membership
	if err := cur.All(ctx, &todo); err != nil {
		return 0, fmt.Errorf("council: find unrostered memberships: %w", err)
	}
	n := 0
	for _, e := range todo {
		if err := m.writeRoster(ctx, e); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// change decides the rider's next chain entry from the head and claims it.
// Writers in this instance take turns per rider; across instances the
// unique _id decides and the loser decides again on the new head.
func (m *Members) change(ctx context.Context, rider string, decide func(head Membership) (*Membership, error)) (Membership, error) {
	_, unlock := m.riders.Lock(rider)
	defer unlock()
	for range 8 {
		head, err := m.head(ctx, rider)
		if err != nil {
			return Membership{}, err
		}
		if head.Seq > 0 && !head.Rostered {
			// A writer stopped before its roster entries: write them before
			// the next change, so the roster never misses a step.
			if err := m.writeRoster(ctx, head); err != nil {
				return Membership{}, err
			}
		}
		next, err := decide(head)
		if err != nil || next == nil {
			return head, err
		}
		next.Rider, next.Seq, next.From = rider, head.Seq+1, head.Station
		next.ID = storage.ChainID(rider, next.Seq)
		next.At = m.now().UTC().Truncate(time.Millisecond)
		if _, err := m.chain.InsertOne(ctx, next); err != nil {
			if storage.IsDuplicateKey(err) {
				continue
			}
			return Membership{}, fmt.Errorf("council: record membership: %w", err)
		}
		m.hints.Set(membershipsCollection+":"+rider, next.Seq)
		if err := m.writeRoster(ctx, *next); err != nil {
			// The change stands; the next change or RepairRoster completes it.
			m.log.Warn("council: roster entry not written; will repair", "membership", next.ID, "err", err)
		}
		return *next, nil
	}
	return Membership{}, ErrContended
}

// writeRoster appends the leave and join entries of chain entry e (each
// once, by its source key) and marks e rostered.
func (m *Members) writeRoster(ctx context.Context, e Membership) error {
	write := func(station string, present bool) error {
		re := rosterEntry{Src: e.ID + "@" + station, Station: station, Rider: e.Rider, ChainSeq: e.Seq, Present: present,
			Kind: e.Kind, Reason: e.Reason, By: e.By, At: e.At}
		// Writers of one station's roster take turns in this instance:
		// a chain raced for by many writers collapses (DESIGN.md).
		_, unlock := m.rosterWriters.Lock(station)
		defer unlock()
		_, err := storage.AppendOnce(ctx, m.roster, &m.hints, station, re.Src, func(id string, _ int) any {
			re.ID = id
			return re
		})
		if storage.IsRecorded(err) {
			return nil
		}
		return err
	}
	if e.From != "" && e.From != e.Station {
		if err := write(e.From, false); err != nil {
			return err
		}
	}
	if e.Station != "" {
		if err := write(e.Station, true); err != nil {
			return err
		}
	}
	if _, err := m.chain.UpdateOne(ctx, bson.D{{Key: "_id", Value: e.ID}}, bson.D{{Key: "$set", Value: bson.D{{Key: "rostered", Value: true}}}}); err != nil {
		return fmt.Errorf("council: mark membership rostered: %w", err)
	}
	return nil
}

// head reads the last entry of the rider's chain.
func (m *Members) head(ctx context.Context, rider string) (Membership, error) {
	key := membershipsCollection + ":" + rider
	n, err := storage.ChainHead(ctx, m.chain, rider, m.hints.Get(key))
	if err != nil || n == 0 {
		return Membership{}, err
	}
	var e Membership
	if err := m.chain.FindOne(ctx, bson.D{{Key: "_id", Value: storage.ChainID(rider, n)}}).Decode(&e); err != nil {
		return Membership{}, fmt.Errorf("council: read membership: %w", err)
	}
	m.hints.Set(key, n)
	return e, nil
}

// fold brings this instance's view of the station's roster up to date by
// reading the log entries after the last one folded, by _id, and returns
// the members present.
func (m *Members) fold(ctx context.Context, station string) (map[string]rosterState, error) {
	_, unlock := m.folds.Lock(station)
	defer unlock()
	m.viewsMu.Lock()
	v := m.views[station]
	if v == nil {
		v = &rosterView{members: map[string]rosterState{}}
		m.views[station] = v
	}
	m.viewsMu.Unlock()
	for {
		var e rosterEntry
		err := m.roster.FindOne(ctx, bson.D{{Key: "_id", Value: storage.ChainID(station, v.folded+1)}}).Decode(&e)
		if errors.Is(err, mongo.ErrNoDocuments) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("council: read roster: %w", err)
		}
		v.folded++
		// The highest chain number wins, whatever order entries landed in.
		if cur, ok := v.members[e.Rider]; !ok || e.ChainSeq > cur.chainSeq {
			v.members[e.Rider] = rosterState{chainSeq: e.ChainSeq, present: e.Present, since: e.At}
		}
	}
	out := make(map[string]rosterState, len(v.members))
	for id, st := range v.members {
		if st.present {
			out[id] = st
		}
	}
	return out, nil
}

func checkID(field, id string) error {
	if id == "" || len(id) > 100 || strings.ContainsAny(id, "/@") {
		return &ValidationError{Field: field, Reason: "not a valid id"}
	}
	return nil
}
