package council

// The feedback pool (线上反馈池).
//
// Storage, all read by _id on request paths:
//   - council_feedback, "<item>": the item and a projection of its state.
//   - council_feedback_list, "<station>/<n>": the station's items in posting
//     order (numbered chain, source = item id). The list entry is written
//     before the item, so an item is never unlisted; a writer stopped in
//     between leaves an entry without item, which readers skip.
//   - council_feedback_log, "<item>/<n>": the item's timeline. A change of
//     state is decided by whoever inserts the next number; the item's
//     status is a projection written after, and readers that find a newer
//     entry apply it (and write the projection again).
//   - council_supports, "<item>/<member>": one support per member per item,
//     decided by the unique _id.
//   - council_support_tally, "<item>/<n>": the item's supports numbered, so
//     the count is the chain's head (source = "<item>/<member>", unique).
//     A support whose writer stopped before its number is numbered when the
//     member supports again.
//   - council_award_pending, "<item>": an adoption whose points are not yet
//     granted. Written before the adoption is tried and deleted once the
//     award is granted; RepairAwards retries what is left (the award key
//     "council:feedback:<id>" makes a retry grant nothing twice).

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nuanxin/nuanxin/storage"
)

const (
	feedbackCollection     = "council_feedback"
	feedbackListCollection = "council_feedback_list"
	feedbackLogCollection  = "council_feedback_log"
	supportsCollection     = "council_supports"
	supportTallyCollection = "council_support_tally"
	awardPendingCollection = "council_award_pending"
)

// FeedbackIndexes lists the indexes the feedback pool needs (the lead adds
// them to Indexes): the source keys that make list and tally entries once.
func FeedbackIndexes() []storage.Index {
	return []storage.Index{
		{Collection: feedbackListCollection, Name: "list_src", Keys: bson.D{{Key: "src", Value: 1}}, Unique: true},
		{Collection: supportTallyCollection, Name: "tally_src", Keys: bson.D{{Key: "src", Value: 1}}, Unique: true},
	}
}

// Category is what a feedback item is about.
type Category string

// Categories.
const (
	CategoryFacilities Category = "facilities"
	CategorySafety     Category = "safety"
	CategoryRights     Category = "rights" // rights and platform rules
	CategoryServices   Category = "services"
	CategoryOther      Category = "other"
)

// Categories lists the categories in the order forms show them.
var Categories = []Category{CategoryFacilities, CategorySafety, CategoryRights, CategoryServices, CategoryOther}

// FeedbackStatus is where an item stands.
type FeedbackStatus string

// Statuses.
const (
	StatusOpen        FeedbackStatus = "open"
	StatusUnderReview FeedbackStatus = "under_review"
	StatusAdopted     FeedbackStatus = "adopted"
	StatusAnswered    FeedbackStatus = "answered"
	StatusDeclined    FeedbackStatus = "declined"
)

// feedbackMoves is the state machine: open → under_review → adopted,
// answered or declined; those three are final.
var feedbackMoves = map[FeedbackStatus][]FeedbackStatus{
	StatusOpen:        {StatusUnderReview},
	StatusUnderReview: {StatusAdopted, StatusAnswered, StatusDeclined},
}

// Limits.
const (
	MaxFeedbackText = 2000
	maxPhotoKey     = 300
)

// Feedback errors.
var (
	ErrFeedbackNotFound = errors.New("no feedback item with that id")
	ErrOwnItem          = errors.New("you cannot support your own item")
	ErrAlreadySupported = errors.New("you have supported this item already")
	ErrFeedbackClosed   = errors.New("this item has been decided and takes no more supports")
)

// FeedbackTransitionError refuses a change of state the machine does not
// allow from the item's current state.
type FeedbackTransitionError struct {
	From, To FeedbackStatus
	Allowed  []FeedbackStatus
}

func (e *FeedbackTransitionError) Error() string {
	return fmt.Sprintf("an item that is %s cannot become %s", e.From, e.To)
}

