package reports

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nuanxin/nuanxin/storage"
)

// claimsCollection holds one document per "only once" rule of a reporter's
// own entries: a message's Idempotency-Key, an urge per deadline. The
// timeline's unique (report, seq) decides who writes the next entry, not
// whether an entry of this kind was written already; the claim's unique _id
// does (DESIGN.md: unique inserts are the one atomic thing on both stores).
// Read by _id only.
const claimsCollection = "report_claims"

// claim is a unique rule being, or having been, fulfilled: the entry it
// stands for is written after it, and Seq names that entry once written.
type claim struct {
	ID       string    `bson:"_id"`
	ReportID string    `bson:"report_id"`
	Hash     string    `bson:"hash,omitempty"` // a message: what was sent under the key
	Keys     []string  `bson:"keys,omitempty"` // objects stored for the entry, removed if it is abandoned
	Seq      int       `bson:"seq"`            // the entry written; 0 while its writer is at work
	At       time.Time `bson:"at"`
}

func (s *Service) claims() *mongo.Collection {
	return s.store.reports.Database().Collection(claimsCollection)
}

// insertClaim claims c.ID; errDuplicate when someone claimed it first.
func (s *Service) insertClaim(ctx context.Context, c claim) error {
	_, err := s.claims().InsertOne(ctx, c)
	if storage.IsDuplicateKey(err) {
		return errDuplicate
	}
	if err != nil {
		return fmt.Errorf("%w: store claim: %w", ErrUnavailable, err)
	}
	return nil
}

func (s *Service) loadClaim(ctx context.Context, id string) (claim, error) {
	var c claim
	err := s.claims().FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&c)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return claim{}, ErrNotFound
	}
	if err != nil {
		return claim{}, fmt.Errorf("%w: load claim: %w", ErrUnavailable, err)
	}
	return c, nil
}

// settleClaim records the entry a claim stood for. Only the claim's owner
// writes it, so the update needs no atomicity; a failure leaves Seq 0, and
// findClaimed finds the entry in the timeline instead.
func (s *Service) settleClaim(ctx context.Context, id string, seq int) {
	_, err := s.claims().UpdateOne(context.WithoutCancel(ctx), bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "seq", Value: seq}}}})
	if err != nil {
		s.log.Warn("record a claim's entry; the timeline still has it", "claim", id, "err", err)
	}
}

// dropClaim removes a claim whose entry was not written, so that a retry
// may claim it again. It reports whether this caller removed it: DeleteOne's
// count goes to exactly one of several callers (DESIGN.md).
func (s *Service) dropClaim(ctx context.Context, id string) bool {
	res, err := s.claims().DeleteOne(context.WithoutCancel(ctx), bson.D{{Key: "_id", Value: id}})
	if err != nil {
		s.log.Warn("remove an unfulfilled claim; a retry after a few seconds takes it over", "claim", id, "err", err)
		return false
	}
	return res.DeletedCount == 1
}

// findClaimed looks in the report's timeline for the entry written under
// the claim key; ErrNotFound if there is none. Timelines are read by _id.
func (s *Service) findClaimed(ctx context.Context, reportID, key string) (Entry, error) {
	es, err := s.store.entries(ctx, reportID, 0)
	if err != nil {
		return Entry{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	for _, e := range es {
		if e.Key == key {
			return e, nil
		}
	}
	return Entry{}, ErrNotFound
}

// claimState is what a second claimant learns of a claim held by another.
type claimState int

const (
	claimDone      claimState = iota // its entry is written: Entry
	claimBusy                        // its writer is at work, within settle
	claimAbandoned                   // its writer stopped: the claim was removed by this caller, claim again
	claimGone                        // the claim vanished (its writer failed and removed it): claim again
)

// errClaimed: claimFirst found the claim taken, by a request that wrote
// its entry or is writing it now.
var errClaimed = errors.New("claimed already")

// claimFirst inserts c, the claim of a once-only entry (an urge, a rating,
// a confirmation). A claim left by a writer that failed or stopped is
// taken over once; a claim that is done or being done answers errClaimed,
// which each caller tells in its own words.
func (s *Service) claimFirst(ctx context.Context, c claim) error {
	for attempt := 0; ; attempt++ {
		err := s.insertClaim(ctx, c)
		if !errors.Is(err, errDuplicate) {
			return err
		}
		_, state, _, err := s.inspectClaim(ctx, c.ReportID, c.ID)
		if err != nil {
			return err
		}
		if (state != claimGone && state != claimAbandoned) || attempt > 0 {
			return errClaimed
		}
	}
}

// inspectClaim says where the claim id stands, for a caller whose insert of
// it collided. A claim whose entry is in the timeline is done whatever its
// Seq says; one older than settle without an entry was left by a writer
// that stopped between the claim and the entry: its objects are removed and
// the claim dropped, by one caller only.
func (s *Service) inspectClaim(ctx context.Context, reportID, id string) (claim, claimState, Entry, error) {
	c, err := s.loadClaim(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return claim{}, claimGone, Entry{}, nil
	}
	if err != nil {
		return claim{}, 0, Entry{}, err
	}
	if c.Seq > 0 {
		e, err := s.store.entry(ctx, entryID(reportID, c.Seq))
		if err != nil {
			return c, 0, Entry{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return c, claimDone, e, nil
	}
	e, err := s.findClaimed(ctx, reportID, id)
	switch {
	case err == nil:
		return c, claimDone, e, nil
	case !errors.Is(err, ErrNotFound):
		return c, 0, Entry{}, err
	case c.At.After(s.now().Add(-settle)):
		return c, claimBusy, Entry{}, nil
	}
	if s.dropClaim(ctx, id) {
		s.removeObjects(ctx, c.Keys)
	}
	return c, claimAbandoned, Entry{}, nil
}
