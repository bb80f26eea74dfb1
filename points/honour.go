package points

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Level is an honour level, reached by lifetime earned points (Entry.Earned:
// awards less clawbacks; adjustments, spends and expiry do not lower it, so
// spending points never costs a rider their level).
type Level struct {
	Key string `json:"key"`
	ZH  string `json:"zh"`
	EN  string `json:"en"`
	Min int64  `json:"min" doc:"lifetime earned points needed"`
}

// Levels, lowest first.
var levels = []Level{
	{Key: "rising", ZH: "新星", EN: "Rising star", Min: 0},
	{Key: "mainstay", ZH: "骨干", EN: "Mainstay", Min: 100},
	{Key: "exemplar", ZH: "标兵", EN: "Exemplar", Min: 500},
	{Key: "model", ZH: "楷模", EN: "Model", Min: 2000},
}

// Levels returns every level, lowest first.
func Levels() []Level { return slices.Clone(levels) }

// LevelOf returns the level of a rider with earned lifetime points, and the
// next level (nil at the top). A rider in debt (earned below zero after a
// clawback) is at the lowest level.
func LevelOf(earned int64) (Level, *Level) {
	i := 0
	for j, lv := range levels {
		if earned >= lv.Min {
			i = j
		}
	}
	if i+1 < len(levels) {
		next := levels[i+1]
		return levels[i], &next
	}
	return levels[i], nil
}

// Badge is a milestone a rider reached.
type Badge struct {
	Key string `json:"key"`
	ZH  string `json:"zh"`
	EN  string `json:"en"`
}

// badgeRules: what each badge needs. Awards counts awards net of those
// taken back (a clawback or reversal of an award cancels it), so a report
// rejected after a reopen does not keep its badge; Earned is the rider's
// lifetime earned points from the head of their chain. Both are read
// cheaply: the count from the honour projection, the points from one entry.
var badgeRules = []struct {
	Badge
	Awards int64
	Earned int64
}{
	{Badge{"first_report", "首次核实", "First verified report"}, 1, 0},
	{Badge{"ten_reports", "十次核实", "10 verified reports"}, 10, 0},
	{Badge{"fifty_reports", "五十次核实", "50 verified reports"}, 50, 0},
	{Badge{"hundred_points", "百分达人", "100 points earned"}, 0, 100},
	{Badge{"thousand_points", "千分达人", "1,000 points earned"}, 0, 1000},
}

// Scopes of a leaderboard.
const (
	ScopeCity = "city"
	// A district's board is "district:<name>", a station's "station:<id>",
	// the tags awards carry.
	scopeDistrict = "district:"
	scopeStation  = "station:"
)

// ErrBadScope: a leaderboard scope or month that is not one.
var ErrBadScope = errors.New("no such leaderboard")

// BoardRow is one line of a leaderboard.
type BoardRow struct {
	Rank   int    `json:"rank" doc:"riders with equal points share a rank"`
	Name   string `json:"name" doc:"the rider's display name if they chose to show it, else a masked name"`
	Points int64  `json:"points"`
	Rider  string `json:"-"` // user id, for a page to mark the viewer's own row; never shown
}

// NoticeRow is one line of the 公示 notice board: an award of the month, or
// a clawback (negative points) taking one back.
type NoticeRow struct {
	At     time.Time `json:"at"`
	Name   string    `json:"name"`
	Points int64     `json:"points"`
	Kind   Kind      `json:"kind"`
	Ref    string    `json:"ref,omitempty"`
	Note   string    `json:"note,omitempty"`
	Rider  string    `json:"-"`
}

// RiderHonour is a rider's level, next level and badges.
type RiderHonour struct {
	Earned int64   `json:"earned"`
	Level  Level   `json:"level"`
	Next   *Level  `json:"next,omitempty"`
	ToNext int64   `json:"to_next,omitempty" doc:"points still needed for the next level"`
	Badges []Badge `json:"badges"`
}

// Honour keeps the leaderboards and the 公示 notice board as an in-memory
// projection of the issuance account's chain, which every award debits and
// every clawback (or reversal of an award) credits: reading that one chain
// forward by _id sees every point ever issued, in order, without a query
// that the embedded store would answer by reading a whole collection. Each
// instance builds its own projection at start and keeps it current with
// Refresh; the ledger stays the truth and the projection can always be
// rebuilt. Adjustments go through the adjustments account, so they are not
// on the boards: boards rank what riders earned by reporting.
type Honour struct {
	l     *Ledger
	names Names
	log   *slog.Logger
	prefs *mongo.Collection

	refresh sync.Mutex // one catch-up at a time

	mu     sync.RWMutex
	seq    int64                  // last issuance entry applied
	months map[string]*monthBoard // by MonthKey
	awards map[string]int64       // by rider user id: awards net of those taken back
	tags   map[string][]string    // by movement key and ref: an award's tags, for the clawback that takes it back
}

type monthBoard struct {
	totals map[string]map[string]int64 // scope → rider user id → points
	notice []NoticeRow                 // in chain order; Name resolved when read
}

// prefsCollection holds each rider's choice to show their display name on
// public pages: _id the user id. Read and written by _id only.
const prefsCollection = "points_prefs"

// NewHonour builds the honour projection over l. names gives public names
// (wrap the accounts' names in MaskedNames). Call Refresh before reading.
func NewHonour(l *Ledger, names Names, log *slog.Logger) *Honour {
	return &Honour{l: l, names: names, log: log, prefs: l.entries.Database().Collection(prefsCollection),
		months: map[string]*monthBoard{}, awards: map[string]int64{}, tags: map[string][]string{}}
}

// Refresh catches the projection up with the issuance chain: one read by
// _id when nothing is new, one per new entry otherwise. Safe to call from
// many goroutines; entries are applied once each, in order.
func (h *Honour) Refresh(ctx context.Context) error {
	h.refresh.Lock()
	defer h.refresh.Unlock()
	h.mu.RLock()
	seq := h.seq
	h.mu.RUnlock()
	for {
		e, ok, err := h.l.entryAt(ctx, Issuance, seq+1)
		if err != nil {
			return fmt.Errorf("honour: %w", err)
		}
		if !ok {
			return nil
		}
		h.mu.Lock()
		h.apply(e)
		h.seq = e.Seq
		h.mu.Unlock()
		seq = e.Seq
	}
}

// apply adds one issuance entry to the projection; h.mu is held.
func (h *Honour) apply(e Entry) {
	rider, ok := strings.CutPrefix(e.Counter, "rider:")
	if !ok || e.Refused || e.Amount == 0 {
		return
	}
	points := -e.Amount // the issuance side: a debit is points to the rider
	tags := e.Tags
	if len(tags) == 0 && e.Ref != "" {
		// A clawback or reversal that does not say where counts where
		// the award it takes back counted.
		tags = h.tags[e.Ref]
	}
	if points > 0 && len(e.Tags) > 0 {
		h.tags[e.Movement] = e.Tags
		if e.Ref != "" {
			h.tags[e.Ref] = e.Tags
		}
	}
	switch {
	case e.Kind == KindAward:
		h.awards[rider]++
	case points < 0 && (e.Kind == KindClawback || e.Kind == KindReversal):
		// Cancels an award for the badges only when it is a whole
		// reversal of one; a partial clawback (a lower severity) keeps
		// the report counted.
		if e.Kind == KindReversal {
			h.awards[rider]--
		}
	}
	month := MonthKey(e.At)
	mb := h.months[month]
	if mb == nil {
		mb = &monthBoard{totals: map[string]map[string]int64{}}
		h.months[month] = mb
	}
	scopes := []string{ScopeCity}
	for _, t := range tags {
		if strings.HasPrefix(t, scopeDistrict) || strings.HasPrefix(t, scopeStation) {
			scopes = append(scopes, t)
		}
	}
	for _, s := range scopes {
		m := mb.totals[s]
		if m == nil {
			m = map[string]int64{}
			mb.totals[s] = m
		}
		m[rider] += points
	}
	mb.notice = append(mb.notice, NoticeRow{At: e.At, Points: points, Kind: e.Kind, Ref: e.Ref, Note: e.Note, Rider: rider})
}

// Seq is the last issuance entry the projection has applied.
func (h *Honour) Seq() int64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.seq
}

