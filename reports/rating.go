package reports

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"
)

// Satisfaction (回访): once a report is resolved, its reporter rates the
// resolution, satisfied (满意), basic (基本满意) or unsatisfied (不满意),
// within RatingWindow of it, once per resolution. An unsatisfied rating
// needs a reason and makes the report Disputed: it goes to the admins, who
// uphold the resolution (ActUphold, with a note to the reporter) or reopen
// the report (ActReopen, which clears the rating, so that the next
// resolution is rated afresh). "Once" is a claim keyed by the report and
// its resolution's time (claims.go): of two ratings racing, one inserts it.
// A report not rated within the window counts as unrated in the figures
// (figures.go), never as satisfied.

// RatingWindow is how long after a resolution its reporter may rate it.
const RatingWindow = 7 * 24 * time.Hour

// ratingDays is RatingWindow in days, for the figures (figures.go).
const ratingDays = 7

// Ratings, from best to worst.
const (
	RatingSatisfied   = "satisfied"
	RatingBasic       = "basic"
	RatingUnsatisfied = "unsatisfied"
)

// Ratings lists the ratings a reporter may give, best first.
var Ratings = []string{RatingSatisfied, RatingBasic, RatingUnsatisfied}

// RateError says why the reporter cannot rate now. It is told with a 409.
type RateError struct {
	// Code is RateNotResolved, RateDone or RateWindowPassed (Until says
	// when the window closed).
	Code  string
	Until time.Time
}

// Codes of RateError.
const (
	RateNotResolved  = "rate.not_resolved"
	RateDone         = "rate.done"
	RateWindowPassed = "rate.window_passed"
)

func (e *RateError) Error() string {
	switch e.Code {
	case RateNotResolved:
		return "only a resolved report can be rated; you can rate it once the officer marks it resolved"
	case RateDone:
		return "you rated this resolution already; if the report is reopened and resolved again, you can rate that"
	}
	return "评价期（解决后 7 天）已过: the rating period (7 days after the resolution) ended " +
		e.Until.In(beijing).Format("2006-01-02 15:04") + " (Beijing time)"
}

// RatingInput is the reporter's rating.
type RatingInput struct {
	Rating  string // one of Ratings
	Comment string // optional, ≤ MaxNote characters; required for unsatisfied
}

// reasonRequired is the refusal of an unsatisfied rating without a reason.
const reasonRequired = "say what is still wrong (1 to 500 characters), so that an administrator can decide"

// checkRating validates a rating; the comment comes back cleaned.
func checkRating(in *RatingInput) error {
	if !slices.Contains(Ratings, in.Rating) {
		return &ValidationError{Field: "rating", Reason: "choose satisfied (满意), basic (基本满意) or unsatisfied (不满意)"}
	}
	c, err := cleanText("comment", in.Comment, MaxNote)
	if err != nil {
		return err
	}
	in.Comment = c
	if in.Rating == RatingUnsatisfied && c == "" {
		return &ValidationError{Field: "comment", Reason: reasonRequired}
	}
	return nil
}

// RateState says whether r's reporter may rate it now: nil, or the
// RateError they would get. A rating already made is known from r.Rating
// (a claim being written right now only to Rate).
func RateState(r Report, now time.Time) *RateError {
	switch {
	case r.Status != StatusResolved || r.ResolvedAt.IsZero():
		return &RateError{Code: RateNotResolved}
	case r.Rating != "":
		return &RateError{Code: RateDone}
	case now.After(r.ResolvedAt.Add(RatingWindow)):
		return &RateError{Code: RateWindowPassed, Until: r.ResolvedAt.Add(RatingWindow)}
	}
	return nil
}

// rateKey names one resolution of one report.
func rateKey(r Report) string {
	return "rate:" + r.ID + ":" + strconv.FormatInt(r.ResolvedAt.UnixMilli(), 10)
}

// Rate records the reporter's rating of their resolved report (by id or
// ticket number), once per resolution, within RatingWindow. Errors:
// *ValidationError (a rating that is not one of Ratings, an unsatisfied
// rating without a reason), ErrNotFound (also when the report is not the
// reporter's), *RateError, ErrUnavailable. Nothing is written on an error.
func (s *Service) Rate(ctx context.Context, reporterID, id string, in RatingInput) (Entry, error) {
	if err := checkRating(&in); err != nil {
		return Entry{}, err
	}
	r, err := s.Get(ctx, id)
	if err != nil {
		return Entry{}, err
	}
	if r.ReporterID == "" || r.ReporterID != reporterID {
		return Entry{}, ErrNotFound
	}
	if rerr := RateState(r, s.now()); rerr != nil {
		return Entry{}, rerr
	}
	key := rateKey(r)
	switch err := s.claimFirst(ctx, claim{ID: key, ReportID: r.ID, At: s.now()}); {
	case errors.Is(err, errClaimed):
		return Entry{}, &RateError{Code: RateDone}
	case err != nil:
		return Entry{}, err
	}
	_, e, err := s.transitionEntry(ctx, r.ID, Actor{ID: reporterID, Role: RoleRider}, ActRate, func(cur Report, st *State) error {
		// The report may have moved on since it was read (reopened,
		// resolved again): the rating is for the resolution it was
		// claimed for, and only while that one stands.
		if rerr := RateState(cur, st.UpdatedAt); rerr != nil {
			return rerr
		}
		if rateKey(cur) != key {
			return &RateError{Code: RateDone}
		}
		st.Rating, st.RatedAt, st.Disputed = in.Rating, st.UpdatedAt, in.Rating == RatingUnsatisfied
		return nil
	}, Entry{Reason: in.Rating, Note: in.Comment, Key: key})
	if err != nil {
		s.dropClaim(ctx, key)
		return Entry{}, err
	}
	s.settleClaim(ctx, key, e.Seq)
	return e, nil
}

// asRateError finds a rating's refusal in err.
func asRateError(err error) (*RateError, bool) {
	var re *RateError
	ok := errors.As(err, &re)
	return re, ok
}

// Uphold is an admin's decision that a disputed resolution stands: the
// report stays resolved, no longer disputed, and the note goes to the
// reporter. It is Act with ActUphold; the caller checks PermDispute first.
func (s *Service) Uphold(ctx context.Context, admin Actor, id, note string) (Report, error) {
	return s.Act(ctx, admin, id, ActionInput{Action: ActUphold, Note: note})
}

// ratingComment is the reporter's comment on r's current rating: the entry
// its claim names, read by _id (else found in the timeline, also by _id).
func (s *Service) ratingComment(ctx context.Context, r Report) (string, error) {
	key := rateKey(r)
	if c, err := s.loadClaim(ctx, key); err == nil && c.Seq > 0 {
		if e, err := s.store.entry(ctx, entryID(r.ID, c.Seq)); err == nil {
			return e.Note, nil
		}
	}
	e, err := s.findClaimed(ctx, r.ID, key)
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	return e.Note, err
}