// Awarder grants points once per key; the lead adapts points.Earner.Award.
type Awarder interface {
	Award(ctx context.Context, key, userID string, points int64, note string) error
}

// MemberCheck is what the pool needs from membership (*Members has it).
type MemberCheck interface {
	IsMember(ctx context.Context, station, rider string) (bool, error)
}

// Item is a feedback item with its current state.
type Item struct {
	ID        string         `bson:"_id" json:"id"`
	Station   string         `bson:"station" json:"station_id"`
	Author    string         `bson:"author" json:"author_id"`
	Category  Category       `bson:"category" json:"category"`
	Text      string         `bson:"text" json:"text"`
	PhotoKey  string         `bson:"photo_key,omitempty" json:"photo_key,omitempty"`
	CreatedAt time.Time      `bson:"created_at" json:"created_at"`
	Status    FeedbackStatus `bson:"status" json:"status"`
	Seq       int            `bson:"seq" json:"-"`                             // timeline entries projected
	Answer    string         `bson:"answer,omitempty" json:"answer,omitempty"` // the admin's public answer or note
	Reason    string         `bson:"reason,omitempty" json:"reason,omitempty"` // why it was declined
	UpdatedAt time.Time      `bson:"updated_at" json:"updated_at"`
	Supports  int            `bson:"supports" json:"supports"`
	// AwardPending: adopted, but the author's points are not granted yet
	// (RepairAwards retries).
	AwardPending bool `bson:"-" json:"award_pending,omitempty"`
}

// Waiting is how long the item has waited for a decision: from posting
// until now while it is open or under review, zero once decided.
func (it Item) Waiting(now time.Time) time.Duration {
	if it.Status != StatusOpen && it.Status != StatusUnderReview {
		return 0
	}
	return max(now.Sub(it.CreatedAt), 0)
}

// FeedbackEntry is one step of an item's timeline.
type FeedbackEntry struct {
	ID   string         `bson:"_id" json:"-"`
	Item string         `bson:"item" json:"item_id"`
	Seq  int            `bson:"seq" json:"seq"`
	From FeedbackStatus `bson:"from" json:"from"`
	To   FeedbackStatus `bson:"to" json:"to"`
	Text string         `bson:"text,omitempty" json:"text,omitempty"`
	By   string         `bson:"by" json:"by"`
	At   time.Time      `bson:"at" json:"at"`
}

// NewItem is what a member posts.
type NewItem struct {
	Station  string
	Author   string
	Category Category
	Text     string
	PhotoKey string // an object key the photo upload returned, or empty
}

func (in NewItem) clean() (NewItem, error) {
	in.Text = strings.TrimSpace(in.Text)
	in.PhotoKey = strings.TrimSpace(in.PhotoKey)
	if !slices.Contains(Categories, in.Category) {
		return in, &ValidationError{Field: "category", Reason: "choose one of facilities, safety, rights, services, other"}
	}
	if n := utf8.RuneCountInString(in.Text); n == 0 || n > MaxFeedbackText {
		return in, &ValidationError{Field: "text", Reason: fmt.Sprintf("write 1 to %d characters", MaxFeedbackText)}
	}
	if len(in.PhotoKey) > maxPhotoKey {
		return in, &ValidationError{Field: "photo_key", Reason: "not a valid photo"}
	}
	if err := checkID("station_id", in.Station); err != nil {
		return in, err
	}
	return in, checkID("author_id", in.Author)
}

type supportKey struct {
	ID     string    `bson:"_id"` // "<item>/<member>"
	Item   string    `bson:"item"`
	Member string    `bson:"member"`
	N      int       `bson:"n"` // its number in the tally, 0 until numbered
	At     time.Time `bson:"at"`
}

type tallyEntry struct {
	ID     string    `bson:"_id"`
	Src    string    `bson:"src"`
	Member string    `bson:"member"`
	At     time.Time `bson:"at"`
}

