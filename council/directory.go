package council

// The station directory: opening hours, facilities, services, photos, the
// admins' open/closed switch, and the nearest stations to a rider.
//
// Nearest answers from memory: every instance keeps all stations in an
// R-tree (Load at start), so a request never scans the stations collection,
// which on the embedded store would read every document. Changes reach the
// other instances through a revision document read by _id: every write of a
// station first writes the station, then sets a new random revision; each
// instance's Watch reads the revision every interval and, when it differs
// from the one its directory was built from, reads the stations again. The
// instance that made a change puts the changed station into its own
// directory at once, so its caller sees its own write.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/rtree"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nuanxin/nuanxin/coords"
	"github.com/nuanxin/nuanxin/storage"
)

// stationsMetaCollection holds one document, the directory's revision.
const (
	stationsMetaCollection = "stations_meta"
	directoryRevID         = "directory"
)

// Shanghai is the time zone opening hours are written in. China keeps no
// daylight saving time, so a fixed UTC+8 is exact and needs no tzdata.
var Shanghai = time.FixedZone("Asia/Shanghai", 8*60*60)

// Facility codes, in the order pages list them.
const (
	FacilitySeats           = "seats"
	FacilityDrinkingWater   = "drinking_water"
	FacilityCharging        = "charging"
	FacilityFirstAid        = "first_aid"
	FacilityWiFi            = "wifi"
	FacilityMicrowave       = "microwave"
	FacilityToilet          = "toilet"
	FacilityCanteen         = "canteen" // 暖心食堂
	FacilityChildrensCorner = "childrens_corner"
	FacilityHealthCorner    = "health_corner"
)

// Service codes, in the order pages list them.
const (
	ServiceLegalAdvice     = "legal_advice"
	ServiceSocialInsurance = "social_insurance"
	ServiceMediation       = "mediation"
	ServiceSkillsClasses   = "skills_classes"
)

// Label names a facility or service in both page languages.
type Label struct {
	Code string `json:"code"`
	Zh   string `json:"zh"`
	En   string `json:"en"`
}

// Facilities lists every facility a station may offer.
func Facilities() []Label {
	return []Label{
		{FacilitySeats, "休息座椅", "Seats"},
		{FacilityDrinkingWater, "饮用水", "Drinking water"},
		{FacilityCharging, "充电", "Charging"},
		{FacilityFirstAid, "急救药箱", "First-aid kit"},
		{FacilityWiFi, "无线网络", "Wi-Fi"},
		{FacilityMicrowave, "微波炉", "Microwave"},
		{FacilityToilet, "卫生间", "Toilet"},
		{FacilityCanteen, "暖心食堂", "Canteen"},
		{FacilityChildrensCorner, "儿童角", "Children's corner"},
		{FacilityHealthCorner, "健康角", "Health corner"},
	}
}

// Services lists every service a station may offer.
func Services() []Label {
	return []Label{
		{ServiceLegalAdvice, "法律咨询", "Legal advice"},
		{ServiceSocialInsurance, "社保指导", "Social-insurance guidance"},
		{ServiceMediation, "纠纷调解", "Dispute mediation"},
		{ServiceSkillsClasses, "技能培训", "Skills classes"},
	}
}

func codesOf(ls []Label) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Code
	}
	return out
}

var (
	facilityCodes = codesOf(Facilities())
	serviceCodes  = codesOf(Services())
)

// cleanCodes checks codes against known, drops repeats and returns them in
// known's order, so equal sets are stored alike.
func cleanCodes(field string, codes, known []string) ([]string, error) {
	out := []string{}
	for _, k := range known {
		if slices.Contains(codes, k) {
			out = append(out, k)
		}
	}
	for _, c := range codes {
		if !slices.Contains(known, c) {
			return nil, &ValidationError{Field: field, Reason: fmt.Sprintf("%q is not one of %s", c, strings.Join(known, ", "))}
		}
	}
	return out, nil
}

const (
	maxPhotos      = 12
	maxPhotoKeyLen = 300
)

