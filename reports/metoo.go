package reports

import (
	"cmp"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nuanxin/nuanxin/storage"
)

// "Me too" (我也遇到): after a rider picks a category on the report form,
// the form shows the open reports of that category within MeTooRadius, and
// one tap adds the rider's confirmation (and an optional photo) to one of
// them instead of filing a new report. The first reporter keeps the credit;
// each confirmation is its own timeline entry (ActMeToo), counted in
// State.MeToo, and the points rules pay the confirmers once the problem is
// verified (Event.MeTooBy).
//
// Riders never see another rider's report: the lookup answers an opaque
// ref per report, sealed (AES-GCM) for the asking rider with an expiry, so
// it names no report id, cannot be altered, and is useless to anyone else
// or later. The key is kept in the store (one document, created by the
// first instance with a unique insert), so every instance opens every
// instance's refs.
//
// Once per rider per report is a claim, "metoo:<report>:<rider>", in
// report_claims (claims.go): of racing confirmations one inserts it.

// Limits of "me too".
const (
	MeTooRadius = 100.0 // metres: how far the form looks for the same problem
	MaxMeTooBy  = 100   // riders named in State.MeTooBy; later ones still count in MeToo
	MaxNearby   = 5     // reports the lookup answers, nearest first
	// MeTooRefTTL is how long a ref from the lookup may be used.
	MeTooRefTTL = time.Hour
)

// settingsCollection holds small documents of the reports service read by
// _id: the "me too" ref key.
const (
	settingsCollection = "report_settings"
	meTooKeyID         = "metoo_ref_key"
)

// meTooState is the Service's part of "me too": the ref cipher, once read,
// and the turns confirmations of one report take in this instance (racing
// writers of one timeline collapse on the embedded store, DESIGN.md).
type meTooState struct {
	mu      sync.Mutex
	aead    cipher.AEAD
	writers storage.KeyedLocks[struct{}]
}

// MeTooError says why a confirmation or a ref is refused.
type MeTooError struct {
	// Code is MeTooUnknown (404), MeTooExpired (422), or MeTooDone,
	// MeTooOwn, MeTooClosed (409).
	Code string
}

// Codes of MeTooError.
const (
	MeTooUnknown = "metoo.unknown"
	MeTooExpired = "metoo.expired"
	MeTooDone    = "metoo.done"
	MeTooOwn     = "metoo.own"
	MeTooClosed  = "metoo.closed"
)

func (e *MeTooError) Error() string {
	switch e.Code {
	case MeTooExpired:
		return "this suggestion has expired; look for nearby reports again"
	case MeTooDone:
		return "you have already confirmed this problem"
	case MeTooOwn:
		return "this is your own report; you cannot confirm it again"
	case MeTooClosed:
		return "this problem has already been closed"
	}
	return "no such nearby report; look for nearby reports again"
}

// asMeTooError finds a "me too" refusal in err.
func asMeTooError(err error) (*MeTooError, bool) {
	var me *MeTooError
	ok := errors.As(err, &me)
	return me, ok
}

// Nearby is an open report near a rider, as that rider may see it: never
// its id, ticket, description or reporter.
type Nearby struct {
	Ref       string    `json:"ref" doc:"opaque: send it to POST /api/v1/reports/metoo; valid for an hour, for the rider who asked only"`
	Distance  int       `json:"distance_m" doc:"metres from the position asked about"`
	CreatedAt time.Time `json:"created_at"`
	Status    Status    `json:"status"`
	MeToo     int       `json:"me_too" doc:"how many riders confirmed it already"`
	Confirmed bool      `json:"confirmed" doc:"the asking rider confirmed it already"`
	Thumb     string    `json:"thumb,omitempty" doc:"the URL of its first photo's thumbnail; empty when it has none"`
}