type listEntry struct {
	ID  string    `bson:"_id"`
	Src string    `bson:"src"` // the item id
	At  time.Time `bson:"at"`
}

type awardPending struct {
	ID     string    `bson:"_id"` // the item id
	Author string    `bson:"author"`
	At     time.Time `bson:"at"`
}

// Feedback is a stations' feedback pool.
type Feedback struct {
	items, list, log, supports, tally, pending *mongo.Collection

	members MemberCheck
	award   Awarder
	points  int64
	logger  *slog.Logger
	now     func() time.Time

	itemLocks storage.KeyedLocks[struct{}]
	hints     storage.ChainHints
}

// NewFeedback builds the pool. An adopted item earns its author points
// (> 0) through award.
func NewFeedback(db *mongo.Database, members MemberCheck, award Awarder, points int64, log *slog.Logger) *Feedback {
	return &Feedback{items: db.Collection(feedbackCollection), list: db.Collection(feedbackListCollection),
		log: db.Collection(feedbackLogCollection), supports: db.Collection(supportsCollection),
		tally: db.Collection(supportTallyCollection), pending: db.Collection(awardPendingCollection),
		members: members, award: award, points: points, logger: log, now: time.Now}
}

// Post adds a member's item to their station's pool. Input is checked
// before anything is written. Errors: *ValidationError, ErrNotMember.
func (f *Feedback) Post(ctx context.Context, in NewItem) (Item, error) {
	in, err := in.clean()
	if err != nil {
		return Item{}, err
	}
	ok, err := f.members.IsMember(ctx, in.Station, in.Author)
	if err != nil {
		return Item{}, err
	}
	if !ok {
		return Item{}, ErrNotMember
	}
	now := f.now().UTC().Truncate(time.Millisecond)
	it := Item{ID: bson.NewObjectID().Hex(), Station: in.Station, Author: in.Author, Category: in.Category, Text: in.Text,
		PhotoKey: in.PhotoKey, CreatedAt: now, Status: StatusOpen, UpdatedAt: now}
	// Listed first: an item that exists is always on its station's list.
	if _, err := storage.AppendOnce(ctx, f.list, &f.hints, in.Station, it.ID, func(id string, _ int) any {
		return listEntry{ID: id, Src: it.ID, At: now}
	}); err != nil && !storage.IsRecorded(err) {
		return Item{}, err
	}
	if _, err := f.items.InsertOne(ctx, it); err != nil {
		return Item{}, fmt.Errorf("council: store feedback: %w", err)
	}
	return it, nil
}

// Get returns the item with its current state and support count. Errors:
// ErrFeedbackNotFound.
func (f *Feedback) Get(ctx context.Context, id string) (Item, error) {
	var it Item
	err := f.items.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&it)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return Item{}, ErrFeedbackNotFound
	}
	if err != nil {
		return Item{}, fmt.Errorf("council: read feedback: %w", err)
	}
	return f.fresh(ctx, it)
}

// fresh applies timeline entries newer than the item's projection (a writer
// stopped before projecting) and counts the supports from the tally.
func (f *Feedback) fresh(ctx context.Context, it Item) (Item, error) {
	n, err := storage.ChainHead(ctx, f.log, it.ID, it.Seq)
	if err != nil {
		return Item{}, err
	}
	if n > it.Seq {
		var e FeedbackEntry
		if err := f.log.FindOne(ctx, bson.D{{Key: "_id", Value: storage.ChainID(it.ID, n)}}).Decode(&e); err != nil {
			return Item{}, fmt.Errorf("council: read feedback timeline: %w", err)
		}
		it = applyEntry(it, e)
		f.project(ctx, it)
	}
	c, err := storage.ChainHead(ctx, f.tally, it.ID, max(it.Supports, f.hints.Get(storage.ChainKey(f.tally, it.ID))))
	if err != nil {
		return Item{}, err
	}
	it.Supports = c
	if it.Status == StatusAdopted {
		err := f.pending.FindOne(ctx, bson.D{{Key: "_id", Value: it.ID}}).Err()
		if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
			return Item{}, fmt.Errorf("council: read pending award: %w", err)
		}
		it.AwardPending = err == nil
	}
	return it, nil
}

