package council

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nuanxin/nuanxin/council/vote"
	"github.com/nuanxin/nuanxin/reports"
	"github.com/nuanxin/nuanxin/storage"
)

// Hub is the councils of all stations: what the council API and pages
// call. The app builds one (NewHub) on the services it already has.
type Hub struct {
	Stations  *Service
	Members   *Members
	Feedback  *Feedback
	Votes     *vote.Service
	Visits    *Visits
	Proposals *Proposals
	Photos    *Photos
	Names     Names
	Log       *slog.Logger
}

// HubDeps is what NewHub needs.
type HubDeps struct {
	DB       *mongo.Database
	Blobs    *storage.Blobs
	Stations *Service
	Members  *Members
	Feedback *Feedback
	Votes    *vote.Service
	Names    Names
	Notify   Notifier // outcomes; nil: not told
	Log      *slog.Logger
}

// NewHub builds the hub. The indexes of HubIndexes must exist first.
func NewHub(d HubDeps) *Hub {
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	photos := &Photos{blobs: d.Blobs, sem: make(chan struct{}, 2)}
	return &Hub{
		Stations: d.Stations, Members: d.Members, Feedback: d.Feedback, Votes: d.Votes, Names: d.Names, Log: log,
		Photos: photos,
		Visits: &Visits{coll: d.DB.Collection(visitsCollection), stations: d.Stations, now: time.Now},
		Proposals: &Proposals{index: d.DB.Collection(proposalIndexCollection), links: d.DB.Collection(itemProposalCollection),
			outcomes: d.DB.Collection(outcomesCollection), stations: d.Stations, members: d.Members, feedback: d.Feedback,
			votes: d.Votes, notify: d.Notify, log: log, now: time.Now},
	}
}

// Collections of the hub. Each is read by _id only (DESIGN.md): numbered
// chains claimed by unique inserts (see members.go), and one link per item.
const (
	visitsCollection        = "council_visits"         // "<station>/<day>/<n>", src "<rider>": that day's visitors
	proposalIndexCollection = "council_proposals"      // "<station>/<n>", src "<proposal id>": the station's proposals
	itemProposalCollection  = "council_item_proposals" // _id "<item id>": the proposal it was adopted into
	outcomesCollection      = "council_outcomes"       // "<proposal>/<n>", src "<kind>:<text hash>"
)

// HubIndexes lists the indexes the hub needs (the source keys that make a
// chain entry once).
func HubIndexes() []storage.Index {
	return []storage.Index{
		{Collection: visitsCollection, Name: "visit_src", Keys: bson.D{{Key: "src", Value: 1}}, Unique: true},
		{Collection: proposalIndexCollection, Name: "proposal_src", Keys: bson.D{{Key: "src", Value: 1}}, Unique: true},
		{Collection: outcomesCollection, Name: "outcome_src", Keys: bson.D{{Key: "src", Value: 1}}, Unique: true},
	}
}

// Notice is a council message to members' inboxes (outcomes of votes).
type Notice struct {
	ID       string   // unique per notice: sending it twice notifies once
	Kind     string   // "outcome_decision", "outcome_progress", "outcome_done"
	Station  string   // station id
	Proposal string   // proposal id
	Title    string   // the proposal's title
	Text     string   // the outcome's text
	Users    []string // who to tell
}

// Notifier delivers notices (the app wires it to the inbox).
type Notifier interface {
	Notify(ctx context.Context, n Notice) error
}

// labels ------------------------------------------------------------------

// CategoryLabels names the feedback categories in both page languages, in
// form order.
func CategoryLabels() []Label {
	return []Label{
		{string(CategoryFacilities), "设施", "Facilities"},
		{string(CategorySafety), "安全", "Safety"},
		{string(CategoryRights), "权益与平台规则", "Rights and platform rules"},
		{string(CategoryServices), "服务", "Services"},
		{string(CategoryOther), "其他", "Other"},
	}
}

// StatusLabels names the feedback statuses in both page languages.
func StatusLabels() []Label {
	return []Label{
		{string(StatusOpen), "待处理", "Open"},
		{string(StatusUnderReview), "审议中", "Under review"},
		{string(StatusAdopted), "已采纳", "Adopted"},
		{string(StatusAnswered), "已答复", "Answered"},
		{string(StatusDeclined), "未采纳", "Declined"},
	}
}

// Visits ------------------------------------------------------------------