func cleanPhotos(keys []string) ([]string, error) {
	if len(keys) > maxPhotos {
		return nil, &ValidationError{Field: "photos", Reason: fmt.Sprintf("a station shows at most %d photos", maxPhotos)}
	}
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		if k == "" || len(k) > maxPhotoKeyLen || strings.ContainsAny(k, " \t\r\n") || strings.Contains(k, "..") {
			return nil, &ValidationError{Field: "photos", Reason: fmt.Sprintf("%q is not a photo key", k)}
		}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out, nil
}

// Hours are a station's opening hours, one entry per weekday in Asia/Shanghai
// time. Each entry is empty (closed that day), "24h" (open all day), or one
// to four ranges "HH:MM-HH:MM" separated by commas, such as "08:00-22:00" or
// "07:00-11:00,17:00-23:30". A range that ends at or before its start runs
// past midnight into the next day ("20:00-02:00"); "24:00" ends a day.
// A station with no hours on any day is never open now.
type Hours struct {
	Mon string `bson:"mon,omitempty" json:"mon"`
	Tue string `bson:"tue,omitempty" json:"tue"`
	Wed string `bson:"wed,omitempty" json:"wed"`
	Thu string `bson:"thu,omitempty" json:"thu"`
	Fri string `bson:"fri,omitempty" json:"fri"`
	Sat string `bson:"sat,omitempty" json:"sat"`
	Sun string `bson:"sun,omitempty" json:"sun"`
}

// EveryDay gives the same hours on all seven days.
func EveryDay(spec string) Hours {
	return Hours{spec, spec, spec, spec, spec, spec, spec}
}

// days lists the entries by time.Weekday (Sunday first) with their field names.
func (h *Hours) days() [7]struct {
	name string
	spec *string
} {
	return [7]struct {
		name string
		spec *string
	}{{"sun", &h.Sun}, {"mon", &h.Mon}, {"tue", &h.Tue}, {"wed", &h.Wed}, {"thu", &h.Thu}, {"fri", &h.Fri}, {"sat", &h.Sat}}
}

// Day returns the entry for a weekday.
func (h Hours) Day(d time.Weekday) string { return *h.days()[d].spec }

// span is a range of minutes since midnight, end > start; an overnight
// range has end past 24:00 (1440).
type span struct{ start, end int }

const (
	dayMinutes = 24 * 60
	maxSpans   = 4
	hoursHelp  = `write opening hours as "08:00-22:00", several ranges as "07:00-11:00,17:00-23:30", "24h" for all day, or leave it empty for closed`
)

// parseDay reads one weekday's entry; it returns the ranges and the entry in
// its canonical spelling.
func parseDay(spec string) ([]span, string, error) {
	spec = strings.TrimSpace(spec)
	switch strings.ToLower(spec) {
	case "":
		return nil, "", nil
	case "24h", "00:00-24:00":
		return []span{{0, dayMinutes}}, "24h", nil
	}
	parts := strings.Split(spec, ",")
	if len(parts) > maxSpans {
		return nil, "", fmt.Errorf("%q has %d ranges; a day has at most %d", spec, len(parts), maxSpans)
	}
	spans := make([]span, 0, len(parts))
	canon := make([]string, 0, len(parts))
	for _, p := range parts {
		from, to, ok := strings.Cut(strings.TrimSpace(p), "-")
		if !ok {
			return nil, "", fmt.Errorf("%q is not a range of times: %s", strings.TrimSpace(p), hoursHelp)
		}
		start, err := parseClock(from, false)
		if err != nil {
			return nil, "", err
		}
		end, err := parseClock(to, true)
		if err != nil {
			return nil, "", err
		}
		if start == end {
			return nil, "", fmt.Errorf("%q opens and closes at the same time; use \"24h\" for all day", strings.TrimSpace(p))
		}
		if end < start {
			end += dayMinutes // runs past midnight
		}
		for _, o := range spans {
			if start < o.end && o.start < end {
				return nil, "", fmt.Errorf("the ranges of %q overlap", spec)
			}
		}
		spans = append(spans, span{start, end})
		endClock := end
		if endClock > dayMinutes {
			endClock -= dayMinutes
		}
		canon = append(canon, clock(start)+"-"+clock(endClock))
	}
	return spans, strings.Join(canon, ","), nil
}