// Nearby lists, for the rider, the open reports of the category within
// MeTooRadius of the point, not their own, nearest first, at most
// MaxNearby. It reads this instance's model of the open reports (never a
// scan of the store) and answers ErrUnavailable while the model is not
// current. Errors: *ValidationError, ErrUnavailable.
func (s *Service) Nearby(ctx context.Context, riderID, category string, lat, lng float64) ([]Nearby, error) {
	if !s.category(category) {
		return nil, &ValidationError{Field: "category", Reason: "choose one of the listed categories"}
	}
	if err := CheckPosition(lat, lng); err != nil {
		return nil, err
	}
	x, done, ok := s.open.read()
	if !ok {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, s.OpenReady())
	}
	cands := x.within(category, lat, lng, time.Time{}, MeTooRadius)
	done()
	type near struct {
		r Report
		d float64
	}
	var found []near
	ids := map[string]bool{}
	for _, r := range cands {
		if !r.Status.Open() || r.ReporterID == riderID {
			continue
		}
		if d := distance(lat, lng, r.Lat, r.Lng); d <= MeTooRadius {
			found = append(found, near{r, d})
			ids[r.ID] = true
		}
	}
	// A report linked as a repeat of another one shown is the same
	// problem: the rider confirms the first.
	found = slices.DeleteFunc(found, func(n near) bool { return n.r.DuplicateOf != "" && ids[n.r.DuplicateOf] })
	slices.SortFunc(found, func(a, b near) int { return cmp.Or(cmp.Compare(a.d, b.d), cmp.Compare(a.r.ID, b.r.ID)) })
	found = found[:min(len(found), MaxNearby)]
	aead, err := s.meTooAEAD(ctx)
	if err != nil {
		return nil, err
	}
	exp := s.now().Add(MeTooRefTTL)
	out := make([]Nearby, 0, len(found))
	for _, n := range found {
		confirmed := slices.Contains(n.r.MeTooBy, riderID)
		if !confirmed && len(n.r.MeTooBy) >= MaxMeTooBy {
			// Past the riders named in the report, the claim says.
			if _, err := s.loadClaim(ctx, meTooClaim(n.r.ID, riderID)); err == nil {
				confirmed = true
			} else if !errors.Is(err, ErrNotFound) {
				return nil, err
			}
		}
		ref := sealRef(aead, n.r.ID, riderID, exp)
		item := Nearby{Ref: ref, Distance: int(math.Round(n.d)), CreatedAt: n.r.CreatedAt, Status: n.r.Status,
			MeToo: n.r.MeToo, Confirmed: confirmed}
		if n.r.HasPhotos() {
			item.Thumb = "/api/v1/reports/nearby/" + ref + "/thumb"
		}
		out = append(out, item)
	}
	return out, nil
}

// meTooClaim names the claim of one rider's confirmation of one report.
func meTooClaim(reportID, riderID string) string { return "metoo:" + reportID + ":" + riderID }

// maxRef bounds a ref's length: a report id, an account id and a time,
// sealed, are far shorter.
const maxRef = 512

// refAAD binds a sealed ref to its use, so that no other sealed value of
// the same key could pass for one.
var refAAD = []byte("nuanxin me-too ref v1")

// sealRef seals the report id, the rider and the expiry into a ref.
func sealRef(aead cipher.AEAD, reportID, riderID string, exp time.Time) string {
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	plain := reportID + "\n" + riderID + "\n" + strconv.FormatInt(exp.Unix(), 10)
	return base64.RawURLEncoding.EncodeToString(aead.Seal(nonce, nonce, []byte(plain), refAAD))
}