func applyEntry(it Item, e FeedbackEntry) Item {
	it.Seq, it.Status, it.UpdatedAt = e.Seq, e.To, e.At
	switch e.To {
	case StatusDeclined:
		it.Reason = e.Text
	case StatusAnswered, StatusAdopted:
		if e.Text != "" {
			it.Answer = e.Text
		}
	}
	return it
}

// project writes the item's state, unless a later one is there. Only a
// projection: the timeline's unique inserts decide each change, and fresh
// reads past the projection to the timeline's head on every Get, so a
// failure, or a race the non-atomic condition loses on the embedded store,
// is logged and repaired by the next read.
func (f *Feedback) project(ctx context.Context, it Item) {
	_, err := f.items.UpdateOne(ctx, bson.D{{Key: "_id", Value: it.ID}, {Key: "seq", Value: bson.D{{Key: "$lt", Value: it.Seq}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "seq", Value: it.Seq}, {Key: "status", Value: it.Status}, {Key: "answer", Value: it.Answer},
			{Key: "reason", Value: it.Reason}, {Key: "updated_at", Value: it.UpdatedAt}}}})
	if err != nil {
		f.logger.Warn("council: project feedback state; readers repair it", "item", it.ID, "err", err)
	}
}

// List returns up to limit of the station's items, newest first, posted
// before position before (0: from the newest), and the position to pass
// for the next page (0 when there is none). It reads by _id only.
func (f *Feedback) List(ctx context.Context, station string, before, limit int) ([]Item, int, error) {
	if limit <= 0 || limit > 100 {
		limit = 20
	}
	n := before - 1
	if before <= 0 {
		h, err := storage.ChainHead(ctx, f.list, station, f.hints.Get(storage.ChainKey(f.list, station)))
		if err != nil {
			return nil, 0, err
		}
		n = h
	}
	out := []Item{}
	for ; n >= 1 && len(out) < limit; n-- {
		var le listEntry
		if err := f.list.FindOne(ctx, bson.D{{Key: "_id", Value: storage.ChainID(station, n)}}).Decode(&le); err != nil {
			return nil, 0, fmt.Errorf("council: read feedback list: %w", err)
		}
		it, err := f.Get(ctx, le.Src)
		if errors.Is(err, ErrFeedbackNotFound) {
			continue // its writer stopped after listing it
		}
		if err != nil {
			return nil, 0, err
		}
		out = append(out, it)
	}
	next := 0
	if n >= 1 {
		next = n + 1
	}
	return out, next, nil
}