// ValidMonth reports whether s is a month key "2006-01".
func ValidMonth(s string) bool {
	_, err := time.Parse("2006-01", s)
	return err == nil && len(s) == 7
}

// Months lists the months with any award, newest first.
func (h *Honour) Months() []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]string, 0, len(h.months))
	for m := range h.months {
		out = append(out, m)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(out)))
	return out
}

// Scopes lists the scopes with a board in month: the city, then districts
// and stations in name order.
func (h *Honour) Scopes(month string) []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := []string{ScopeCity}
	if mb := h.months[month]; mb != nil {
		var rest []string
		for s := range mb.totals {
			if s != ScopeCity {
				rest = append(rest, s)
			}
		}
		sort.Strings(rest)
		out = append(out, rest...)
	}
	return out
}

func validScope(scope string) bool {
	if scope == ScopeCity {
		return true
	}
	for _, p := range []string{scopeDistrict, scopeStation} {
		if rest, ok := strings.CutPrefix(scope, p); ok && rest != "" && len(scope) <= 200 {
			return true
		}
	}
	return false
}

// Board returns the leaderboard of month ("2006-01", in Zone) in scope
// ("city", "district:<name>" or "station:<id>"): riders with more than
// zero points, most points first, at most limit rows (≤ 0: 50). Riders
// with equal points share a rank (1, 1, 3). ErrBadScope for a malformed
// month or scope; a month with no awards gives no rows.
func (h *Honour) Board(ctx context.Context, month, scope string, limit int) ([]BoardRow, error) {
	if !ValidMonth(month) || !validScope(scope) {
		return nil, fmt.Errorf("%w: month must look like 2026-03 and scope be city, district:<name> or station:<id>", ErrBadScope)
	}
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	h.mu.RLock()
	var rows []BoardRow
	if mb := h.months[month]; mb != nil {
		for rider, pts := range mb.totals[scope] {
			if pts > 0 {
				rows = append(rows, BoardRow{Rider: rider, Points: pts})
			}
		}
	}
	h.mu.RUnlock()
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Points != rows[j].Points {
			return rows[i].Points > rows[j].Points
		}
		return rows[i].Rider < rows[j].Rider
	})
	for i := range rows {
		rows[i].Rank = i + 1
		if i > 0 && rows[i].Points == rows[i-1].Points {
			rows[i].Rank = rows[i-1].Rank
		}
	}
	if len(rows) > limit {
		rows = rows[:limit]
	}
	names := map[string]string{}
	for i := range rows {
		n, err := h.publicName(ctx, rows[i].Rider, names)
		if err != nil {
			return nil, err
		}
		rows[i].Name = n
	}
	return rows, nil
}

