// Package open311 serves Nuanxin's reports through the Open311 GeoReport v2
// API (http://wiki.open311.org/GeoReport_v2), so that existing civic-tech
// clients can list the categories, read reports and file new ones. Only the
// JSON format is served.
//
// Clients that file reports authenticate with an API key an admin issues.
// Each key files as its own reporter ("open311:" + key id), so nothing filed
// through it is tied to a person, and nothing this package serves identifies
// whoever filed a report, through the app or through a key.
package open311

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nuanxin/nuanxin/reports"
)

// Limits of a requests.json search, as the GeoReport v2 specification sets
// them.
const (
	MaxResults = 1000
	MaxIDs     = 50
	MaxSpan    = 90 * 24 * time.Hour // of start_date … end_date, and the default period
)

// Errors.
var (
	ErrNotFound    = errors.New("no service request with that id")
	ErrUnavailable = errors.New("the service is briefly unavailable; try again")
)

// ValidationError says which parameter is wrong and how to fix it.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }

// Reports is what open311 needs of the reports service (*reports.Service).
// Reports are read through Search alone, which never loads who filed or
// handles a report.
type Reports interface {
	SubmitPhotoOptional(ctx context.Context, reporterID string, in reports.Submission) (reports.Report, bool, error)
	Search(ctx context.Context, f reports.SearchFilter) ([]reports.Summary, error)
	Categories() []reports.Category
}

// Service answers GeoReport v2 requests over the reports.
type Service struct {
	reports Reports
	keys    *Keys
	log     *slog.Logger
}

// NewService builds the GeoReport service.
func NewService(reps Reports, keys *Keys, log *slog.Logger) *Service {
	return &Service{reports: reps, keys: keys, log: log}
}

// Locale picks the language of names and notices: "zh", "en", or "" for both
// ("中文 / English").
type Locale string

// ParseLocale reads a locale parameter such as "zh", "zh-CN" or "en-US".
// Anything else means both languages.
func ParseLocale(s string) Locale {
	s = strings.ToLower(strings.TrimSpace(s))
	switch {
	case strings.HasPrefix(s, "zh"):
		return "zh"
	case strings.HasPrefix(s, "en"):
		return "en"
	}
	return ""
}

func (l Locale) pick(zh, en string) string {
	switch l {
	case "zh":
		return zh
	case "en":
		return en
	}
	return zh + " / " + en
}

// ServiceType is one GeoReport "service": a category of report.
type ServiceType struct {
	Code        string `json:"service_code"`
	Name        string `json:"service_name"`
	Description string `json:"description"`
	Metadata    bool   `json:"metadata"`
	Type        string `json:"type"`
	Keywords    string `json:"keywords"`
	Group       string `json:"group"`
}

// ServiceTypes lists one service per report category.
func (s *Service) ServiceTypes(l Locale) []ServiceType {
	cats := s.reports.Categories()
	out := make([]ServiceType, 0, len(cats))
	for _, c := range cats {
		out = append(out, ServiceType{
			Code: c.Code,
			Name: l.pick(c.ZH, c.EN),
			Description: l.pick(c.ZH+"：由骑手拍照上报，转交问题所在网格的网格员处理。",
				c.EN+": reported with a photo by gig workers, and routed to the grid officer of the cell where it is."),
			Metadata: false,
			Type:     "realtime",
			Keywords: strings.Join([]string{c.Code, c.ZH, c.EN}, ","),
			Group:    l.pick("城市问题", "Civic issues"),
		})
	}
	return out
}

func (s *Service) category(code string) (reports.Category, bool) {
	i := slices.IndexFunc(s.reports.Categories(), func(c reports.Category) bool { return c.Code == code })
	if i < 0 {
		return reports.Category{}, false
	}
	return s.reports.Categories()[i], true
}

// Request is a report as GeoReport v2 shows it. It has no field naming the
// reporter or an officer, and none may be added.
type Request struct {
	// ID is the report's ticket number (20261129-0042), what its rider
	// and officer read on their pages; a report not yet numbered shows its
	// id. Either is accepted back.
	ID                string  `json:"service_request_id"`
	Status            string  `json:"status" doc:"open or closed"`
	StatusNotes       string  `json:"status_notes"`
	ServiceName       string  `json:"service_name"`
	ServiceCode       string  `json:"service_code"`
	Description       string  `json:"description"`
	AgencyResponsible string  `json:"agency_responsible" doc:"the grid cell's code, or unassigned"`
	ServiceNotice     string  `json:"service_notice"`
	RequestedAt       string  `json:"requested_datetime"`
	UpdatedAt         string  `json:"updated_datetime"`
	ExpectedAt        string  `json:"expected_datetime" doc:"when the officer is due to verify or reject it"`
	Address           string  `json:"address"`
	Lat               float64 `json:"lat"`
	Long              float64 `json:"long"`
	// MediaURL stays empty: photos are served only to logged-in viewers
	// (their reporter, the cell's officer, admins), through an authorised
	// route. Publishing them would need a public photo route, which Nuanxin
	// deliberately does not have: a photo can show faces, number plates or
	// the rider's own surroundings.
	MediaURL string `json:"media_url"`
}