// VisitResult is what a check-in answers.
type VisitResult struct {
	Station  string `json:"station_id"`
	Day      string `json:"day"`      // "2006-01-02" in UTC+8
	First    bool   `json:"first"`    // false: the rider had checked in here today already (nothing new counted)
	Visitors int    `json:"visitors"` // distinct riders checked in here today, this one included
}

// DayVisits is one day of a station's visit figures.
type DayVisits struct {
	Day      string `json:"day"`
	Visitors int    `json:"visitors"`
}

// Visits counts check-ins: one per rider, station and day (UTC+8). A day's
// visitors are a numbered chain "<station>/<day>/<n>" whose entries carry
// the rider as their unique source, so a rider counts once however often
// they scan, and the day's figure is the chain's head, found by _id probes.
type Visits struct {
	coll     *mongo.Collection
	stations *Service
	now      func() time.Time
	hints    storage.ChainHints
	past     sync.Map // "<station>/<day>" of a day before today → int (final)
}

// VisitDay names the day of t in UTC+8.
func VisitDay(t time.Time) string { return t.In(Shanghai).Format(time.DateOnly) }

type visitEntry struct {
	ID      string    `bson:"_id"`
	Src     string    `bson:"src"`
	Station string    `bson:"station"`
	Rider   string    `bson:"rider"`
	At      time.Time `bson:"at"`
}

// CheckIn records that rider is at station today. Checking in again the
// same day answers First false and counts nothing. ErrNotFound for an
// unknown station; a closed station still takes check-ins (a rider may be
// there for the council).
func (v *Visits) CheckIn(ctx context.Context, station, rider string) (VisitResult, error) {
	if err := checkID("rider_id", rider); err != nil {
		return VisitResult{}, err
	}
	if _, err := v.stations.Get(ctx, station); err != nil {
		return VisitResult{}, err
	}
	now := v.now().UTC()
	day := VisitDay(now)
	prefix := station + "/" + day
	src := prefix + "/" + rider
	n, err := storage.AppendOnce(ctx, v.coll, &v.hints, prefix, src, func(id string, _ int) any {
		return visitEntry{ID: id, Src: src, Station: station, Rider: rider, At: now.Truncate(time.Millisecond)}
	})
	first := err == nil
	if err != nil && !storage.IsRecorded(err) {
		return VisitResult{}, err
	}
	head, err := storage.ChainHead(ctx, v.coll, prefix, max(n, v.hints.Get(storage.ChainKey(v.coll, prefix))))
	if err != nil {
		return VisitResult{}, err
	}
	return VisitResult{Station: station, Day: day, First: first, Visitors: head}, nil
}

// Figures returns the station's visitors per day for the last days days
// (today included), oldest first. days is 1 to 90 (*ValidationError
// otherwise); ErrNotFound for an unknown station.
func (v *Visits) Figures(ctx context.Context, station string, days int) ([]DayVisits, error) {
	if days < 1 || days > 90 {
		return nil, &ValidationError{Field: "days", Reason: "ask for 1 to 90 days"}
	}
	if _, err := v.stations.Get(ctx, station); err != nil {
		return nil, err
	}
	today := v.now().In(Shanghai)
	out := make([]DayVisits, 0, days)
	for i := days - 1; i >= 0; i-- {
		day := VisitDay(today.AddDate(0, 0, -i))
		prefix := station + "/" + day
		if n, ok := v.past.Load(prefix); ok {
			out = append(out, DayVisits{Day: day, Visitors: n.(int)})
			continue
		}
		n, err := storage.ChainHead(ctx, v.coll, prefix, v.hints.Get(storage.ChainKey(v.coll, prefix)))
		if err != nil {
			return nil, err
		}
		// A day over for more than a minute takes no more check-ins (one
		// that began before midnight has long finished).
		if i > 0 && v.now().Sub(dayEnd(day)) > time.Minute {
			v.past.Store(prefix, n)
		}
		out = append(out, DayVisits{Day: day, Visitors: n})
	}
	return out, nil
}

func dayEnd(day string) time.Time {
	t, _ := time.ParseInLocation(time.DateOnly, day, Shanghai)
	return t.AddDate(0, 0, 1)
}

// Proposals ---------------------------------------------------------------

// OutcomeKind is a kind of outcome entry.
type OutcomeKind string

// Outcome kinds: one decision first, then progress updates, then done (after
// which nothing more is recorded).
const (
	OutcomeDecision OutcomeKind = "decision"
	OutcomeProgress OutcomeKind = "progress"
	OutcomeDone     OutcomeKind = "done"
)