// parseClock reads "HH:MM" (or "H:MM"); "24:00" only as an end.
func parseClock(s string, isEnd bool) (int, error) {
	s = strings.TrimSpace(s)
	hs, ms, ok := strings.Cut(s, ":")
	h, errH := strconv.Atoi(hs)
	m, errM := strconv.Atoi(ms)
	if !ok || errH != nil || errM != nil || len(hs) < 1 || len(hs) > 2 || len(ms) != 2 || hs[0] == '+' || hs[0] == '-' || ms[0] == '+' || ms[0] == '-' {
		return 0, fmt.Errorf("%q is not a time: %s", s, hoursHelp)
	}
	if h == 24 && m == 0 && isEnd {
		return dayMinutes, nil
	}
	if h > 23 || m > 59 {
		return 0, fmt.Errorf("%q is not a time of day (00:00 to 23:59, or 24:00 to close at midnight)", s)
	}
	return h*60 + m, nil
}

func clock(min int) string { return fmt.Sprintf("%02d:%02d", min/60, min%60) }

// clean validates every day and rewrites it in canonical form. Errors:
// *ValidationError naming the day, such as "hours.mon".
func (h Hours) clean() (Hours, error) {
	for _, d := range h.days() {
		_, canon, err := parseDay(*d.spec)
		if err != nil {
			return h, &ValidationError{Field: "hours." + d.name, Reason: err.Error()}
		}
		*d.spec = canon
	}
	return h, nil
}

// ParseHours validates hours as an admin typed them and returns them in
// canonical form ("8:00 - 22:00" becomes "08:00-22:00", "00:00-24:00" becomes
// "24h"). Errors: *ValidationError naming the day.
func ParseHours(h Hours) (Hours, error) { return h.clean() }

// OpenAt reports whether the hours have the station open at t (any zone;
// read in Asia/Shanghai). A range includes its opening minute and excludes
// its closing one. Entries that do not parse count as closed.
func (h Hours) OpenAt(t time.Time) bool {
	local := t.In(Shanghai)
	minute := local.Hour()*60 + local.Minute()
	today, _, _ := parseDay(h.Day(local.Weekday()))
	for _, s := range today {
		if minute >= s.start && minute < s.end {
			return true
		}
	}
	// Yesterday's ranges that ran past midnight.
	yesterday, _, _ := parseDay(h.Day((local.Weekday() + 6) % 7))
	for _, s := range yesterday {
		if s.end > dayMinutes && minute < s.end-dayMinutes {
			return true
		}
	}
	return false
}

// OpenNow reports whether a rider arriving at t finds the station open: the
// admins have it open and its hours include t (Asia/Shanghai).
func (s Station) OpenNow(t time.Time) bool { return s.Open && s.Hours.OpenAt(t) }

// StationChange is what a station admin sends to keep their station current.
// A nil field is left as it is; a non-nil one replaces the stored value
// (an empty list clears it).
type StationChange struct {
	Name       *string   `json:"name,omitempty"`
	Address    *string   `json:"address,omitempty"`
	Lat        *float64  `json:"lat,omitempty" doc:"WGS-84 latitude"`
	Lng        *float64  `json:"lng,omitempty" doc:"WGS-84 longitude"`
	Hours      *Hours    `json:"hours,omitempty"`
	Facilities *[]string `json:"facilities,omitempty"`
	Services   *[]string `json:"services,omitempty"`
	Photos     *[]string `json:"photos,omitempty" doc:"Object keys of the photos, in display order"`
}