// Notice returns the 公示 of month: every award of the month and every
// clawback taking one back, in the order they were posted. ErrBadScope for
// a malformed month.
func (h *Honour) Notice(ctx context.Context, month string) ([]NoticeRow, error) {
	if !ValidMonth(month) {
		return nil, fmt.Errorf("%w: month must look like 2026-03", ErrBadScope)
	}
	h.mu.RLock()
	var rows []NoticeRow
	if mb := h.months[month]; mb != nil {
		rows = slices.Clone(mb.notice)
	}
	h.mu.RUnlock()
	names := map[string]string{}
	for i := range rows {
		n, err := h.publicName(ctx, rows[i].Rider, names)
		if err != nil {
			return nil, err
		}
		rows[i].Name = n
	}
	return rows, nil
}

// publicName asks names for a rider's public name, once per rider per
// call (cache), and masks whatever still looks like a phone number: a
// public page must never show one, whatever Names answers.
func (h *Honour) publicName(ctx context.Context, rider string, cache map[string]string) (string, error) {
	if n, ok := cache[rider]; ok {
		return n, nil
	}
	n := ""
	if h.names != nil {
		var err error
		if n, err = h.names.DisplayName(ctx, rider); err != nil {
			return "", fmt.Errorf("honour: the public name of %s: %w", rider, err)
		}
	}
	if n == "" || LooksLikePhone(n) {
		n = MaskName(n)
	}
	cache[rider] = n
	return n, nil
}