// MaxOutcomeText is the longest outcome text, in characters.
const MaxOutcomeText = 2000

// Outcome is one entry of what a station did after a vote.
type Outcome struct {
	ID       string      `bson:"_id" json:"-"`
	Src      string      `bson:"src" json:"-"`
	Proposal string      `bson:"proposal" json:"-"`
	N        int         `bson:"n" json:"n"`
	Kind     OutcomeKind `bson:"kind" json:"kind"`
	Text     string      `bson:"text" json:"text"`
	By       string      `bson:"by" json:"-"`
	At       time.Time   `bson:"at" json:"at"`
}

// Errors of proposals and outcomes.
var (
	ErrItemHasProposal = errors.New("this feedback item has been adopted into a proposal already")
	ErrPhotoNotFound   = errors.New("no such photo")
)

// Proposals keeps each station's proposals (the votes themselves are in
// vote.Service), their link to the feedback item they came from, and
// their outcomes.
type Proposals struct {
	index, links, outcomes *mongo.Collection

	stations *Service
	members  *Members
	feedback *Feedback
	votes    *vote.Service
	notify   Notifier
	log      *slog.Logger
	now      func() time.Time
	hints    storage.ChainHints
}

type indexEntry struct {
	ID  string    `bson:"_id"`
	Src string    `bson:"src"` // the proposal id
	At  time.Time `bson:"at"`
}

type itemLink struct {
	Item     string    `bson:"_id"`
	Proposal string    `bson:"proposal"`
	Station  string    `bson:"station"`
	At       time.Time `bson:"at"`
}

// backLink names the item a proposal came from; it shares the links
// collection under the _id "p:<proposal>", which no item id can take.
type backLink struct {
	ID   string    `bson:"_id"`
	Item string    `bson:"item"`
	At   time.Time `bson:"at"`
}

// Put creates a draft proposal at d.StationID. fromItem, if set, is the
// feedback item it comes from: the item must be of the same station and not
// answered or declined; it is moved to adopted (which awards its author)
// and linked to the proposal, one proposal per item. Errors: *vote.FieldError,
// ErrFeedbackNotFound, *FeedbackTransitionError, ErrItemHasProposal,
// ErrNotFound (station).
//
// Order of writes, so that a writer stopped anywhere leaves nothing a
// retry cannot finish: the item's link (naming the new id), the station's
// index entry, the proposal, the item's adoption. A retry of the same
// item finds the link and reuses its id; an index entry whose proposal was
// never stored is skipped by List.
func (p *Proposals) Put(ctx context.Context, d vote.Draft, fromItem string) (vote.Proposal, error) {
	if err := vote.Validate(d); err != nil {
		return vote.Proposal{}, err
	}
	if _, err := p.stations.Get(ctx, d.StationID); err != nil {
		return vote.Proposal{}, err
	}
	d.ID = vote.NewID()
	var item Item
	if fromItem != "" {
		it, err := p.feedback.Get(ctx, fromItem)
		if err != nil {
			return vote.Proposal{}, err
		}
		if it.Station != d.StationID {
			return vote.Proposal{}, ErrFeedbackNotFound
		}
		if it.Status == StatusAnswered || it.Status == StatusDeclined {
			return vote.Proposal{}, &FeedbackTransitionError{From: it.Status, To: StatusAdopted}
		}
		item = it
		link := itemLink{Item: it.ID, Proposal: d.ID, Station: d.StationID, At: p.now().UTC().Truncate(time.Millisecond)}
		if _, err := p.links.InsertOne(ctx, link); err != nil {
			if !storage.IsDuplicateKey(err) {
				return vote.Proposal{}, fmt.Errorf("council: link item to proposal: %w", err)
			}
			var there itemLink
			if err := p.links.FindOne(ctx, bson.D{{Key: "_id", Value: it.ID}}).Decode(&there); err != nil {
				return vote.Proposal{}, fmt.Errorf("council: read item link: %w", err)
			}
			if _, err := p.votes.Get(ctx, there.Proposal); err == nil {
				return vote.Proposal{}, ErrItemHasProposal
			} else if !errors.Is(err, vote.ErrNotFound) {
				return vote.Proposal{}, err
			}
			d.ID = there.Proposal // a put that stopped before storing its proposal: finish it
		}
	}
	if fromItem != "" {
		back := backLink{ID: "p:" + d.ID, Item: item.ID, At: p.now().UTC().Truncate(time.Millisecond)}
		if _, err := p.links.InsertOne(ctx, back); err != nil && !storage.IsDuplicateKey(err) {
			return vote.Proposal{}, fmt.Errorf("council: link proposal to item: %w", err)
		}
	}
	if _, err := storage.AppendOnce(ctx, p.index, &p.hints, d.StationID, d.ID, func(id string, _ int) any {
		return indexEntry{ID: id, Src: d.ID, At: p.now().UTC().Truncate(time.Millisecond)}
	}); err != nil && !storage.IsRecorded(err) {
		return vote.Proposal{}, err
	}
	prop, err := p.votes.Create(ctx, d)
	if errors.Is(err, vote.ErrExists) {
		prop, err = p.votes.Get(ctx, d.ID)
	}
	if err != nil {
		return vote.Proposal{}, err
	}
	if fromItem != "" && item.Status != StatusAdopted {
		note := "采纳为提案 / Adopted into a proposal: " + prop.Title
		if item.Status == StatusOpen {
			if _, err := p.feedback.Transition(ctx, item.ID, StatusUnderReview, d.CreatedBy, ""); err != nil && !isTransitionDone(err) {
				return prop, err
			}
		}
		if _, err := p.feedback.Transition(ctx, item.ID, StatusAdopted, d.CreatedBy, note); err != nil && !isTransitionDone(err) {
			return prop, err
		}
	}
	return prop, nil
}