// Update applies a station admin's change to the station. The caller has
// checked that the user may administer this station; Update validates the
// input and changes nothing when any field is wrong. Errors: ErrNotFound,
// *ValidationError, ErrNameTaken.
func (s *Service) Update(ctx context.Context, id string, ch StationChange) (Station, error) {
	st, err := s.Get(ctx, id)
	if err != nil {
		return Station{}, err
	}
	in := NewStation{Name: st.Name, Address: st.Address, Lat: st.Lat, Lng: st.Lng, Hours: st.Hours, Facilities: st.Facilities, Services: st.Services}
	set := bson.D{}
	if ch.Name != nil {
		in.Name = *ch.Name
	}
	if ch.Address != nil {
		in.Address = *ch.Address
	}
	if ch.Lat != nil {
		in.Lat = *ch.Lat
	}
	if ch.Lng != nil {
		in.Lng = *ch.Lng
	}
	if ch.Hours != nil {
		in.Hours = *ch.Hours
	}
	if ch.Facilities != nil {
		in.Facilities = *ch.Facilities
	}
	if ch.Services != nil {
		in.Services = *ch.Services
	}
	// Every field is validated, stored ones too: hours stored under older
	// rules must not block an unrelated change, so only changed fields are
	// written, but all are checked before anything is.
	if in, err = in.clean(); err != nil {
		return Station{}, err
	}
	photos := st.Photos
	if ch.Photos != nil {
		if photos, err = cleanPhotos(*ch.Photos); err != nil {
			return Station{}, err
		}
	}
	if ch.Name != nil {
		set = append(set, bson.E{Key: "name", Value: in.Name})
	}
	if ch.Address != nil {
		set = append(set, bson.E{Key: "address", Value: in.Address})
	}
	if ch.Lat != nil {
		set = append(set, bson.E{Key: "lat", Value: in.Lat})
	}
	if ch.Lng != nil {
		set = append(set, bson.E{Key: "lng", Value: in.Lng})
	}
	if ch.Hours != nil {
		set = append(set, bson.E{Key: "hours", Value: in.Hours})
	}
	if ch.Facilities != nil {
		set = append(set, bson.E{Key: "facilities", Value: in.Facilities})
	}
	if ch.Services != nil {
		set = append(set, bson.E{Key: "services", Value: in.Services})
	}
	if ch.Photos != nil {
		set = append(set, bson.E{Key: "photos", Value: photos})
	}
	if len(set) == 0 {
		return st, nil
	}
	// Only the changed fields are set, so two admins changing different
	// fields at once both keep their change.
	set = append(set, bson.E{Key: "updated_at", Value: time.Now().UTC()})
	return s.writeStation(ctx, id, bson.D{{Key: "$set", Value: set}})
}

// SetOpen opens or closes a station (admins). A closed station stays in the
// directory but is never open now. Errors: ErrNotFound.
func (s *Service) SetOpen(ctx context.Context, id string, open bool) (Station, error) {
	if _, err := s.Get(ctx, id); err != nil {
		return Station{}, err
	}
	return s.writeStation(ctx, id, bson.D{{Key: "$set", Value: bson.D{{Key: "open", Value: open}, {Key: "updated_at", Value: time.Now().UTC()}}}})
}

// writeStation updates one station by _id, then tells the other instances
// (a new revision) and puts the result into this instance's directory.
//
// The embedded store applies an update by reading the whole document and
// writing it back, so two updates of different fields at once can lose one
// (measured: TestUpdateConcurrentFieldsBothKept failed without the lock).
// Station writes are rare admin actions, so this instance makes them one at a
// time; MongoDB applies $set per field and needs no lock between instances.
func (s *Service) writeStation(ctx context.Context, id string, update bson.D) (Station, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	res, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, update)
	if isUniqueViolation(err) {
		return Station{}, ErrNameTaken
	}
	if err != nil {
		return Station{}, fmt.Errorf("update station: %w", err)
	}
	if res.MatchedCount == 0 {
		return Station{}, ErrNotFound
	}
	st, err := s.Get(ctx, id)
	if err != nil {
		return Station{}, err
	}
	s.changed(ctx, st)
	return st, nil
}