// openRef returns the report id a ref names, if it was sealed for this
// rider and has not expired. Errors: *MeTooError (MeTooUnknown for
// anything altered, malformed or sealed for someone else; MeTooExpired),
// ErrUnavailable.
func (s *Service) openRef(ctx context.Context, riderID, ref string) (string, error) {
	unknown := &MeTooError{Code: MeTooUnknown}
	if len(ref) > maxRef {
		return "", unknown
	}
	raw, err := base64.RawURLEncoding.DecodeString(ref)
	if err != nil {
		return "", unknown
	}
	aead, err := s.meTooAEAD(ctx)
	if err != nil {
		return "", err
	}
	if len(raw) < aead.NonceSize()+aead.Overhead() {
		return "", unknown
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], refAAD)
	if err != nil {
		return "", unknown
	}
	parts := strings.SplitN(string(plain), "\n", 3)
	if len(parts) != 3 || parts[0] == "" || riderID == "" || parts[1] != riderID {
		return "", unknown
	}
	exp, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return "", unknown
	}
	if !s.now().Before(time.Unix(exp, 0)) {
		return "", &MeTooError{Code: MeTooExpired}
	}
	return parts[0], nil
}

// refKey is the stored key of the refs.
type refKey struct {
	ID  string    `bson:"_id"`
	Key []byte    `bson:"key"`
	At  time.Time `bson:"at"`
}

// meTooAEAD returns the refs' cipher: the key in the store, made by the
// first instance that needs it (a unique insert: of two instances making
// one at once, one key wins and both use it).
func (s *Service) meTooAEAD(ctx context.Context) (cipher.AEAD, error) {
	m := &s.metoo
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.aead != nil {
		return m.aead, nil
	}
	coll := s.store.reports.Database().Collection(settingsCollection)
	read := func() (refKey, error) {
		var k refKey
		err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: meTooKeyID}}).Decode(&k)
		return k, err
	}
	k, err := read()
	if errors.Is(err, mongo.ErrNoDocuments) {
		k = refKey{ID: meTooKeyID, Key: make([]byte, 32), At: s.now()}
		_, _ = rand.Read(k.Key)
		if _, err = coll.InsertOne(ctx, k); storage.IsDuplicateKey(err) {
			k, err = read()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: the me-too key: %w", ErrUnavailable, err)
	}
	if len(k.Key) != 32 {
		return nil, fmt.Errorf("%w: the stored me-too key has %d bytes, want 32", ErrUnavailable, len(k.Key))
	}
	block, err := aes.NewCipher(k.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: the me-too key: %w", ErrUnavailable, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("%w: the me-too key: %w", ErrUnavailable, err)
	}
	m.aead = aead
	return aead, nil
}