// rejectNotes says why a report was rejected, for the public.
var rejectNotes = map[string][2]string{
	"not_a_problem":         {"经核实不属于问题", "not a problem"},
	"duplicate":             {"重复上报", "a duplicate of another report"},
	"outside_area":          {"不在服务范围内", "outside the service area"},
	"insufficient_evidence": {"证据不足", "insufficient evidence"},
	"abusive":               {"内容不当", "abusive content"},
}

func (s *Service) view(r reports.Summary, l Locale) Request {
	id := r.Ticket
	if id == "" {
		id = r.ID
	}
	out := Request{
		ID:                id,
		Status:            "closed",
		ServiceCode:       r.Category,
		ServiceName:       r.Category,
		Description:       r.Description,
		AgencyResponsible: r.Cell,
		RequestedAt:       timestamp(r.CreatedAt),
		UpdatedAt:         timestamp(r.UpdatedAt),
		ExpectedAt:        timestamp(r.DecideDue),
		Address:           r.Address,
		Lat:               r.Lat,
		Long:              r.Lng,
	}
	if c, ok := s.category(r.Category); ok {
		out.ServiceName = l.pick(c.ZH, c.EN)
	}
	if out.AgencyResponsible == "" {
		out.AgencyResponsible = "unassigned"
	}
	if r.Status.Open() {
		out.Status = "open"
		out.ServiceNotice = notice(r, l)
	}
	if r.Status == reports.StatusRejected && r.RejectReason != "" {
		n, ok := rejectNotes[r.RejectReason]
		if !ok {
			n = [2]string{r.RejectReason, r.RejectReason}
		}
		out.StatusNotes = l.pick("已驳回："+n[0], "rejected: "+n[1])
	}
	if r.RejectReason == "abusive" {
		// An officer judged the text abusive: it is not republished.
		out.Description = ""
	}
	return out
}

// notice states the service commitment that applies to an open report.
func notice(r reports.Summary, l Locale) string {
	ack, decide := r.AckDue.Sub(r.CreatedAt), r.DecideDue.Sub(r.CreatedAt)
	if ack <= 0 || decide <= 0 {
		return ""
	}
	return l.pick(fmt.Sprintf("网格员%s内响应，%s内核实或驳回。", zhDuration(ack), zhDuration(decide)),
		fmt.Sprintf("The grid officer responds within %s and verifies or rejects within %s.", enDuration(ack), enDuration(decide)))
}

func enDuration(d time.Duration) string {
	if d >= time.Hour && d%time.Hour == 0 {
		if h := int(d / time.Hour); h != 1 {
			return strconv.Itoa(h) + " hours"
		}
		return "1 hour"
	}
	if m := int(d.Round(time.Minute) / time.Minute); m != 1 {
		return strconv.Itoa(m) + " minutes"
	}
	return "1 minute"
}

func zhDuration(d time.Duration) string {
	if d >= time.Hour && d%time.Hour == 0 {
		return strconv.Itoa(int(d/time.Hour)) + "小时"
	}
	return strconv.Itoa(int(d.Round(time.Minute)/time.Minute)) + "分钟"
}

// timestamp formats a time as ISO 8601 in UTC; the zero time is "".
func timestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// Query is a parsed requests.json search.
type Query struct {
	IDs      []string // when set, every other filter is ignored
	Codes    []string // service codes; empty: all
	Start    time.Time
	End      time.Time
	Statuses []string // "open", "closed"; empty: both
	Locale   Locale
}