// changed records a station write: a new revision for the other instances,
// and the station in this instance's directory. A failed revision write is
// logged, not returned: the station is stored, and the other instances pick
// it up at the next change or restart.
func (s *Service) changed(ctx context.Context, st Station) {
	if err := s.bumpRevision(ctx); err != nil {
		s.log.Warn("station directory revision not written; other instances see the change later", "station", st.ID, "err", err)
	}
	s.dir.put(st)
}

// isUniqueViolation recognises a unique-index violation. On an update the
// embedded FerretDB reports SQLite's constraint error as an internal error
// instead of MongoDB's duplicate-key code, which storage.IsDuplicateKey misses.
func isUniqueViolation(err error) bool {
	return err != nil && (storage.IsDuplicateKey(err) || strings.Contains(err.Error(), "UNIQUE constraint failed"))
}

func (s *Service) bumpRevision(ctx context.Context) error {
	_, err := s.meta.UpdateOne(ctx, bson.D{{Key: "_id", Value: directoryRevID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "rev", Value: bson.NewObjectID().Hex()}, {Key: "at", Value: time.Now().UTC()}}}},
		options.UpdateOne().SetUpsert(true))
	if storage.IsDuplicateKey(err) {
		// Another instance created the document at the same moment with its
		// own new revision, which signals the change as well.
		return nil
	}
	return err
}

func (s *Service) revision(ctx context.Context) (string, error) {
	var doc struct {
		Rev string `bson:"rev"`
	}
	err := s.meta.FindOne(ctx, bson.D{{Key: "_id", Value: directoryRevID}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read station directory revision: %w", err)
	}
	return doc.Rev, nil
}

// Load reads every station into this instance's directory. Call it at start,
// before serving Nearest, and then run Watch. Stations stored before the
// open/closed switch existed are marked open first (they were in service).
func (s *Service) Load(ctx context.Context) error {
	if _, err := s.coll.UpdateMany(ctx, bson.D{{Key: "open", Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "open", Value: true}}}}); err != nil {
		return fmt.Errorf("mark older stations open: %w", err)
	}
	return s.dir.reload(ctx, s, false)
}

// Watch reloads the directory every interval when a station changed on any
// instance (a new revision), until ctx ends. A failed reload keeps the
// directory in use and is retried at the next tick.
func (s *Service) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.dir.reload(ctx, s, true); err != nil && ctx.Err() == nil {
				s.log.Warn("station directory reload failed; keeping the one in use", "err", err)
			}
		}
	}
}

// directory is one instance's in-memory copy of the stations.
type directory struct {
	mu   sync.Mutex // serialises reloads and puts, so a put is never undone by an older read
	snap atomic.Pointer[dirSnapshot]
}

type dirSnapshot struct {
	rev      string // revision the stations were read at ("" before any write)
	stations map[string]Station
	tree     rtree.RTreeG[string] // station ids at (lng, lat)
}

func newDirSnapshot(rev string, stations map[string]Station) *dirSnapshot {
	sn := &dirSnapshot{rev: rev, stations: stations}
	for id, st := range stations {
		sn.tree.Insert([2]float64{st.Lng, st.Lat}, [2]float64{st.Lng, st.Lat}, id)
	}
	return sn
}

// reload reads the revision, then the stations: a write that lands after
// the revision was read sets a newer one, and the next reload picks it up.
func (d *directory) reload(ctx context.Context, s *Service, onlyIfChanged bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	rev, err := s.revision(ctx)
	if err != nil {
		return err
	}
	if old := d.snap.Load(); onlyIfChanged && old != nil && old.rev == rev {
		return nil
	}
	cur, err := s.coll.Find(ctx, bson.D{})
	if err != nil {
		return fmt.Errorf("read stations: %w", err)
	}
	var all []Station
	if err := cur.All(ctx, &all); err != nil {
		return fmt.Errorf("read stations: %w", err)
	}
	m := make(map[string]Station, len(all))
	for _, st := range all {
		m[st.ID] = st.withEmptyLists()
	}
	d.snap.Store(newDirSnapshot(rev, m))
	return nil
}

