package vote

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nuanxin/nuanxin/storage"
)

// Secret ballots.
//
// The roll ("this member has voted") and the ballots (choice and receipt)
// are kept in separate collections with nothing that links them:
//
//   - vote_<id>_roll: {_id: member, voted: true}. Nothing else once the
//     vote is in.
//   - vote_<id>_ballots: {_id: <random slot id>, choice, receipt}. No
//     member, no time, no sequence number.
//   - vote_<id>_free: {_id: <slot id>} for each slot not yet taken.
//
// Order. Both MongoDB and the embedded store return documents in insertion
// order when no sort is asked for, so a ballot inserted at the moment of
// its vote would sit at the same rank as its voter's roll entry: the two
// lists read side by side would link them. So ballots are never inserted
// at voting time. Open inserts one blank slot per member on the roll (plus
// spares), all at once, with random ids; a vote claims a random free slot
// and fills it in place with an update, which leaves the slot where it was
// made. The ballots' natural order is then the order the blank slots were
// made in, which says nothing of who voted when, and the ids are random
// too. Cast order is recorded nowhere: no times on ballots, no counters.
// (What the stores keep outside the collections, such as a MongoDB
// replica set's oplog, does record write times; operators who can read it
// could match writes by time. That is outside what this package controls.)
//
// Exactly once, and crash safety. A vote goes:
//
//  1. claim a free slot: DeleteOne of its free token; exactly one caller
//     sees a deleted count of 1 (DESIGN.md: the one delete that is safe),
//  2. insert the roll entry {_id: member, pending: slot, since}: the unique
//     _id makes this the one vote of the member; a duplicate puts the slot
//     back and reads the entry that won,
//  3. fill the slot with the choice and a new receipt,
//  4. replace the roll entry with {_id: member, voted: true}, dropping the
//     link to the slot.
//
// A crash before 2 loses only a spare slot (spares cover that). A crash
// after 2 leaves a pending entry: the member cannot vote twice (the entry
// exists), and the vote is not lost silently: the member's next Cast
// finishes it (after pendingGrace, so as not to race a vote still in
// flight on another instance), returning the same receipt if the slot was
// already filled with the same choice; at close, the tally counts a filled
// slot and scrubs every pending link. The link between a member and a slot
// exists only while a vote is in flight (or crashed, until retried or
// closed).
//
// A secret vote is final and its receipt is shown once: after step 4
// nothing in storage says which ballot is the member's, so a later Cast,
// even of the same choice, answers ErrFinal.

// pendingGrace is how old a pending roll entry must be before another
// request takes it for a crashed vote and finishes it.
const pendingGrace = time.Minute

// spareSlots is how many slots beyond the roll Open makes, to cover slots
// lost to crashes between claiming and voting.
func spareSlots(roll int) int { return 16 + roll/20 }

type rollEntry struct {
	ID      string    `bson:"_id"`
	Voted   bool      `bson:"voted,omitempty"`
	Pending string    `bson:"pending,omitempty"`
	Since   time.Time `bson:"since,omitzero"`
}

type slot struct {
	ID      string   `bson:"_id"`
	Choice  []string `bson:"choice,omitempty"`
	Receipt string   `bson:"receipt,omitempty"`
}

func (s *Service) roll(id string) *mongo.Collection { return s.db.Collection("vote_" + id + "_roll") }
func (s *Service) free(id string) *mongo.Collection { return s.db.Collection("vote_" + id + "_free") }

// makeSlots makes the blank ballots and their free tokens of an opening,
// before its open record is inserted.
func (s *Service) makeSlots(ctx context.Context, rec *openRecord) error {
	rec.Gen = newID()[:12]
	n := len(rec.Roll) + spareSlots(len(rec.Roll))
	rec.Slots = make([]string, n)
	blanks, tokens := make([]any, n), make([]any, n)
	for i := range rec.Slots {
		rec.Slots[i] = rec.Gen + "." + newID()
		blanks[i] = slot{ID: rec.Slots[i]}
		tokens[i] = bson.D{{Key: "_id", Value: rec.Slots[i]}}
	}
	for i := 0; i < n; i += 1000 {
		j := min(i+1000, n)
		if _, err := s.ballots(rec.ID).InsertMany(ctx, blanks[i:j]); err != nil {
			return fmt.Errorf("make ballot slots: %w", err)
		}
		if _, err := s.free(rec.ID).InsertMany(ctx, tokens[i:j]); err != nil {
			return fmt.Errorf("make ballot slots: %w", err)
		}
	}
	return nil
}

