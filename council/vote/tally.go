package vote

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nuanxin/nuanxin/storage"
)

// OptionCount is the number of ballots that chose an option.
type OptionCount struct {
	Option string `bson:"option" json:"option"`
	Votes  int    `bson:"votes" json:"votes"`
}

// PublishedReceipt is one line of the list published after close, so that
// every voter can find their receipt and check the choice counted.
type PublishedReceipt struct {
	Code   string   `bson:"code" json:"code"`
	Choice []string `bson:"choice" json:"choice"`
}

// Tally is a proposal's result, computed once after close and frozen.
//
// Passed: the quorum is met and the leading choice's share of the votes
// cast is above PassPct (or 100 % when PassPct is 100). On a YesNoAbstain
// ballot the leading choice is "yes" and the votes cast are yes + no
// (abstentions count for turnout only); on OneOf and Approval it is the
// option with the most votes, if no other ties it, over the ballots cast.
type Tally struct {
	ProposalID string             `bson:"_id" json:"proposal_id"`
	Counts     []OptionCount      `bson:"counts" json:"counts"` // in ballot order
	Ballots    int                `bson:"ballots" json:"ballots"`
	Roll       int                `bson:"roll" json:"roll"`
	TurnoutPct float64            `bson:"turnout_pct" json:"turnout_pct"`
	QuorumMet  bool               `bson:"quorum_met" json:"quorum_met"`
	Passed     bool               `bson:"passed" json:"passed"`
	Winner     string             `bson:"winner,omitempty" json:"winner,omitempty"`
	SharePct   float64            `bson:"share_pct" json:"share_pct"` // the leading choice's share
	ClosedAt   time.Time          `bson:"closed_at" json:"closed_at"`
	CountedAt  time.Time          `bson:"counted_at" json:"counted_at"`
	Receipts   []PublishedReceipt `bson:"receipts" json:"receipts"` // sorted by code
}

// Results returns the frozen tally of a closed proposal, with its published
// receipts. ErrNotClosed before close (results stay hidden until then),
// ErrNotFound.
func (s *Service) Results(ctx context.Context, id string) (Tally, error) {
	p, err := s.Get(ctx, id)
	if err != nil {
		return Tally{}, err
	}
	if p.Tally == nil {
		return Tally{}, ErrNotClosed
	}
	return *p.Tally, nil
}

// tally returns the frozen tally, computing and freezing it if this is the
// first read after close. Two instances computing at once insert under one
// _id: one wins, the other reads the winner's.
func (s *Service) tally(ctx context.Context, rec *openRecord) (Tally, error) {
	var t Tally
	err := s.tallies.FindOne(ctx, bson.D{{Key: "_id", Value: rec.ID}}).Decode(&t)
	if err == nil {
		return t, nil
	}
	if !errors.Is(err, mongo.ErrNoDocuments) {
		return Tally{}, fmt.Errorf("read tally: %w", err)
	}
	t, err = s.count(ctx, rec)
	if err != nil {
		return Tally{}, err
	}
	_, err = s.tallies.InsertOne(ctx, t)
	if storage.IsDuplicateKey(err) {
		var won Tally
		if err := s.tallies.FindOne(ctx, bson.D{{Key: "_id", Value: rec.ID}}).Decode(&won); err != nil {
			return Tally{}, fmt.Errorf("read tally: %w", err)
		}
		return won, nil
	}
	if err != nil {
		return Tally{}, fmt.Errorf("freeze tally: %w", err)
	}
	p := rec.Proposal
	p.OpenedAt, p.RollSize, p.State, p.Tally = rec.OpenedAt, len(rec.Roll), StateClosed, &t
	s.send(ctx, Notice{Kind: NoticeResult, Proposal: p, Roll: rec.Roll, Tally: &t})
	return t, nil
}

// count reads the proposal's ballots (its own collection, in one pass) and
// computes the result.
func (s *Service) count(ctx context.Context, rec *openRecord) (Tally, error) {
	var ballots []PublishedReceipt
	if rec.Proposal.Secret {
		if err := s.scrubRoll(ctx, rec.ID); err != nil {
			return Tally{}, err
		}
		slots, err := s.secretBallots(ctx, rec)
		if err != nil {
			return Tally{}, err
		}
		for _, sl := range slots {
			ballots = append(ballots, PublishedReceipt{Code: sl.Receipt, Choice: sl.Choice})
		}
	} else {
		cur, err := s.ballots(rec.ID).Find(ctx, bson.D{}, options.Find().SetBatchSize(1000))
		if err != nil {
			return Tally{}, fmt.Errorf("read ballots: %w", err)
		}
		last := map[string]openBallot{}
		for cur.Next(ctx) {
			var b openBallot
			if err := cur.Decode(&b); err != nil {
				cur.Close(ctx)
				return Tally{}, fmt.Errorf("read ballots: %w", err)
			}
			if rec.onRoll[b.Member] && b.Seq > last[b.Member].Seq {
				last[b.Member] = b
			}
		}
		err = cur.Err()
		cur.Close(ctx)
		if err != nil {
			return Tally{}, fmt.Errorf("read ballots: %w", err)
		}
		for _, b := range last {
			ballots = append(ballots, PublishedReceipt{Code: b.Receipt, Choice: b.Choice})
		}
	}
	return compute(&rec.Proposal, len(rec.Roll), ballots, s.now()), nil
}

// compute is the tally's arithmetic, apart from storage.
func compute(p *Proposal, roll int, ballots []PublishedReceipt, now time.Time) Tally {
	labels := p.Choices()
	votes := make(map[string]int, len(labels))
	for _, b := range ballots {
		for _, c := range b.Choice {
			votes[c]++
		}
	}
	t := Tally{ProposalID: p.ID, Ballots: len(ballots), Roll: roll, ClosedAt: p.Closes,
		CountedAt: now.UTC().Truncate(time.Millisecond), Receipts: ballots}
	for _, l := range labels {
		t.Counts = append(t.Counts, OptionCount{Option: l, Votes: votes[l]})
	}
	if t.Receipts == nil {
		t.Receipts = []PublishedReceipt{}
	}
	slices.SortFunc(t.Receipts, func(a, b PublishedReceipt) int { return strings.Compare(a.Code, b.Code) })
	if roll > 0 {
		t.TurnoutPct = 100 * float64(t.Ballots) / float64(roll)
	}
	t.QuorumMet = roll > 0 && t.TurnoutPct >= p.QuorumPct
	var lead string
	var leadVotes, cast int
	if p.Kind == YesNoAbstain {
		lead, leadVotes, cast = Yes, votes[Yes], votes[Yes]+votes[No]
	} else {
		cast = t.Ballots
		tie := false
		for _, l := range labels {
			switch {
			case votes[l] > leadVotes:
				lead, leadVotes, tie = l, votes[l], false
			case votes[l] == leadVotes:
				tie = true
			}
		}
		if tie {
			lead = ""
		}
	}
	if cast > 0 {
		t.SharePct = 100 * float64(leadVotes) / float64(cast)
	}
	t.Passed = t.QuorumMet && lead != "" && cast > 0 && (t.SharePct > p.PassPct || leadVotes == cast)
	if t.Passed {
		t.Winner = lead
	}
	return t
}