// ParseQuery reads the parameters of a requests.json search; get returns a
// parameter's value, "" when absent. Without dates the search covers the
// MaxSpan up to now; with one date it covers MaxSpan from (or up to) it; a
// wider range is refused. Errors: *ValidationError.
func ParseQuery(get func(string) string, now time.Time) (Query, error) {
	q := Query{Locale: ParseLocale(get("locale"))}
	if ids := splitList(get("service_request_id")); len(ids) > 0 {
		if len(ids) > MaxIDs {
			return Query{}, &ValidationError{Field: "service_request_id", Reason: fmt.Sprintf("at most %d ids at once (got %d)", MaxIDs, len(ids))}
		}
		for _, id := range ids {
			if err := checkID(id); err != nil {
				return Query{}, err
			}
		}
		q.IDs = ids
		return q, nil
	}
	q.Codes = splitList(get("service_code"))
	start, err := parseTime("start_date", get("start_date"))
	if err != nil {
		return Query{}, err
	}
	end, err := parseTime("end_date", get("end_date"))
	if err != nil {
		return Query{}, err
	}
	switch {
	case start.IsZero() && end.IsZero():
		end = now
		start = end.Add(-MaxSpan)
	case start.IsZero():
		start = end.Add(-MaxSpan)
	case end.IsZero():
		end = start.Add(MaxSpan)
	}
	if end.Before(start) {
		return Query{}, &ValidationError{Field: "end_date", Reason: "end_date is before start_date"}
	}
	if end.Sub(start) > MaxSpan {
		return Query{}, &ValidationError{Field: "end_date", Reason: "start_date and end_date may be at most 90 days apart"}
	}
	q.Start, q.End = start, end
	for _, st := range splitList(get("status")) {
		st = strings.ToLower(st)
		if st != "open" && st != "closed" {
			return Query{}, &ValidationError{Field: "status", Reason: "use open, closed, or open,closed"}
		}
		if !slices.Contains(q.Statuses, st) {
			q.Statuses = append(q.Statuses, st)
		}
	}
	return q, nil
}