// dropSlots removes the slots of an Open that lost the race; they were
// never named by an open record, so nothing used them.
func (s *Service) dropSlots(ctx context.Context, rec *openRecord) {
	for i := 0; i < len(rec.Slots); i += 1000 {
		ids := rec.Slots[i:min(i+1000, len(rec.Slots))]
		f := bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}
		if _, err := s.ballots(rec.ID).DeleteMany(ctx, f); err != nil {
			s.log.Warn("vote: drop unused ballot slots", "proposal", rec.ID, "err", err)
			return
		}
		_, _ = s.free(rec.ID).DeleteMany(ctx, f)
	}
}

// slotPool is this instance's shuffled list of slots it has not seen
// taken. Instances draw from their own shuffles; the free token's delete
// decides between them.
type slotPool struct {
	mu   sync.Mutex
	left []string
}

func (s *Service) pool(rec *openRecord) *slotPool {
	if p, ok := s.slots.Load(rec.ID); ok {
		return p.(*slotPool)
	}
	left := slices.Clone(rec.Slots)
	rand.Shuffle(len(left), func(i, j int) { left[i], left[j] = left[j], left[i] })
	p, _ := s.slots.LoadOrStore(rec.ID, &slotPool{left: left})
	return p.(*slotPool)
}

// claimSlot takes a free slot for one vote.
func (s *Service) claimSlot(ctx context.Context, rec *openRecord) (string, error) {
	p := s.pool(rec)
	for {
		p.mu.Lock()
		if len(p.left) == 0 {
			p.mu.Unlock()
			return "", fmt.Errorf("proposal %s has no free ballot slot left", rec.ID)
		}
		id := p.left[len(p.left)-1]
		p.left = p.left[:len(p.left)-1]
		p.mu.Unlock()
		res, err := s.free(rec.ID).DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
		if err != nil {
			return "", fmt.Errorf("claim a ballot slot: %w", err)
		}
		if res.DeletedCount == 1 {
			return id, nil
		}
	}
}

// releaseSlot puts back a slot this call claimed but did not use.
func (s *Service) releaseSlot(ctx context.Context, rec *openRecord, id string) {
	if _, err := s.free(rec.ID).InsertOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
		s.log.Warn("vote: put back a ballot slot", "proposal", rec.ID, "err", err)
		return
	}
	p := s.pool(rec)
	p.mu.Lock()
	p.left = append(p.left, id)
	p.mu.Unlock()
}

func (s *Service) castSecret(ctx context.Context, rec *openRecord, member string, choice []string) (Receipt, error) {
	roll := s.roll(rec.ID)
	for range 5 {
		var re rollEntry
		err := roll.FindOne(ctx, bson.D{{Key: "_id", Value: member}}).Decode(&re)
		switch {
		case err == nil && re.Pending == "":
			return Receipt{}, ErrFinal
		case err == nil:
			if s.now().Sub(re.Since) < pendingGrace {
				return Receipt{}, ErrBusy
			}
			return s.finish(ctx, rec, member, re.Pending, choice)
		case !errors.Is(err, mongo.ErrNoDocuments):
			return Receipt{}, fmt.Errorf("read the voter roll: %w", err)
		}
		id, err := s.claimSlot(ctx, rec)
		if err != nil {
			return Receipt{}, err
		}
		err = s.inserter(roll).Do(ctx, rollEntry{ID: member, Pending: id, Since: s.now().UTC().Truncate(time.Millisecond)})
		if storage.IsDuplicateKey(err) {
			s.releaseSlot(ctx, rec, id)
			continue
		}
		if err != nil {
			// Unknown whether the entry is in: keep the slot claimed. If
			// the entry is in, the member's retry finishes the vote.
			return Receipt{}, fmt.Errorf("record the vote on the roll: %w", err)
		}
		return s.finish(ctx, rec, member, id, choice)
	}
	return Receipt{}, ErrBusy
}