// Rider returns a rider's level, next level and badges, from the head of
// their chain (lifetime earned points) and the projection (award count).
func (h *Honour) Rider(ctx context.Context, userID string) (RiderHonour, error) {
	earned, err := h.l.earned(ctx, Rider(userID))
	if err != nil {
		return RiderHonour{}, err
	}
	h.mu.RLock()
	awards := h.awards[userID]
	h.mu.RUnlock()
	lv, next := LevelOf(earned)
	out := RiderHonour{Earned: earned, Level: lv, Next: next, Badges: []Badge{}}
	if next != nil {
		out.ToNext = next.Min - earned
	}
	for _, b := range badgeRules {
		if (b.Awards == 0 || awards >= b.Awards) && (b.Earned == 0 || earned >= b.Earned) {
			out.Badges = append(out.Badges, b.Badge)
		}
	}
	return out, nil
}

// earned is an account's lifetime earned points, from the head of its
// chain (one read by _id when this instance remembers the head).
func (l *Ledger) earned(ctx context.Context, account string) (int64, error) {
	if err := validAccount(account); err != nil {
		return 0, err
	}
	e, err := l.head(ctx, account)
	if err != nil {
		return 0, err
	}
	return e.Earned, nil
}

// NoticeCSV writes the 公示 of month as CSV: time (in Zone), public name,
// points, kind, reference, note. Cells are guarded against formula
// injection (see csvCell).
func (h *Honour) NoticeCSV(ctx context.Context, w io.Writer, month string) error {
	rows, err := h.Notice(ctx, month)
	if err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	write := func(cells ...string) {
		for i := range cells {
			cells[i] = csvCell(cells[i])
		}
		_ = cw.Write(cells) // errors surface through cw.Error
	}
	write("time", "name", "points", "kind", "ref", "note")
	for _, r := range rows {
		write(r.At.In(Zone).Format("2006-01-02 15:04:05"), r.Name, strconv.FormatInt(r.Points, 10), string(r.Kind), r.Ref, r.Note)
	}
	cw.Flush()
	return cw.Error()
}