// Support records member's support of the item, once, and returns the
// item's support count. Errors: ErrFeedbackNotFound, ErrOwnItem,
// ErrNotMember (of the item's station), ErrFeedbackClosed,
// ErrAlreadySupported.
func (f *Feedback) Support(ctx context.Context, itemID, member string) (int, error) {
	if err := checkID("member_id", member); err != nil {
		return 0, err
	}
	it, err := f.Get(ctx, itemID)
	if err != nil {
		return 0, err
	}
	if it.Author == member {
		return 0, ErrOwnItem
	}
	if it.Status != StatusOpen && it.Status != StatusUnderReview {
		return 0, ErrFeedbackClosed
	}
	ok, err := f.members.IsMember(ctx, it.Station, member)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, ErrNotMember
	}
	key := supportKey{ID: itemID + "/" + member, Item: itemID, Member: member, At: f.now().UTC().Truncate(time.Millisecond)}
	already := false
	if _, err := f.supports.InsertOne(ctx, key); err != nil {
		if !storage.IsDuplicateKey(err) {
			return 0, fmt.Errorf("council: record support: %w", err)
		}
		already = true
		if err := f.supports.FindOne(ctx, bson.D{{Key: "_id", Value: key.ID}}).Decode(&key); err != nil {
			return 0, fmt.Errorf("council: read support: %w", err)
		}
		if key.N > 0 {
			return 0, ErrAlreadySupported
		}
		// The first attempt stopped before numbering it: number it now.
	}
	// Supporters of one item take turns in this instance (DESIGN.md:
	// contended chains collapse otherwise); across instances the unique
	// _id and source decide.
	_, unlock := f.itemLocks.Lock(itemID)
	n, err := storage.AppendOnce(ctx, f.tally, &f.hints, itemID, key.ID, func(id string, _ int) any {
		return tallyEntry{ID: id, Src: key.ID, Member: member, At: key.At}
	})
	unlock()
	if err != nil && !storage.IsRecorded(err) {
		return 0, err
	}
	if n > 0 {
		if _, err := f.supports.UpdateOne(ctx, bson.D{{Key: "_id", Value: key.ID}}, bson.D{{Key: "$set", Value: bson.D{{Key: "n", Value: n}}}}); err != nil {
			f.logger.Warn("council: mark support numbered", "support", key.ID, "err", err)
		}
	}
	count, err := storage.ChainHead(ctx, f.tally, itemID, f.hints.Get(storage.ChainKey(f.tally, itemID)))
	if err != nil {
		return 0, err
	}
	// A projection, not a guard: the count is the tally chain's head (one
	// entry per support, claimed by unique insert), which fresh reads on
	// every Get. The condition is not atomic on the embedded store, so a
	// lower count may win a race here; nothing reads it as the truth.
	if _, err := f.items.UpdateOne(ctx, bson.D{{Key: "_id", Value: itemID}, {Key: "supports", Value: bson.D{{Key: "$lt", Value: count}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "supports", Value: count}}}}); err != nil {
		f.logger.Warn("council: project support count", "item", itemID, "err", err)
	}
	if already {
		return count, ErrAlreadySupported
	}
	return count, nil
}

// Supported reports whether member has supported the item.
func (f *Feedback) Supported(ctx context.Context, itemID, member string) (bool, error) {
	err := f.supports.FindOne(ctx, bson.D{{Key: "_id", Value: itemID + "/" + member}}).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("council: read support: %w", err)
	}
	return true, nil
}

// Transition moves the item to status to, by the station admin by (the
// caller checks the permission). text is the public answer for answered,
// the reason for declined (both required, 1..2000 characters) and an
// optional note for the others. An adoption then awards the author points;
// if the award fails the adoption stands, the item says AwardPending and
// RepairAwards grants it later. Errors: *ValidationError,
// ErrFeedbackNotFound, *FeedbackTransitionError, ErrContended.
func (f *Feedback) Transition(ctx context.Context, itemID string, to FeedbackStatus, by, text string) (Item, error) {
	text = strings.TrimSpace(text)
	if to != StatusUnderReview && to != StatusAdopted && to != StatusAnswered && to != StatusDeclined {
		return Item{}, &ValidationError{Field: "status", Reason: "choose under_review, adopted, answered or declined"}
	}
	if utf8.RuneCountInString(text) > MaxFeedbackText {
		return Item{}, &ValidationError{Field: "text", Reason: fmt.Sprintf("use at most %d characters", MaxFeedbackText)}
	}
	if text == "" && (to == StatusAnswered || to == StatusDeclined) {
		field := "answer"
		if to == StatusDeclined {
			field = "reason"
		}
		return Item{}, &ValidationError{Field: field, Reason: "write the " + field + " members will read"}
	}
	_, unlock := f.itemLocks.Lock("log:" + itemID)
	defer unlock()
	for range 8 {
		it, err := f.Get(ctx, itemID)
		if err != nil {
			return Item{}, err
		}
		if !slices.Contains(feedbackMoves[it.Status], to) {
			return Item{}, &FeedbackTransitionError{From: it.Status, To: to, Allowed: feedbackMoves[it.Status]}
		}
		now := f.now().UTC().Truncate(time.Millisecond)
		if to == StatusAdopted {
			// The intent first: an adoption stored and then unawarded
			// (a crash, a failed award) is always found by RepairAwards.
			if _, err := f.pending.InsertOne(ctx, awardPending{ID: itemID, Author: it.Author, At: now}); err != nil && !storage.IsDuplicateKey(err) {
				return Item{}, fmt.Errorf("council: record pending award: %w", err)
			}
		}
		e := FeedbackEntry{ID: storage.ChainID(itemID, it.Seq+1), Item: itemID, Seq: it.Seq + 1, From: it.Status, To: to, Text: text, By: by, At: now}
		if _, err := f.log.InsertOne(ctx, e); err != nil {
			if storage.IsDuplicateKey(err) {
				continue // another change won: decide again on the new state
			}
			return Item{}, fmt.Errorf("council: record feedback change: %w", err)
		}
		it = applyEntry(it, e)
		f.project(ctx, it)
		if to == StatusAdopted {
			it.AwardPending = true
			if err := f.grant(ctx, it.ID, it.Author); err != nil {
				f.logger.Warn("council: award for adopted feedback failed; RepairAwards retries", "item", it.ID, "err", err)
			} else {
				it.AwardPending = false
			}
		}
		return it, nil
	}
	return Item{}, ErrContended
}