// isTransitionDone reports a transition refused because the item has moved
// on already (a retry, or another admin first): the put still stands.
func isTransitionDone(err error) bool {
	var te *FeedbackTransitionError
	return errors.As(err, &te) && (te.From == StatusUnderReview || te.From == StatusAdopted)
}

// Open opens voting with the roll frozen as the station's members now.
// Errors: those of vote.Service.Open.
func (p *Proposals) Open(ctx context.Context, id string) (vote.Proposal, error) {
	prop, err := p.votes.Get(ctx, id)
	if err != nil {
		return vote.Proposal{}, err
	}
	roll, err := p.members.Members(ctx, prop.StationID)
	if err != nil {
		return vote.Proposal{}, err
	}
	return p.votes.Open(ctx, id, roll)
}

// List returns the station's proposals, newest first, each as Get returns it.
func (p *Proposals) List(ctx context.Context, station string) ([]vote.Proposal, error) {
	head, err := storage.ChainHead(ctx, p.index, station, p.hints.Get(storage.ChainKey(p.index, station)))
	if err != nil {
		return nil, err
	}
	out := []vote.Proposal{}
	for n := head; n >= 1; n-- {
		var e indexEntry
		if err := p.index.FindOne(ctx, bson.D{{Key: "_id", Value: storage.ChainID(station, n)}}).Decode(&e); err != nil {
			return nil, fmt.Errorf("council: read proposal index: %w", err)
		}
		prop, err := p.votes.Get(ctx, e.Src)
		if errors.Is(err, vote.ErrNotFound) {
			continue // its put stopped before storing it
		}
		if err != nil {
			return nil, err
		}
		out = append(out, prop)
	}
	return out, nil
}

// ItemOf returns the feedback item a proposal came from ("" for none).
func (p *Proposals) ItemOf(ctx context.Context, proposalID string) (string, error) {
	var l backLink
	err := p.links.FindOne(ctx, bson.D{{Key: "_id", Value: "p:" + proposalID}}).Decode(&l)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("council: read proposal link: %w", err)
	}
	return l.Item, nil
}

// ForItem returns the proposal an item was adopted into (ok false: none).
func (p *Proposals) ForItem(ctx context.Context, itemID string) (proposalID string, ok bool, err error) {
	var l itemLink
	err = p.links.FindOne(ctx, bson.D{{Key: "_id", Value: itemID}}).Decode(&l)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("council: read item link: %w", err)
	}
	if _, err := p.votes.Get(ctx, l.Proposal); errors.Is(err, vote.ErrNotFound) {
		return "", false, nil
	} else if err != nil {
		return "", false, err
	}
	return l.Proposal, true, nil
}