// put replaces one station in the directory. The revision is kept: if
// another instance changed a station meanwhile, the revision differs from
// the one this directory was read at, and the next Watch tick reloads.
func (d *directory) put(st Station) {
	d.mu.Lock()
	defer d.mu.Unlock()
	old := d.snap.Load()
	m := make(map[string]Station, len(old.stations)+1)
	for id, o := range old.stations {
		m[id] = o
	}
	m[st.ID] = st.withEmptyLists()
	d.snap.Store(newDirSnapshot(old.rev, m))
}

// NearStation is a station as seen from a rider's position.
type NearStation struct {
	Station   Station      `json:"station"`
	DistanceM float64      `json:"distance_m" doc:"Great-circle distance from the rider, metres"`
	OpenNow   bool         `json:"open_now"`
	Nav       coords.Links `json:"nav" doc:"One-tap navigation links"`
}

// Nearest limits.
const (
	DefaultNearest = 10
	MaxNearest     = 50
)

// Nearest returns up to limit stations near the WGS-84 position (lat, lng):
// those open at now first, nearest first, then the closed ones, nearest
// first. limit 0 means DefaultNearest. It reads this instance's directory
// only (see Load and Watch). Errors: *ValidationError for a position off the
// globe or a limit outside 0..MaxNearest.
func (s *Service) Nearest(ctx context.Context, lat, lng float64, limit int, now time.Time) ([]NearStation, error) {
	if math.IsNaN(lat) || lat < -90 || lat > 90 {
		return nil, &ValidationError{Field: "lat", Reason: "latitude must be between -90 and 90"}
	}
	if math.IsNaN(lng) || lng < -180 || lng > 180 {
		return nil, &ValidationError{Field: "lng", Reason: "longitude must be between -180 and 180"}
	}
	if limit == 0 {
		limit = DefaultNearest
	}
	if limit < 1 || limit > MaxNearest {
		return nil, &ValidationError{Field: "limit", Reason: fmt.Sprintf("ask for 1 to %d stations", MaxNearest)}
	}
	sn := s.dir.snap.Load()
	// The tree holds degrees; a degree of longitude is cos(lat) of a degree
	// of latitude, so distances are scaled by it (an equirectangular
	// projection at the rider's latitude). The tree's order is then that of
	// true distance to well under a metre in a city; results are re-sorted
	// by great-circle distance below.
	k := math.Cos(lat * math.Pi / 180)
	dist := func(min, max [2]float64, _ string, _ bool) float64 {
		dx := axisGap(lng, min[0], max[0]) * k
		dy := axisGap(lat, min[1], max[1])
		return dx*dx + dy*dy
	}
	var open, closed []NearStation
	// Walk outwards until limit open stations are found; the closed ones
	// passed on the way fill in after them. When fewer than limit are open
	// (at night), the walk covers every station: some thousands, in memory.
	sn.tree.Nearby(dist, func(_, _ [2]float64, id string, _ float64) bool {
		st := sn.stations[id]
		ns := NearStation{Station: st, DistanceM: coords.DistanceM(lat, lng, st.Lat, st.Lng), OpenNow: st.OpenNow(now)}
		if ns.OpenNow {
			open = append(open, ns)
		} else if len(closed) < limit {
			closed = append(closed, ns)
		}
		return len(open) < limit
	})
	byDistance := func(a, b NearStation) int {
		if c := cmpFloat(a.DistanceM, b.DistanceM); c != 0 {
			return c
		}
		return strings.Compare(a.Station.ID, b.Station.ID)
	}
	slices.SortFunc(open, byDistance)
	slices.SortFunc(closed, byDistance)
	out := append(open, closed...)
	if len(out) > limit {
		out = out[:limit]
	}
	for i := range out {
		out[i].Nav = coords.NavLinks(out[i].Station.Lat, out[i].Station.Lng, out[i].Station.Name)
	}
	_ = ctx // the directory is in memory; ctx is kept for a store-backed index
	return out, nil
}

func axisGap(v, lo, hi float64) float64 {
	switch {
	case v < lo:
		return lo - v
	case v > hi:
		return v - hi
	}
	return 0
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
