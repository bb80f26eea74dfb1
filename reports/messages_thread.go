package reports

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nuanxin/nuanxin/storage"
)

// Messages on a report (补充材料): the cell's officer, or an admin, asks the
// reporter for more (ActAskMore, an action taken through Act with a
// required note), and the reporter answers, or adds something unasked,
// with a message: text and up to three photos, through the photo pipeline
// of a submission. Both are timeline entries, so both sides read the thread
// on the report's page and the inbox tells the other side. Neither side is
// shown who the other is: the pages name the roles only (ActorLabel).

// MaxMessage is the longest message or request, in characters.
const MaxMessage = MaxNote

// MessageInput is what a reporter sends.
type MessageInput struct {
	Key    string // Idempotency-Key: a retry with the same key writes nothing new
	Text   string // 1 to MaxMessage characters
	Photos [][]byte
}

// msgWait bounds how long a retry waits for the first copy of the same
// message, still being written, before it answers with it.
const msgWait = 2 * settle

// Message adds the reporter's message to their open report, given by id or
// ticket number. A retry with the same key and content returns the first
// message's entry (created false); the same key with other content is
// ErrIdempotencyKey. Errors: ErrNotFound (also when the report is not the
// reporter's), *ValidationError, *PhotoError, *TransitionError (the report
// is closed), ErrIdempotencyKey, ErrUnavailable. A refused or failed message
// leaves no entry and no stored photo.
func (s *Service) Message(ctx context.Context, reporterID, id string, in MessageInput) (Entry, bool, error) {
	key := strings.TrimSpace(in.Key)
	if key == "" || len(key) > MaxIdempotencyKey || strings.ContainsFunc(key, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		return Entry{}, false, &ValidationError{Field: "Idempotency-Key", Reason: fmt.Sprintf("send a unique key of 1 to %d visible ASCII characters with each new message, and the same key when retrying it", MaxIdempotencyKey)}
	}
	text, err := cleanText("text", in.Text, MaxMessage)
	if err != nil {
		return Entry{}, false, err
	}
	if text == "" {
		return Entry{}, false, &ValidationError{Field: "text", Reason: fmt.Sprintf("write the message: 1 to %d characters", MaxMessage)}
	}
	if n := len(in.Photos); n > MaxPhotos {
		return Entry{}, false, &ValidationError{Field: "photos", Reason: fmt.Sprintf("attach at most %d photos to a message (got %d)", MaxPhotos, n)}
	}
	r, err := s.Get(ctx, id)
	if err != nil {
		return Entry{}, false, err
	}
	if r.ReporterID == "" || r.ReporterID != reporterID {
		return Entry{}, false, ErrNotFound
	}
	if !r.Status.Open() {
		return Entry{}, false, &TransitionError{Action: ActMessage, Status: r.Status}
	}
	processed := make([]Processed, len(in.Photos))
	for i, raw := range in.Photos {
		p, err := s.processPhoto(ctx, raw)
		if err != nil {
			return Entry{}, false, fmt.Errorf("photo %d: %w", i+1, err)
		}
		processed[i] = p
	}

	h := sha256.New()
	fmt.Fprintf(h, "%s\x00", text)
	for _, p := range in.Photos {
		sum := sha256.Sum256(p)
		h.Write(sum[:])
	}
	hash := hex.EncodeToString(h.Sum(nil))
	ks := sha256.Sum256([]byte(reporterID + "\x00" + key))
	claimID := "message:" + r.ID + ":" + hex.EncodeToString(ks[:12])

	nonce := randomHex(6)
	photos := make([]Photo, len(processed))
	var keys []string
	for i, p := range processed {
		photos[i] = photoFor(fmt.Sprintf("%s%s/m-%s-%d", photoPrefix, r.ID, nonce, i+1), p)
		keys = append(keys, photos[i].Key, photos[i].ThumbKey)
	}
	c := claim{ID: claimID, ReportID: r.ID, Hash: hash, Keys: keys, At: s.now()}
	deadline := time.Now().Add(msgWait)
	for {
		err := s.insertClaim(ctx, c)
		if err == nil {
			break
		}
		if !errors.Is(err, errDuplicate) {
			return Entry{}, false, err
		}
		held, state, e, err := s.inspectClaim(ctx, r.ID, claimID)
		if err != nil {
			return Entry{}, false, err
		}
		if state != claimGone && state != claimAbandoned && held.Hash != hash {
			return Entry{}, false, &messageKeyError{}
		}
		switch state {
		case claimDone:
			return e, false, nil
		case claimBusy:
			// The first copy is being written: answer with it once it is.
			if time.Now().After(deadline) {
				return Entry{}, false, fmt.Errorf("%w: the first copy of this message is still being saved", ErrUnavailable)
			}
			select {
			case <-ctx.Done():
				return Entry{}, false, fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
		c.At = s.now()
	}

	// From here the claim is this call's: a failure removes what it stored
	// and the claim, so that the rider's retry starts afresh.
	fail := func(err error) (Entry, bool, error) {
		s.removeObjects(ctx, keys)
		s.dropClaim(ctx, claimID)
		return Entry{}, false, err
	}
	for i, p := range processed {
		if err := s.putPhoto(ctx, photos[i], p); err != nil {
			return fail(fmt.Errorf("%w: %w", ErrUnavailable, err))
		}
	}
	s.at("message_photos")
	_, e, err := s.transitionEntry(ctx, r.ID, Actor{ID: reporterID, Role: RoleRider}, ActMessage, func(cur Report, _ *State) error {
		if !cur.Status.Open() {
			return &TransitionError{Action: ActMessage, Status: cur.Status}
		}
		return nil
	}, Entry{Note: text, Photos: photos, Key: claimID})
	if err != nil {
		return fail(err)
	}
	s.settleClaim(ctx, claimID, e.Seq)
	return e, true, nil
}

// messageKeyError is ErrIdempotencyKey for a message, in its own words.
type messageKeyError struct{}

func (*messageKeyError) Error() string {
	return "this Idempotency-Key was used for a different message; generate a new key for a new message"
}

func (*messageKeyError) Is(target error) bool { return target == ErrIdempotencyKey }

// MessagePhoto opens photo n (1-based) of the message at timeline entry seq
// of r, or its thumbnail. Errors: ErrNotFound, ErrUnavailable.
func (s *Service) MessagePhoto(ctx context.Context, r Report, seq, n int, thumb bool) (io.ReadCloser, storage.ObjectInfo, error) {
	e, err := s.store.entry(ctx, entryID(r.ID, seq))
	if errors.Is(err, ErrNotFound) {
		return nil, storage.ObjectInfo{}, ErrNotFound
	}
	if err != nil {
		return nil, storage.ObjectInfo{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if e.Action != ActMessage || n < 1 || n > len(e.Photos) {
		return nil, storage.ObjectInfo{}, ErrNotFound
	}
	// The report's own photos are served by OpenPhoto, which this reuses
	// with the message's photo as the only one it may open.
	return s.OpenPhoto(ctx, Report{ID: r.ID, Photos: []Photo{e.Photos[n-1]}}, e.Photos[n-1].Key, thumb)
}

// ActorLabel is the message key naming who took a timeline entry, as the
// viewer may be told it: never who, only the role, and in the exchange
// between the reporter and the officers each side names the other by its
// part in it: the reporter sees "网格员 / Grid officer" for an officer or
// an admin asking, the officers see "报告人 / Reporter" for the reporter.
func ActorLabel(e Entry, viewerIsReporter bool) string {
	switch {
	case e.ActorRole == RoleRider:
		return "role.reporter"
	case viewerIsReporter && (e.ActorRole == RoleOfficer || e.ActorRole == RoleAdmin):
		return "role.officer"
	}
	return "role." + e.ActorRole
}