func splitList(s string) []string {
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// checkID refuses what cannot be a service request id: neither a ticket
// number (reports.ParseTicket) nor a report id.
func checkID(id string) error {
	if _, ok, err := reports.ParseTicket(id); err != nil {
		return &ValidationError{Field: "service_request_id", Reason: fmt.Sprintf("%q is not a ticket number: write the day and the number, like 20261129-0042", truncate(id, 40))}
	} else if !ok && !validID(id) {
		return &ValidationError{Field: "service_request_id", Reason: fmt.Sprintf("%q is not a service request id: send a ticket number like 20261129-0042", truncate(id, 70))}
	}
	return nil
}

// validID accepts what a report id can be: up to 64 letters, digits, '-' or '_'.
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	return !strings.ContainsFunc(id, func(r rune) bool {
		return !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' || r == '_')
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// parseTime reads an ISO 8601 date-time with a time zone, or a bare date
// (midnight UTC).
func parseTime(field, s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, &ValidationError{Field: field, Reason: fmt.Sprintf("%q is not an ISO 8601 date-time; use e.g. 2026-03-01T08:00:00+08:00", truncate(s, 40))}
}

// Requests runs a search, newest first, at most MaxResults (MaxIDs by id).
// Errors: *ValidationError for an unknown service code, ErrUnavailable.
func (s *Service) Requests(ctx context.Context, q Query) ([]Request, error) {
	// Ids override every other parameter, as the specification has it.
	f := reports.SearchFilter{IDs: q.IDs, Limit: MaxResults}
	if len(q.IDs) == 0 {
		for _, code := range q.Codes {
			if _, ok := s.category(code); !ok {
				return nil, &ValidationError{Field: "service_code", Reason: fmt.Sprintf("%q is not a service code; services.json lists them", truncate(code, 40))}
			}
		}
		f.Categories, f.From, f.To = q.Codes, q.Start, q.End
		if len(q.Statuses) == 1 {
			f.Statuses = statusesOf(q.Statuses[0])
		}
	}
	rs, err := s.reports.Search(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	out := make([]Request, len(rs))
	for i, r := range rs {
		out[i] = s.view(r, q.Locale)
	}
	return out, nil
}

func statusesOf(openOrClosed string) []reports.Status {
	var out []reports.Status
	for _, st := range reports.Statuses {
		if st.Open() == (openOrClosed == "open") {
			out = append(out, st)
		}
	}
	return out
}

// Request returns one report by ticket number or id. Errors: ErrNotFound,
// *ValidationError for a malformed ticket number, ErrUnavailable.
func (s *Service) Request(ctx context.Context, id string, l Locale) (Request, error) {
	if _, _, err := reports.ParseTicket(id); err != nil {
		return Request{}, checkID(id)
	}
	if !validID(id) {
		return Request{}, ErrNotFound
	}
	rs, err := s.reports.Search(ctx, reports.SearchFilter{IDs: []string{id}, Limit: 1})
	if err != nil {
		return Request{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if len(rs) == 0 {
		return Request{}, ErrNotFound
	}
	return s.view(rs[0], l), nil
}

// Submission is a report filed through POST requests.json, as sent.
type Submission struct {
	APIKey         string
	IdempotencyKey string // optional; derived from the content when empty
	ServiceCode    string
	Lat, Long      string
	Description    string
	Address        string
	Media          []byte // the photo; nil when none was sent, which is allowed
	MediaURL       string // never fetched; refused without Media
	Locale         Locale
}

// Submit files a report as the API key's own reporter. The photo is
// optional, as in the specification: a report filed without one has no
// photos, which its officer sees. A retry of the same submission (the same
// Idempotency-Key, or without one the same key, service, position, text and
// photo) answers the first report with created=false. A media_url is never
// fetched: without a photo in media, it is refused (*ValidationError).
//
// Errors: ErrNoKey, ErrInvalidKey, ErrRevokedKey, *ValidationError, and those
// of reports.Service.Submit (*reports.ValidationError, *reports.PhotoError,
// reports.ErrIdempotencyKey, reports.ErrUnavailable), and ErrUnavailable.
func (s *Service) Submit(ctx context.Context, in Submission) (Request, bool, error) {
	key, err := s.keys.Authenticate(ctx, in.APIKey)
	if err != nil {
		return Request{}, false, err
	}
	code := strings.TrimSpace(in.ServiceCode)
	if code == "" {
		return Request{}, false, &ValidationError{Field: "service_code", Reason: "service_code is required; services.json lists them"}
	}
	if _, ok := s.category(code); !ok {
		return Request{}, false, &ValidationError{Field: "service_code", Reason: fmt.Sprintf("%q is not a service code; services.json lists them", truncate(code, 40))}
	}
	lat, lng, err := parsePosition(in.Lat, in.Long)
	if err != nil {
		return Request{}, false, err
	}
	if strings.TrimSpace(in.MediaURL) != "" && len(in.Media) == 0 {
		// Fetching a URL a client names would let anyone make this server
		// request any address, inside its network too. Filing the report
		// without the photo the client meant to attach would lose it
		// silently, so the request is refused instead. With the photo
		// itself attached, the URL is only ignored.
		return Request{}, false, &ValidationError{Field: "media_url", Reason: "media_url is not fetched: send the photo itself as the file field media of a multipart/form-data request, or leave media_url out to file the report without a photo"}
	}
	var photos [][]byte
	if len(in.Media) > 0 {
		photos = [][]byte{in.Media}
	}
	idem := strings.TrimSpace(in.IdempotencyKey)
	if idem == "" {
		idem = derivedKey(key.ID, code, lat, lng, in.Description, in.Address, in.Media)
	}
	r, created, err := s.reports.SubmitPhotoOptional(ctx, key.ReporterID(), reports.Submission{
		Key: idem, Category: code, Description: in.Description, Address: in.Address,
		Lat: &lat, Lng: &lng, Photos: photos,
	})
	if err != nil {
		return Request{}, false, err
	}
	return s.view(r.Summary(), in.Locale), created, nil
}

// parsePosition reads lat and long. The specification allows an address
// instead, but a report is routed by its position, so both are required.
func parsePosition(latS, lngS string) (float64, float64, error) {
	latS, lngS = strings.TrimSpace(latS), strings.TrimSpace(lngS)
	if latS == "" || lngS == "" {
		return 0, 0, &ValidationError{Field: "lat", Reason: "lat and long are required here (an address_string alone is not enough): send WGS-84 decimal degrees, e.g. lat=28.1941&long=112.9823"}
	}
	lat, err := strconv.ParseFloat(latS, 64)
	if err != nil || math.IsNaN(lat) || lat < -90 || lat > 90 {
		return 0, 0, &ValidationError{Field: "lat", Reason: "lat must be a decimal number between -90 and 90"}
	}
	lng, err := strconv.ParseFloat(lngS, 64)
	if err != nil || math.IsNaN(lng) || lng < -180 || lng > 180 {
		return 0, 0, &ValidationError{Field: "long", Reason: "long must be a decimal number between -180 and 180"}
	}
	return lat, lng, nil
}

// derivedKey is the idempotency key of a submission sent without one:
// a client retrying the same POST files the same report, not a second one.
func derivedKey(keyID, code string, lat, lng float64, desc, addr string, media []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%.7f,%.7f\x00%s\x00%s\x00", keyID, code, lat, lng, strings.TrimSpace(desc), strings.TrimSpace(addr))
	sum := sha256.Sum256(media)
	h.Write(sum[:])
	return "open311-" + hex.EncodeToString(h.Sum(nil))
}