// Record adds an outcome to a closed proposal and tells the station's
// members in the inbox. The first entry must be the decision; nothing is
// recorded after done. Recording the same kind and text again returns the
// first entry. Errors: vote.ErrNotClosed, vote.ErrNotFound,
// *ValidationError (text 1 to 2000 characters, kind, order).
//
// Each entry is inserted at the position after the entries read, so two
// admins recording at once cannot both follow the same entry: the loser
// reads again and is checked against the winner's entry (no progress after
// done).
func (p *Proposals) Record(ctx context.Context, proposalID, by string, kind OutcomeKind, text string) (Outcome, error) {
	text = strings.TrimSpace(text)
	if kind != OutcomeDecision && kind != OutcomeProgress && kind != OutcomeDone {
		return Outcome{}, &ValidationError{Field: "kind", Reason: "choose decision, progress or done"}
	}
	if n := utf8.RuneCountInString(text); n == 0 || n > MaxOutcomeText {
		return Outcome{}, &ValidationError{Field: "text", Reason: fmt.Sprintf("write 1 to %d characters", MaxOutcomeText)}
	}
	prop, err := p.votes.Get(ctx, proposalID)
	if err != nil {
		return Outcome{}, err
	}
	if prop.State != vote.StateClosed {
		return Outcome{}, vote.ErrNotClosed
	}
	sum := sha256.Sum256([]byte(text))
	src := proposalID + ":" + string(kind) + ":" + hex.EncodeToString(sum[:12])
	for range 100 {
		have, err := p.Outcomes(ctx, proposalID)
		if err != nil {
			return Outcome{}, err
		}
		for _, o := range have {
			if o.Src == src {
				return o, nil
			}
		}
		switch {
		case len(have) == 0 && kind != OutcomeDecision:
			return Outcome{}, &ValidationError{Field: "kind", Reason: "record the decision first"}
		case len(have) > 0 && kind == OutcomeDecision:
			return Outcome{}, &ValidationError{Field: "kind", Reason: "the decision is recorded already; add progress or mark it done"}
		case len(have) > 0 && have[len(have)-1].Kind == OutcomeDone:
			return Outcome{}, &ValidationError{Field: "kind", Reason: "this proposal is done; nothing more is recorded"}
		}
		n := len(have) + 1
		o := Outcome{ID: storage.ChainID(proposalID, n), Src: src, Proposal: proposalID, N: n, Kind: kind, Text: text, By: by,
			At: p.now().UTC().Truncate(time.Millisecond)}
		if _, err := p.outcomes.InsertOne(ctx, o); err != nil {
			if storage.IsDuplicateKey(err) {
				continue // another entry took n, or ours is there: read again
			}
			return Outcome{}, fmt.Errorf("council: record outcome: %w", err)
		}
		p.tell(ctx, prop, o)
		return o, nil
	}
	return Outcome{}, ErrContended
}

// tell sends an outcome to the station's members; a failure is logged (the
// outcome stands and is on the proposal's page).
func (p *Proposals) tell(ctx context.Context, prop vote.Proposal, o Outcome) {
	if p.notify == nil {
		return
	}
	users, err := p.members.Members(ctx, prop.StationID)
	if err == nil {
		err = p.notify.Notify(ctx, Notice{ID: "outcome:" + o.ID, Kind: "outcome_" + string(o.Kind), Station: prop.StationID,
			Proposal: prop.ID, Title: prop.Title, Text: o.Text, Users: users})
	}
	if err != nil {
		p.log.Warn("tell members of an outcome", "proposal", prop.ID, "err", err)
	}
}

// Outcomes returns a proposal's outcomes in order.
func (p *Proposals) Outcomes(ctx context.Context, proposalID string) ([]Outcome, error) {
	out := []Outcome{}
	for n := 1; ; n++ {
		var o Outcome
		err := p.outcomes.FindOne(ctx, bson.D{{Key: "_id", Value: storage.ChainID(proposalID, n)}}).Decode(&o)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("council: read outcomes: %w", err)
		}
		out = append(out, o)
	}
}

// Photos ------------------------------------------------------------------

// MaxPhotoBytes is the largest photo upload (feedback, station photos).
const MaxPhotoBytes = 10 << 20

// photoPrefix starts every council photo's key: Open serves no other key,
// so the council's photo route cannot read a report's photos.
const photoPrefix = "council/"

// Photos stores council photos in the object store with their metadata
// stripped and turned upright (the reports photo pipeline).
type Photos struct {
	blobs *storage.Blobs
	sem   chan struct{} // decoding takes memory: two at a time
}