// finish fills the member's slot (unless filled already) and drops the
// link from the roll entry. Only the holder of the roll entry writes the
// slot, so the update has one writer.
func (s *Service) finish(ctx context.Context, rec *openRecord, member, slotID string, choice []string) (Receipt, error) {
	var sl slot
	if err := s.ballots(rec.ID).FindOne(ctx, bson.D{{Key: "_id", Value: slotID}}).Decode(&sl); err != nil {
		return Receipt{}, fmt.Errorf("read the ballot slot: %w", err)
	}
	r := Receipt{ProposalID: rec.ID, Choice: choice, Closes: rec.Proposal.Closes}
	var final error
	if sl.Receipt != "" {
		if !slices.Equal(sl.Choice, choice) {
			final = ErrFinal
		}
		r.Code, r.Replayed = sl.Receipt, true
	} else {
		r.Code = newReceipt()
		_, err := s.ballots(rec.ID).UpdateOne(ctx, bson.D{{Key: "_id", Value: slotID}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "choice", Value: choice}, {Key: "receipt", Value: r.Code}}}})
		if err != nil {
			return Receipt{}, fmt.Errorf("store the ballot: %w", err)
		}
	}
	if _, err := s.roll(rec.ID).ReplaceOne(ctx, bson.D{{Key: "_id", Value: member}}, bson.D{{Key: "_id", Value: member}, {Key: "voted", Value: true}}); err != nil {
		// The ballot is in and counts; the link is scrubbed at close.
		s.log.Warn("vote: clear the roll entry's link", "proposal", rec.ID, "err", err)
	}
	if final != nil {
		return Receipt{}, final
	}
	return r, nil
}

// scrubRoll drops every link a crashed vote left on the roll. It runs
// before the tally, once no vote can land.
func (s *Service) scrubRoll(ctx context.Context, id string) error {
	cur, err := s.roll(id).Find(ctx, bson.D{{Key: "pending", Value: bson.D{{Key: "$exists", Value: true}}}})
	if err != nil {
		return fmt.Errorf("read the voter roll: %w", err)
	}
	var pending []rollEntry
	if err := cur.All(ctx, &pending); err != nil {
		return fmt.Errorf("read the voter roll: %w", err)
	}
	for _, re := range pending {
		var sl slot
		err := s.ballots(id).FindOne(ctx, bson.D{{Key: "_id", Value: re.Pending}}).Decode(&sl)
		if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
			return fmt.Errorf("read the ballot slot: %w", err)
		}
		if _, err := s.roll(id).ReplaceOne(ctx, bson.D{{Key: "_id", Value: re.ID}}, bson.D{{Key: "_id", Value: re.ID}, {Key: "voted", Value: sl.Receipt != ""}}); err != nil {
			return fmt.Errorf("scrub the voter roll: %w", err)
		}
	}
	return nil
}

// secretBallots reads the filled slots of the winning opening.
func (s *Service) secretBallots(ctx context.Context, rec *openRecord) ([]slot, error) {
	cur, err := s.ballots(rec.ID).Find(ctx, bson.D{}, options.Find().SetBatchSize(1000))
	if err != nil {
		return nil, fmt.Errorf("read ballots: %w", err)
	}
	defer cur.Close(ctx)
	var out []slot
	prefix := rec.Gen + "."
	for cur.Next(ctx) {
		var sl slot
		if err := cur.Decode(&sl); err != nil {
			return nil, fmt.Errorf("read ballots: %w", err)
		}
		if sl.Receipt != "" && len(sl.ID) > len(prefix) && sl.ID[:len(prefix)] == prefix {
			out = append(out, sl)
		}
	}
	return out, cur.Err()
}