// NearbyThumb opens the thumbnail of the first photo of the open report the
// rider's ref names. Errors: *MeTooError, ErrNotFound (no photo, or the
// report is gone or closed), ErrUnavailable.
func (s *Service) NearbyThumb(ctx context.Context, riderID, ref string) (io.ReadCloser, storage.ObjectInfo, error) {
	id, err := s.openRef(ctx, riderID, ref)
	if err != nil {
		return nil, storage.ObjectInfo{}, err
	}
	r, err := s.store.report(ctx, id)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, storage.ObjectInfo{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if err != nil || !r.Status.Open() || !r.HasPhotos() {
		return nil, storage.ObjectInfo{}, ErrNotFound
	}
	return s.OpenPhoto(ctx, r, r.Photos[0].Key, true)
}

// MeToo adds the rider's confirmation, with an optional photo (nil: none),
// to the open report their ref names: a timeline entry by the rider (role
// rider, the photo staff-only), State.MeToo one up and the rider added to
// State.MeTooBy. Once per rider and report; never on one's own report or a
// closed one. A refused or failed confirmation leaves no entry, no claim
// and no stored photo. Errors: *MeTooError, *PhotoError, ErrConflict,
// ErrUnavailable.
func (s *Service) MeToo(ctx context.Context, riderID, ref string, photo []byte) (Entry, error) {
	id, err := s.openRef(ctx, riderID, ref)
	if err != nil {
		return Entry{}, err
	}
	r, err := s.store.report(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Entry{}, &MeTooError{Code: MeTooUnknown}
	}
	if err != nil {
		return Entry{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if err := meTooAllowed(r, riderID); err != nil {
		return Entry{}, err
	}
	var (
		photos []Photo
		keys   []string
		proc   Processed
	)
	if photo != nil {
		if proc, err = s.processPhoto(ctx, photo); err != nil {
			return Entry{}, fmt.Errorf("photo: %w", err)
		}
		p := photoFor(fmt.Sprintf("%s%s/mt-%s", photoPrefix, r.ID, randomHex(6)), proc)
		photos, keys = []Photo{p}, []string{p.Key, p.ThumbKey}
	}

	claimID := meTooClaim(r.ID, riderID)
	switch err := s.claimFirst(ctx, claim{ID: claimID, ReportID: r.ID, Keys: keys, At: s.now()}); {
	case errors.Is(err, errClaimed):
		// Done, or being done by another request of the rider now.
		return Entry{}, &MeTooError{Code: MeTooDone}
	case err != nil:
		return Entry{}, err
	}
	// From here the claim is this call's: a failure removes the photo and
	// the claim, so that the rider may try again.
	fail := func(err error) (Entry, error) {
		s.removeObjects(ctx, keys)
		s.dropClaim(ctx, claimID)
		return Entry{}, err
	}
	if photo != nil {
		if err := s.putPhoto(ctx, photos[0], proc); err != nil {
			return fail(fmt.Errorf("%w: %w", ErrUnavailable, err))
		}
	}
	s.at("metoo_photo")
	_, unlock := s.metoo.writers.Lock(r.ID)
	_, e, err := s.transitionEntry(ctx, r.ID, Actor{ID: riderID, Role: RoleRider}, ActMeToo, func(cur Report, st *State) error {
		if err := meTooAllowed(cur, riderID); err != nil {
			return err
		}
		st.MeToo++
		if len(st.MeTooBy) < MaxMeTooBy && !slices.Contains(st.MeTooBy, riderID) {
			st.MeTooBy = append(slices.Clip(st.MeTooBy), riderID)
		}
		return nil
	}, Entry{Photos: photos, Key: claimID})
	unlock()
	if err != nil {
		return fail(err)
	}
	s.settleClaim(ctx, claimID, e.Seq)
	return e, nil
}

// meTooAllowed says whether the rider may confirm r as it is.
func meTooAllowed(r Report, riderID string) error {
	switch {
	case riderID == "":
		return &MeTooError{Code: MeTooUnknown}
	case r.ReporterID == riderID:
		return &MeTooError{Code: MeTooOwn}
	case !r.Status.Open():
		return &MeTooError{Code: MeTooClosed}
	}
	return nil
}

// TimelinePhoto opens photo n (1-based), or its thumbnail, of the timeline
// entry seq of r: a reporter's message's photos, for whoever may see r; a
// confirmation's ("me too") for staff only (staff: the caller handles
// reports in r's cell), since riders never see each other's photos.
// Errors: ErrNotFound, ErrUnavailable.
func (s *Service) TimelinePhoto(ctx context.Context, r Report, seq, n int, thumb, staff bool) (io.ReadCloser, storage.ObjectInfo, error) {
	e, err := s.store.entry(ctx, entryID(r.ID, seq))
	if errors.Is(err, ErrNotFound) {
		return nil, storage.ObjectInfo{}, ErrNotFound
	}
	if err != nil {
		return nil, storage.ObjectInfo{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	switch {
	case e.Action == ActMessage, e.Action == ActMeToo && staff:
	default:
		return nil, storage.ObjectInfo{}, ErrNotFound
	}
	if n < 1 || n > len(e.Photos) {
		return nil, storage.ObjectInfo{}, ErrNotFound
	}
	return s.OpenPhoto(ctx, Report{ID: r.ID, Photos: []Photo{e.Photos[n-1]}}, e.Photos[n-1].Key, thumb)
}

// MeTooVisible is the timeline as the viewer may see it: the photos of
// confirmations are taken out unless the viewer is staff.
func MeTooVisible(es []Entry, staff bool) []Entry {
	if staff {
		return es
	}
	out := slices.Clone(es)
	for i := range out {
		if out[i].Action == ActMeToo {
			out[i].Photos = nil
		}
	}
	return out
}