// StatementCSV writes every entry of account, oldest first, with its
// running balance, as CSV: seq, time (in Zone), kind, amount, balance,
// held, note, ref, counter-account. It reads the chain forward by _id.
func StatementCSV(ctx context.Context, l *Ledger, w io.Writer, account string) error {
	if err := validAccount(account); err != nil {
		return err
	}
	head, err := l.head(ctx, account)
	if err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	write := func(cells ...string) {
		for i := range cells {
			cells[i] = csvCell(cells[i])
		}
		_ = cw.Write(cells)
	}
	write("seq", "time", "kind", "amount", "balance", "held", "note", "ref", "counter")
	for seq := int64(1); seq <= head.Seq; seq++ {
		e, ok, err := l.entryAt(ctx, account, seq)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("statement of %s: entry %d is missing", account, seq)
		}
		kind := string(e.Kind)
		if e.Refused {
			kind += " (refused)"
		}
		write(strconv.FormatInt(e.Seq, 10), e.At.In(Zone).Format("2006-01-02 15:04:05"), kind,
			strconv.FormatInt(e.Amount, 10), strconv.FormatInt(e.Balance, 10), strconv.FormatInt(e.Held, 10), e.Note, e.Ref, e.Counter)
		if seq%500 == 0 {
			cw.Flush()
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvCell guards a cell against formula injection: a spreadsheet runs a
// cell starting with = + - @ (or a tab or carriage return, which some
// strip first) as a formula, so such a cell gets a leading apostrophe.
// A plain integer ("-5") is left alone: it cannot be a formula, and the
// amounts of a statement must stay numbers.
func csvCell(s string) string {
	if s == "" {
		return s
	}
	if _, err := strconv.ParseInt(s, 10, 64); err == nil {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

// MaskedNames gives public names: a rider's display name (from Inner) if
// the rider chose to show it on public pages (Honour.SetPublicName), else
// MaskName of it. A name that looks like a phone number is masked even if
// the rider chose to show it.
type MaskedNames struct {
	Inner Names
	// Prefs is the database holding the riders' choices (points_prefs),
	// the ledger's database.
	Prefs *mongo.Database
}

// DisplayName implements Names.
func (m MaskedNames) DisplayName(ctx context.Context, userID string) (string, error) {
	name, err := m.Inner.DisplayName(ctx, userID)
	if err != nil {
		return "", err
	}
	show, err := showsPublicName(ctx, m.Prefs.Collection(prefsCollection), userID)
	if err != nil {
		return "", err
	}
	if show && name != "" && !LooksLikePhone(name) {
		return name, nil
	}
	return MaskName(name), nil
}

// MaskName hides a name for a public page: a phone-number-like name keeps
// its first three and last four digits (138****8001), any other its first
// character (张*, A***); an empty name is "***".
func MaskName(name string) string {
	name = strings.TrimSpace(name)
	if LooksLikePhone(name) {
		var d []rune
		for _, r := range name {
			if unicode.IsDigit(r) {
				d = append(d, r)
			}
		}
		if len(d) >= 7 {
			return string(d[:3]) + "****" + string(d[len(d)-4:])
		}
		return "***"
	}
	if name == "" {
		return "***"
	}
	first, _ := utf8.DecodeRuneInString(name)
	n := utf8.RuneCountInString(name) - 1
	return string(first) + strings.Repeat("*", min(max(n, 1), 3))
}

// LooksLikePhone reports a name of seven or more digits, with nothing else but spaces,
// dashes, dots, brackets and a leading +. Better to mask a name made of
// digits than to show a number.
func LooksLikePhone(s string) bool {
	digits := 0
	for _, r := range s {
		switch {
		case unicode.IsDigit(r):
			digits++
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')' || r == '+':
		default:
			return false
		}
	}
	return digits >= 7
}

type publicNamePref struct {
	ID   string    `bson:"_id"`
	Show bool      `bson:"show"`
	At   time.Time `bson:"at"`
}

// SetPublicName records whether a rider shows their display name on public
// pages (the leaderboards, the 公示); the default is not to. The last
// choice wins.
func (h *Honour) SetPublicName(ctx context.Context, userID string, show bool) error {
	if userID == "" {
		return fmt.Errorf("%w: no rider given", ErrInvalid)
	}
	_, err := h.prefs.ReplaceOne(ctx, bson.D{{Key: "_id", Value: userID}},
		publicNamePref{ID: userID, Show: show, At: time.Now().UTC()}, options.Replace().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("save the public-name choice: %w", err)
	}
	return nil
}

// ShowsPublicName reports whether a rider chose to show their display
// name on public pages.
func (h *Honour) ShowsPublicName(ctx context.Context, userID string) (bool, error) {
	return showsPublicName(ctx, h.prefs, userID)
}

func showsPublicName(ctx context.Context, coll *mongo.Collection, userID string) (bool, error) {
	var p publicNamePref
	err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: userID}}).Decode(&p)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read the public-name choice: %w", err)
	}
	return p.Show, nil
}