// AwardKey is the points fact key of an adopted item.
func AwardKey(itemID string) string { return "council:feedback:" + itemID }

// grant awards the author and, once granted, drops the pending record.
func (f *Feedback) grant(ctx context.Context, itemID, author string) error {
	if err := f.award.Award(ctx, AwardKey(itemID), author, f.points, "feedback adopted · 意见被采纳"); err != nil {
		return err
	}
	if _, err := f.pending.DeleteOne(ctx, bson.D{{Key: "_id", Value: itemID}}); err != nil {
		return fmt.Errorf("council: clear pending award: %w", err)
	}
	return nil
}

// RepairAwards grants the points of adoptions whose award failed or whose
// writer stopped, and drops intents of adoptions that never happened (older
// than ten minutes, so as not to race one in progress). It reads the small
// pending collection only; run it in the background. It returns how many
// awards it granted and the first error.
func (f *Feedback) RepairAwards(ctx context.Context) (int, error) {
	cur, err := f.pending.Find(ctx, bson.D{}, options.Find().SetLimit(500))
	if err != nil {
		return 0, fmt.Errorf("council: read pending awards: %w", err)
	}
	var todo []awardPending
	if err := cur.All(ctx, &todo); err != nil {
		return 0, fmt.Errorf("council: read pending awards: %w", err)
	}
	granted := 0
	var first error
	for _, p := range todo {
		it, err := f.Get(ctx, p.ID)
		switch {
		case err == nil && it.Status == StatusAdopted:
			if err := f.grant(ctx, it.ID, it.Author); err != nil {
				first = cmpOr(first, err)
				continue
			}
			granted++
		case (err == nil || errors.Is(err, ErrFeedbackNotFound)) && f.now().Sub(p.At) > 10*time.Minute:
			if _, err := f.pending.DeleteOne(ctx, bson.D{{Key: "_id", Value: p.ID}}); err != nil {
				first = cmpOr(first, err)
			}
		case err != nil && !errors.Is(err, ErrFeedbackNotFound):
			first = cmpOr(first, err)
		}
	}
	return granted, first
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// Timeline returns the item's changes of state, oldest first.
func (f *Feedback) Timeline(ctx context.Context, itemID string) ([]FeedbackEntry, error) {
	out := []FeedbackEntry{}
	for n := 1; ; n++ {
		var e FeedbackEntry
		err := f.log.FindOne(ctx, bson.D{{Key: "_id", Value: storage.ChainID(itemID, n)}}).Decode(&e)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("council: read feedback timeline: %w", err)
		}
		out = append(out, e)
	}
}