// Put checks and stores a photo and returns its key. A photo that is not
// an image (or too big) is a *ValidationError{Field: "photo"}.
func (ph *Photos) Put(ctx context.Context, data []byte) (string, error) {
	if len(data) == 0 {
		return "", &ValidationError{Field: "photo", Reason: "the photo is empty"}
	}
	if len(data) > MaxPhotoBytes {
		return "", &ValidationError{Field: "photo", Reason: fmt.Sprintf("send a photo of at most %d MB", MaxPhotoBytes>>20)}
	}
	select {
	case ph.sem <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	pr, err := reports.ProcessPhoto(data)
	<-ph.sem
	if err != nil {
		var pe *reports.PhotoError
		if errors.As(err, &pe) {
			return "", &ValidationError{Field: "photo", Reason: pe.Reason} // it says what to send instead
		}
		return "", err
	}
	ext := ".jpg"
	if pr.ContentType == "image/png" {
		ext = ".png"
	}
	key := photoPrefix + bson.NewObjectID().Hex() + ext
	if err := ph.blobs.Put(ctx, key, bytes.NewReader(pr.Body), int64(len(pr.Body)), pr.ContentType, nil); err != nil {
		return "", fmt.Errorf("council: store photo: %w", err)
	}
	return key, nil
}

// Open returns a stored photo and its content type; ErrPhotoNotFound.
func (ph *Photos) Open(ctx context.Context, key string) (io.ReadCloser, string, error) {
	if !strings.HasPrefix(key, photoPrefix) || strings.Contains(key, "..") || len(key) > 200 {
		return nil, "", ErrPhotoNotFound
	}
	rc, info, err := ph.blobs.Get(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, "", ErrPhotoNotFound
	}
	if err != nil {
		return nil, "", err
	}
	return rc, info.ContentType, nil
}

// Delete removes a photo; a failure is logged by the caller's logger.
func (ph *Photos) Delete(ctx context.Context, key string) error {
	return ph.blobs.Delete(ctx, key)
}

// PostFeedback posts an item with an optional photo (nil: none). A photo
// that is not an image is a *ValidationError{Field: "photo"} and nothing is
// stored; a failed post deletes the photo it stored.
func (h *Hub) PostFeedback(ctx context.Context, in NewItem, photo []byte) (Item, error) {
	if len(photo) == 0 {
		return h.Feedback.Post(ctx, in)
	}
	// Checked before the photo is stored, so that a wrong item stores
	// nothing at all.
	if _, err := in.clean(); err != nil {
		return Item{}, err
	}
	if ok, err := h.Members.IsMember(ctx, in.Station, in.Author); err != nil {
		return Item{}, err
	} else if !ok {
		return Item{}, ErrNotMember
	}
	key, err := h.Photos.Put(ctx, photo)
	if err != nil {
		return Item{}, err
	}
	in.PhotoKey = key
	it, err := h.Feedback.Post(ctx, in)
	if err != nil {
		h.dropPhoto(key)
		return Item{}, err
	}
	return it, nil
}

// dropPhoto deletes a photo whose document was not written, with a context
// of its own: the request's may be what failed.
func (h *Hub) dropPhoto(key string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Photos.Delete(ctx, key); err != nil {
		h.Log.Warn("delete a photo whose post failed", "key", key, "err", err)
	}
}

// AddStationPhoto stores a photo and adds it to the station's photos
// (*ValidationError when the station has the most it may show).
func (h *Hub) AddStationPhoto(ctx context.Context, station string, photo []byte) (Station, error) {
	st, err := h.Stations.Get(ctx, station)
	if err != nil {
		return Station{}, err
	}
	if len(st.Photos) >= maxPhotos {
		return Station{}, &ValidationError{Field: "photos", Reason: fmt.Sprintf("a station shows at most %d photos; remove one first", maxPhotos)}
	}
	key, err := h.Photos.Put(ctx, photo)
	if err != nil {
		return Station{}, err
	}
	photos := append(slices.Clone(st.Photos), key)
	st, err = h.Stations.Update(ctx, station, StationChange{Photos: &photos})
	if err != nil {
		h.dropPhoto(key)
		return Station{}, err
	}
	return st, nil
}

// RemoveStationPhoto removes one of the station's photos (ErrPhotoNotFound
// if it is not one of them).
func (h *Hub) RemoveStationPhoto(ctx context.Context, station, key string) (Station, error) {
	st, err := h.Stations.Get(ctx, station)
	if err != nil {
		return Station{}, err
	}
	if !slices.Contains(st.Photos, key) {
		return Station{}, ErrPhotoNotFound
	}
	photos := slices.DeleteFunc(slices.Clone(st.Photos), func(k string) bool { return k == key })
	st, err = h.Stations.Update(ctx, station, StationChange{Photos: &photos})
	if err != nil {
		return Station{}, err
	}
	h.dropPhoto(key)
	return st, nil
}
