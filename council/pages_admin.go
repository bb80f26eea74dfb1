package council

// The council pages of station admins (their station's dashboard, details,
// poster, members, feedback, proposals and visits) and of admins (every
// station: open, close, assign admins, create, figures across stations).
//
// Every /station/:id/... handler checks its permission in the station's own
// domain (policy.StationDomain): the gate's check on the route only proves
// the caller holds it in some station. A proposal or item named in the path
// must belong to that station, else the page is not found, so an admin of
// one station cannot reach another's through an id.

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	qrcode "github.com/skip2/go-qrcode"

	"github.com/nuanxin/nuanxin/council/vote"
	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/web"
)

// adminStatic is these pages' own static files (see riderStatic).
//
//go:embed static/admin*
var adminStatic embed.FS

// StationAdminAccount is a station-admin account an admin may assign to a
// station.
type StationAdminAccount struct {
	ID, Name, Login string
	Disabled        bool
}

// StationAdminAccounts lists the station-admin accounts. The stations admin
// page offers them in a picker when the hub's Names also implements it;
// otherwise it asks for the account's id.
type StationAdminAccounts interface {
	StationAdminAccounts(ctx context.Context) ([]StationAdminAccount, error)
}

// Form defaults of a new proposal.
const (
	adminDefaultQuorum = 30.0
	adminDefaultPass   = vote.DefaultPass
	adminDefaultWindow = 7 * 24 * time.Hour
	// adminFeedbackScan bounds how many of a station's items the pages read
	// (newest first) to find those waiting: each is read by _id.
	adminFeedbackScan = 1000
	adminVisitDays    = 30
	adminWeekDays     = 7
	adminDatetime     = "2006-01-02T15:04"
	adminQRSize       = 1024
)

type adminPages struct {
	k   *web.Pages
	h   *Hub
	now func() time.Time
}

// mountAdminPages adds the station admins' and admins' council pages.
func mountAdminPages(k *web.Pages, h *Hub) error {
	if err := requireHub("council: admin pages", k, h); err != nil {
		return err
	}
	p := &adminPages{k: k, h: h, now: time.Now}
	k.AddMessages(adminMessages)
	k.AddTemplates(pageTemplates, "templates/admin_dashboard.html", "templates/admin_details.html", "templates/poster.html",
		"templates/admin_members.html", "templates/admin_feedback.html", "templates/admin_proposal_form.html",
		"templates/admin_proposal.html", "templates/admin_visits.html", "templates/admin_stations.html")
	k.AddStatic(adminStatic, "static")
	k.AddNav(web.NavLink{Href: "/admin/stations", Label: "council.a.nav.stations", Perm: PermStationsAdmin, Order: 25})
	k.AddHomeLinks(44, p.homeLinks)

	get, post := fiber.MethodGet, fiber.MethodPost
	k.Handle(get, "/station/:id/council", PermFigures, p.dashboard)
	k.Handle(get, "/station/:id/details", PermManage, p.details)
	k.Handle(post, "/station/:id/details", PermManage, p.saveDetails)
	k.Handle(post, "/station/:id/photos", PermManage, p.addPhoto)
	k.Handle(post, "/station/:id/photos/remove", PermManage, p.removePhoto)
	k.Handle(get, "/station/:id/poster", PermPoster, p.poster)
	k.Handle(get, "/station/:id/poster/qr.png", PermPoster, p.posterQR)
	k.Handle(get, "/station/:id/members", PermMembers, p.members)
	k.Handle(post, "/station/:id/members/:rider/remove", PermMembers, p.removeMember)
	k.Handle(get, "/station/:id/feedback", PermAnswer, p.feedback)
	k.Handle(post, "/station/:id/feedback/:item", PermAnswer, p.handleItem)
	k.Handle(get, "/station/:id/proposals/new", PermProposals, p.newProposal)
	k.Handle(post, "/station/:id/proposals/new", PermProposals, p.createProposal)
	k.Handle(get, "/station/:id/proposals/:pid/edit", PermProposals, p.editProposal)
	k.Handle(post, "/station/:id/proposals/:pid/edit", PermProposals, p.onDraft("flash.council.a.not_editable", p.saveProposal))
	k.Handle(post, "/station/:id/proposals/:pid/open", PermProposals, p.onDraft("flash.council.a.already_open", p.openProposal))
	k.Handle(post, "/station/:id/proposals/:pid/outcomes", PermProposals, p.recordOutcome)
	k.Handle(get, "/station/:id/visits", PermFigures, p.visits)
	k.Handle(get, "/admin/stations", PermStationsAdmin, p.stations)
	k.Handle(post, "/admin/stations", PermCreate, p.createStation)
	k.Handle(post, "/admin/stations/:id/open", PermOpen, p.openStation)
	k.Handle(post, "/admin/stations/:id/close", PermOpen, p.closeStation)
	k.Handle(post, "/admin/stations/:id/admins", PermAssign, p.assignAdmin)
	return nil
}

// homeLinks puts each station a station admin keeps on their home page.
func (p *adminPages) homeLinks(c *fiber.Ctx, l web.Lang) []web.Link {
	me, ok := policy.PrincipalFrom(c.UserContext())
	if !ok {
		return nil
	}
	var out []web.Link
	for _, d := range p.k.Gate().Enforcer().Domains(me.Subject(), policy.RoleStationAdmin) {
		id, ok := strings.CutPrefix(d, "station:")
		if !ok {
			continue
		}
		name := id
		if st, err := p.h.Stations.Get(c.UserContext(), id); err == nil {
			name = st.Name
		}
		out = append(out, web.Link{Href: "/station/" + id + "/council", Label: name + " · " + l.T("council.a.dash.title")})
	}
	return out
}

// --- shared -------------------------------------------------------------------

// station checks that the caller holds perm in the station of the path and
// returns the station.
func (p *adminPages) station(c *fiber.Ctx, perm policy.Permission) (Station, error) {
	l := p.k.Lang(c)
	id := strings.Clone(c.Params("id"))
	if !holds(p.k, c, perm, id) {
		return Station{}, fiber.NewError(fiber.StatusForbidden, l.T("council.a.err.forbidden"))
	}
	return pathStation(c, p.h, id, l.T("council.a.err.no_station"))
}

// proposal checks that the caller may manage the proposals of the station
// of the path, and reads the proposal of the path, which must be that
// station's.
func (p *adminPages) proposal(c *fiber.Ctx) (Station, vote.Proposal, error) {
	st, err := p.station(c, PermProposals)
	if err != nil {
		return Station{}, vote.Proposal{}, err
	}
	pid := strings.Clone(c.Params("pid"))
	notFound := fiber.NewError(fiber.StatusNotFound, p.k.Lang(c).T("council.a.err.no_proposal"))
	if !vote.ValidID(pid) {
		return st, vote.Proposal{}, notFound
	}
	pr, err := p.h.Votes.Get(c.UserContext(), pid)
	if errors.Is(err, vote.ErrNotFound) || (err == nil && pr.StationID != st.ID) {
		return st, vote.Proposal{}, notFound
	}
	return st, pr, err
}

// item reads a feedback item and checks that it belongs to st.
func (p *adminPages) item(c *fiber.Ctx, st Station, id string) (Item, error) {
	notFound := fiber.NewError(fiber.StatusNotFound, p.k.Lang(c).T("council.a.err.no_item"))
	if id == "" || len(id) > 64 {
		return Item{}, notFound
	}
	it, err := p.h.Feedback.Get(c.UserContext(), id)
	if errors.Is(err, ErrFeedbackNotFound) || (err == nil && it.Station != st.ID) {
		return Item{}, notFound
	}
	return it, err
}

// adminReason is a service's English reason in the reader's language: the
// reasons these pages meet are translated here, so the pages do not depend on
// another page group's catalogue of reasons.
func adminReason(l web.Lang, field, en string) string {
	if l.Tag() == web.EN {
		return l.Reason(en)
	}
	if zh, ok := adminReasons[en]; ok {
		return zh
	}
	if zh, ok := adminReasonPattern(en); ok {
		return zh
	}
	if strings.HasPrefix(field, "hours") {
		// The reasons of hours quote the wrong entry first: show it with
		// the rule in Chinese.
		if v, _, ok := strings.Cut(strings.TrimPrefix(en, `"`), `"`); ok && strings.HasPrefix(en, `"`) {
			return l.T("council.a.err.hours_value", v)
		}
		return l.T("council.a.err.hours")
	}
	return l.Reason(en)
}

// adminFormValues returns every value of a form field, from a urlencoded or a
// multipart body.
func adminFormValues(c *fiber.Ctx, name string) []string {
	var out []string
	for _, v := range c.Request().PostArgs().PeekMulti(name) {
		out = append(out, string(v))
	}
	if strings.HasPrefix(string(c.Request().Header.ContentType()), fiber.MIMEMultipartForm) {
		if mf, err := c.MultipartForm(); err == nil {
			out = append(out, mf.Value[name]...)
		}
	}
	return out
}

// adminReadPlace reads a station form's name, address and position into f,
// and returns the position; a coordinate that is not a number is marked on
// f.
func adminReadPlace(c *fiber.Ctx, l web.Lang, f *web.FormState) (lat, lng float64) {
	for _, name := range []string{"name", "address", "lat", "lng"} {
		f.Values[name] = web.Form(c, name)
	}
	lat, errLat := strconv.ParseFloat(strings.TrimSpace(f.Values["lat"]), 64)
	if errLat != nil {
		f.Errors["lat"] = l.T("council.a.err.number")
	}
	lng, errLng := strconv.ParseFloat(strings.TrimSpace(f.Values["lng"]), 64)
	if errLng != nil {
		f.Errors["lng"] = l.T("council.a.err.number")
	}
	return lat, lng
}

// adminStationFailed puts the stations service's refusal of a station form
// on f and returns the page's status, or false for an error that is not
// about the input.
func adminStationFailed(l web.Lang, f *web.FormState, err error) (int, bool) {
	var ve *ValidationError
	switch {
	case errors.As(err, &ve):
		field := strings.ReplaceAll(ve.Field, ".", "_")
		f.Errors[field], f.Error = adminReason(l, ve.Field, ve.Reason), l.T("err.form")
		// A field the form has no input of its own for is named above
		// the form (the checkboxes show their error by their list).
		if _, known := f.Values[field]; !known && field != "facilities" && field != "services" {
			f.Error = adminReason(l, ve.Field, ve.Reason)
		}
		return fiber.StatusUnprocessableEntity, true
	case errors.Is(err, ErrNameTaken):
		f.Errors["name"], f.Error = l.T("council.a.err.name_taken"), l.T("err.form")
		return fiber.StatusConflict, true
	}
	return 0, false
}

// --- dashboard ------------------------------------------------------------------

type adminProposalRow struct {
	ID, Title, Kind, StateText string
	Badge                      string // draft, open, passed or failed: the badge's colour
}

type adminDashPage struct {
	Station                                         Station
	OpenNow                                         bool
	Members, Awaiting, OpenProposals, VisitorsToday int
	Proposals                                       []adminProposalRow
}

func (p *adminPages) dashboard(c *fiber.Ctx) error {
	st, err := p.station(c, PermFigures)
	if err != nil {
		return err
	}
	l, now := p.k.Lang(c), p.now()
	n, props, err := p.counts(c.UserContext(), st.ID, 1)
	if err != nil {
		return err
	}
	data := adminDashPage{Station: st, OpenNow: st.OpenNow(now), Members: n.Members, Awaiting: n.Awaiting,
		OpenProposals: n.OpenProposals, VisitorsToday: n.Visits}
	for _, pr := range props {
		data.Proposals = append(data.Proposals, p.proposalRow(l, pr, now))
	}
	return p.k.Render(c, fiber.StatusOK, web.PageArgs{Name: "admin_dashboard", Title: "council.a.dash.title", Data: data})
}

func (p *adminPages) proposalRow(l web.Lang, pr vote.Proposal, now time.Time) adminProposalRow {
	return adminProposalRow{ID: pr.ID, Title: pr.Title, Kind: l.T("council.a.kind." + string(pr.Kind)),
		StateText: p.stateText(l, pr, now), Badge: adminBadge(pr)}
}

// adminBadge names the colour of a proposal's state: a closed proposal by
// its result, so a failed one does not look like a success.
func adminBadge(pr vote.Proposal) string {
	switch {
	case pr.State != vote.StateClosed:
		return string(pr.State)
	case pr.Tally != nil && pr.Tally.Passed:
		return "passed"
	}
	return "failed"
}

// adminCounting reports a proposal past its close whose tally is not frozen
// yet (the votes service waits a few seconds after the close, so that no
// vote accepted before it is missed).
func adminCounting(pr vote.Proposal, now time.Time) bool {
	return pr.State == vote.StateOpen && !now.Before(pr.Closes)
}

func (p *adminPages) stateText(l web.Lang, pr vote.Proposal, now time.Time) string {
	switch pr.State {
	case vote.StateDraft:
		return l.T("council.a.state.draft")
	case vote.StateOpen:
		if now.Before(pr.Opens) {
			return l.T("council.a.state.opens", p.k.When(pr.Opens))
		}
		if !now.Before(pr.Closes) {
			return l.T("council.a.state.counting")
		}
		return l.T("council.a.state.open", p.k.When(pr.Closes))
	}
	if pr.Tally != nil && pr.Tally.Passed {
		return l.T("council.a.state.passed")
	}
	return l.T("council.a.state.failed")
}

// allItems reads the station's items, newest first, up to adminFeedbackScan.
func (p *adminPages) allItems(ctx context.Context, station string) ([]Item, error) {
	var out []Item
	before := 0
	for len(out) < adminFeedbackScan {
		page, next, err := p.h.Feedback.List(ctx, station, before, 100)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if next == 0 {
			break
		}
		before = next
	}
	return out, nil
}

func adminCountAwaiting(items []Item) int {
	n := 0
	for _, it := range items {
		if it.Status == StatusOpen || it.Status == StatusUnderReview {
			n++
		}
	}
	return n
}

// adminCounts are a station's figures as the dashboard and the stations
// page show them: Visits counts the visitors of the days asked for.
type adminCounts struct {
	Members, Awaiting, OpenProposals, Visits int
}

func (n *adminCounts) add(o adminCounts) {
	n.Members += o.Members
	n.Awaiting += o.Awaiting
	n.OpenProposals += o.OpenProposals
	n.Visits += o.Visits
}

// counts reads a station's figures, with the visitors of its last days, and
// its proposals.
func (p *adminPages) counts(ctx context.Context, station string, days int) (adminCounts, []vote.Proposal, error) {
	members, err := p.h.Members.Members(ctx, station)
	if err != nil {
		return adminCounts{}, nil, err
	}
	items, err := p.allItems(ctx, station)
	if err != nil {
		return adminCounts{}, nil, err
	}
	props, err := p.h.Proposals.List(ctx, station)
	if err != nil {
		return adminCounts{}, nil, err
	}
	visits, err := p.h.Visits.Figures(ctx, station, days)
	if err != nil {
		return adminCounts{}, nil, err
	}
	n := adminCounts{Members: len(members), Awaiting: adminCountAwaiting(items), OpenProposals: openCount(props)}
	for _, d := range visits {
		n.Visits += d.Visitors
	}
	return n, props, nil
}

// --- details and photos ----------------------------------------------------------

type adminDayField struct {
	Name, Label, Value, Error string
}

type adminCheck struct {
	Code, Label string
	Checked     bool
}

type adminPhoto struct{ Key, URL string }

type adminDetailsPage struct {
	web.FormState
	Station              Station
	Days                 []adminDayField
	Facilities, Services []adminCheck
	Photos               []adminPhoto
	PhotoError           string
	CanAddPhoto          bool
	MaxPhotoMB           int
}

// adminDays are the weekdays in the order forms show them, Monday first.
var adminDays = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// adminHoursField is the entry of h a form's day code names.
func adminHoursField(h *Hours, day string) *string {
	for _, d := range h.days() {
		if d.name == day {
			return d.spec
		}
	}
	return &h.Sun
}

func (p *adminPages) details(c *fiber.Ctx) error {
	st, err := p.station(c, PermManage)
	if err != nil {
		return err
	}
	return p.renderStored(c, fiber.StatusOK, st, "")
}

// renderStored renders the details page as stored, with a photo error if
// there is one.
func (p *adminPages) renderStored(c *fiber.Ctx, status int, st Station, photoErr string) error {
	f := web.NewFormState()
	f.Values["name"], f.Values["address"] = st.Name, st.Address
	f.Values["lat"], f.Values["lng"] = strconv.FormatFloat(st.Lat, 'f', -1, 64), strconv.FormatFloat(st.Lng, 'f', -1, 64)
	for _, d := range adminDays {
		f.Values["hours_"+d] = *adminHoursField(&st.Hours, d)
	}
	return p.renderDetails(c, status, st, f, st.Facilities, st.Services, photoErr)
}

func (p *adminPages) renderDetails(c *fiber.Ctx, status int, st Station, f web.FormState, facilities, services []string, photoErr string) error {
	l := p.k.Lang(c)
	data := adminDetailsPage{FormState: f, Station: st, PhotoError: photoErr, CanAddPhoto: len(st.Photos) < maxPhotos, MaxPhotoMB: MaxPhotoBytes >> 20}
	for _, d := range adminDays {
		data.Days = append(data.Days, adminDayField{Name: "hours_" + d, Label: l.T("council.a.day." + d), Value: f.Values["hours_"+d], Error: f.Errors["hours_"+d]})
	}
	for _, lb := range Facilities() {
		data.Facilities = append(data.Facilities, adminCheck{Code: lb.Code, Label: label(l, Facilities(), lb.Code), Checked: slices.Contains(facilities, lb.Code)})
	}
	for _, lb := range Services() {
		data.Services = append(data.Services, adminCheck{Code: lb.Code, Label: label(l, Services(), lb.Code), Checked: slices.Contains(services, lb.Code)})
	}
	for _, k := range st.Photos {
		data.Photos = append(data.Photos, adminPhoto{Key: k, URL: photoURL(k)})
	}
	return p.k.Render(c, status, web.PageArgs{Name: "admin_details", Title: "council.a.details.title", Here: "/station/" + st.ID + "/details", Data: data})
}

func (p *adminPages) saveDetails(c *fiber.Ctx) error {
	st, err := p.station(c, PermManage)
	if err != nil {
		return err
	}
	l := p.k.Lang(c)
	f := web.NewFormState()
	lat, lng := adminReadPlace(c, l, &f)
	var hours Hours
	for _, d := range adminDays {
		v := web.Form(c, "hours_"+d)
		f.Values["hours_"+d] = v
		*adminHoursField(&hours, d) = v
	}
	facilities, services := adminFormValues(c, "facilities"), adminFormValues(c, "services")
	if len(f.Errors) > 0 {
		f.Error = l.T("err.form")
		return p.renderDetails(c, fiber.StatusUnprocessableEntity, st, f, facilities, services, "")
	}
	name, address := f.Values["name"], f.Values["address"]
	_, err = p.h.Stations.Update(c.UserContext(), st.ID, StationChange{Name: &name, Address: &address, Lat: &lat, Lng: &lng,
		Hours: &hours, Facilities: &facilities, Services: &services})
	if status, ok := adminStationFailed(l, &f, err); ok {
		return p.renderDetails(c, status, st, f, facilities, services, "")
	}
	if err != nil {
		return err
	}
	web.Flash(c, "flash.council.a.saved")
	return seeOther(c, "/station/"+st.ID+"/details")
}

func (p *adminPages) addPhoto(c *fiber.Ctx) error {
	st, err := p.station(c, PermManage)
	if err != nil {
		return err
	}
	l := p.k.Lang(c)
	fh, err := c.FormFile("photo")
	if err != nil {
		return p.renderStored(c, fiber.StatusUnprocessableEntity, st, l.T("council.a.err.photo_missing"))
	}
	b, err := readPhoto(fh)
	if errors.Is(err, errPhotoTooLarge) {
		return p.renderStored(c, fiber.StatusRequestEntityTooLarge, st, l.T("council.a.err.photo_large", MaxPhotoBytes>>20))
	}
	if err != nil {
		return err
	}
	_, err = p.h.AddStationPhoto(c.UserContext(), st.ID, b)
	var ve *ValidationError
	switch {
	case errors.As(err, &ve):
		return p.renderStored(c, fiber.StatusUnprocessableEntity, st, adminReason(l, ve.Field, ve.Reason))
	case err != nil:
		return err
	}
	web.Flash(c, "flash.council.a.photo_added")
	return seeOther(c, "/station/"+st.ID+"/details")
}

func (p *adminPages) removePhoto(c *fiber.Ctx) error {
	st, err := p.station(c, PermManage)
	if err != nil {
		return err
	}
	l := p.k.Lang(c)
	key := web.Form(c, "key")
	if !slices.Contains(st.Photos, key) {
		return p.renderStored(c, fiber.StatusNotFound, st, l.T("council.a.err.no_photo"))
	}
	_, err = p.h.RemoveStationPhoto(c.UserContext(), st.ID, key)
	switch {
	case errors.Is(err, ErrPhotoNotFound):
		return p.renderStored(c, fiber.StatusNotFound, st, l.T("council.a.err.no_photo"))
	case err != nil:
		return err
	}
	web.Flash(c, "flash.council.a.photo_removed")
	return seeOther(c, "/station/"+st.ID+"/details")
}

// --- poster -----------------------------------------------------------------------

type adminHoursRow struct{ Day, Hours string }

type adminPosterPage struct {
	Station    Station
	CheckinURL string
	Hours      []adminHoursRow
	Facilities []string
}

// adminCheckinURL is the absolute address the poster's QR code holds, on
// the scheme and host the admin reached this site by (behind a trusted
// proxy, the ones the proxy names).
func adminCheckinURL(c *fiber.Ctx, station string) string {
	return c.BaseURL() + "/stations/" + url.PathEscape(station) + "/checkin"
}

func (p *adminPages) poster(c *fiber.Ctx) error {
	st, err := p.station(c, PermPoster)
	if err != nil {
		return err
	}
	l := p.k.Lang(c)
	data := adminPosterPage{Station: st, CheckinURL: adminCheckinURL(c, st.ID)}
	for _, d := range adminDays {
		data.Hours = append(data.Hours, adminHoursRow{Day: l.T("council.a.day." + d), Hours: hoursText(l, *adminHoursField(&st.Hours, d))})
	}
	for _, code := range st.Facilities {
		data.Facilities = append(data.Facilities, label(l, Facilities(), code))
	}
	return p.k.Render(c, fiber.StatusOK, web.PageArgs{Name: "poster", Title: "council.a.poster.title", Data: data})
}

func (p *adminPages) posterQR(c *fiber.Ctx) error {
	st, err := p.station(c, PermPoster)
	if err != nil {
		return err
	}
	png, err := qrcode.Encode(adminCheckinURL(c, st.ID), qrcode.Medium, adminQRSize)
	if err != nil {
		return fmt.Errorf("council: draw the poster's QR code: %w", err)
	}
	c.Set(fiber.HeaderContentType, "image/png")
	c.Set(fiber.HeaderCacheControl, "private, max-age=300")
	return c.Send(png)
}

// --- members ----------------------------------------------------------------------

type adminMemberRow struct {
	RiderID, Name, Since, Reason, Error string
}

type adminMembersPage struct {
	Station Station
	Rows    []adminMemberRow
	Error   string
}

func (p *adminPages) members(c *fiber.Ctx) error {
	st, err := p.station(c, PermMembers)
	if err != nil {
		return err
	}
	return p.renderMembers(c, fiber.StatusOK, st, "", "", "", "")
}

func (p *adminPages) renderMembers(c *fiber.Ctx, status int, st Station, pageErr, rider, reasonText, rowErr string) error {
	roster, err := p.h.Members.Roster(c.UserContext(), st.ID)
	if err != nil {
		return err
	}
	data := adminMembersPage{Station: st, Error: pageErr}
	for _, m := range roster {
		row := adminMemberRow{RiderID: m.RiderID, Name: m.Name, Since: p.k.When(m.Since)}
		if m.RiderID == rider {
			row.Reason, row.Error = reasonText, rowErr
		}
		data.Rows = append(data.Rows, row)
	}
	return p.k.Render(c, status, web.PageArgs{Name: "admin_members", Title: "council.a.members.title", Here: "/station/" + st.ID + "/members", Data: data})
}

func (p *adminPages) removeMember(c *fiber.Ctx) error {
	st, err := p.station(c, PermMembers)
	if err != nil {
		return err
	}
	l, ctx := p.k.Lang(c), c.UserContext()
	rider := strings.Clone(c.Params("rider"))
	why := web.Form(c, "reason")
	if ok, err := p.h.Members.IsMember(ctx, st.ID, rider); err != nil || !ok {
		if err != nil && !adminIDError(err) {
			return err
		}
		return p.renderMembers(c, fiber.StatusNotFound, st, l.T("council.a.err.not_member"), "", "", "")
	}
	name, err := p.h.Names.DisplayName(ctx, rider)
	if err != nil {
		return err
	}
	err = p.h.Members.Remove(ctx, st.ID, rider, userID(c), why)
	var ve *ValidationError
	switch {
	case errors.As(err, &ve):
		return p.renderMembers(c, fiber.StatusUnprocessableEntity, st, l.T("err.form"), rider, why, adminReason(l, ve.Field, ve.Reason))
	case errors.Is(err, ErrNotMember):
		return p.renderMembers(c, fiber.StatusConflict, st, l.T("council.a.err.not_member"), "", "", "")
	case errors.Is(err, ErrContended):
		return p.renderMembers(c, fiber.StatusServiceUnavailable, st, l.T("council.a.err.busy"), rider, why, "")
	case err != nil:
		return err
	}
	web.Flash(c, "flash.council.a.removed", name)
	return seeOther(c, "/station/"+st.ID+"/members")
}

// adminIDError reports a malformed id refused by the services' input checks.
func adminIDError(err error) bool {
	var ve *ValidationError
	return errors.As(err, &ve)
}

// --- feedback ---------------------------------------------------------------------

type adminItemRow struct {
	ID, Text, Category, Status, StatusText, Posted, Waited, PhotoURL, Answer, Reason string
	Supports                                                                         int
	Open, Awaiting                                                                   bool
	Proposal                                                                         string // the proposal it was adopted into
	Action, Value, Error                                                             string // a failed action, kept
}

type adminFeedbackPage struct {
	Station           Station
	Awaiting, Decided []adminItemRow
	Error             string
}

func (p *adminPages) feedback(c *fiber.Ctx) error {
	st, err := p.station(c, PermAnswer)
	if err != nil {
		return err
	}
	return p.renderFeedback(c, fiber.StatusOK, st, "", adminItemRow{})
}

// adminDecidedShown is how many decided items the feedback page lists.
const adminDecidedShown = 50

func (p *adminPages) renderFeedback(c *fiber.Ctx, status int, st Station, pageErr string, failed adminItemRow) error {
	ctx, l, now := c.UserContext(), p.k.Lang(c), p.now()
	items, err := p.allItems(ctx, st.ID)
	if err != nil {
		return err
	}
	data := adminFeedbackPage{Station: st, Error: pageErr}
	for _, it := range items {
		row := adminItemRow{ID: it.ID, Text: it.Text, Category: label(l, CategoryLabels(), string(it.Category)),
			Status: string(it.Status), StatusText: label(l, StatusLabels(), string(it.Status)), Posted: p.k.When(it.CreatedAt),
			Answer: it.Answer, Reason: it.Reason, Supports: it.Supports, Open: it.Status == StatusOpen,
			Awaiting: it.Status == StatusOpen || it.Status == StatusUnderReview}
		if it.PhotoKey != "" {
			row.PhotoURL = photoURL(it.PhotoKey)
		}
		if it.ID == failed.ID {
			row.Action, row.Value, row.Error = failed.Action, failed.Value, failed.Error
		}
		if row.Awaiting {
			row.Waited = waited(l, it.Waiting(now))
			data.Awaiting = append(data.Awaiting, row)
			continue
		}
		if len(data.Decided) >= adminDecidedShown {
			continue
		}
		if it.Status == StatusAdopted {
			if pid, ok, err := p.h.Proposals.ForItem(ctx, it.ID); err != nil {
				return err
			} else if ok {
				row.Proposal = pid
			}
		}
		data.Decided = append(data.Decided, row)
	}
	// Waiting longest first: items come newest first.
	slices.Reverse(data.Awaiting)
	return p.k.Render(c, status, web.PageArgs{Name: "admin_feedback", Title: "council.a.feedback.title", Here: "/station/" + st.ID + "/feedback", Data: data})
}

// adminItemActions maps a page action to the status it moves an item to.
var adminItemActions = map[string]FeedbackStatus{
	"review":  StatusUnderReview,
	"answer":  StatusAnswered,
	"decline": StatusDeclined,
	"adopt":   StatusAdopted,
}

func (p *adminPages) handleItem(c *fiber.Ctx) error {
	st, err := p.station(c, PermAnswer)
	if err != nil {
		return err
	}
	l, ctx := p.k.Lang(c), c.UserContext()
	it, err := p.item(c, st, strings.Clone(c.Params("item")))
	if err != nil {
		return err
	}
	action, text := web.Form(c, "action"), strings.TrimSpace(web.Form(c, "text"))
	failed := adminItemRow{ID: it.ID, Action: action, Value: text}
	to, ok := adminItemActions[action]
	if !ok {
		failed.Error = l.T("council.a.err.action")
		return p.renderFeedback(c, fiber.StatusUnprocessableEntity, st, l.T("err.form"), failed)
	}
	// The page checks the text first, so that an item is not moved under
	// review on the way to an answer that is then refused.
	switch n := utf8.RuneCountInString(text); {
	case n > MaxFeedbackText:
		failed.Error = l.T("council.a.err.text_long", MaxFeedbackText)
	case n == 0 && to == StatusAnswered:
		failed.Error = l.T("council.a.err.answer_empty")
	case n == 0 && to == StatusDeclined:
		failed.Error = l.T("council.a.err.reason_empty")
	case n == 0 && to == StatusAdopted:
		failed.Error = l.T("council.a.err.action_empty")
	}
	if failed.Error != "" {
		return p.renderFeedback(c, fiber.StatusUnprocessableEntity, st, l.T("err.form"), failed)
	}
	me := userID(c)
	// An open item is taken under review first: the decisions are made on
	// items under review (the pool's states), and the admin decides in one
	// step.
	if it.Status == StatusOpen && to != StatusUnderReview {
		if _, err := p.h.Feedback.Transition(ctx, it.ID, StatusUnderReview, me, ""); err != nil {
			return p.itemFailed(c, st, failed, err)
		}
	}
	if _, err := p.h.Feedback.Transition(ctx, it.ID, to, me, text); err != nil {
		return p.itemFailed(c, st, failed, err)
	}
	web.Flash(c, "flash.council.a.item_"+action)
	return seeOther(c, "/station/"+st.ID+"/feedback#item-"+it.ID)
}

func (p *adminPages) itemFailed(c *fiber.Ctx, st Station, failed adminItemRow, err error) error {
	l := p.k.Lang(c)
	var ve *ValidationError
	var te *FeedbackTransitionError
	status := fiber.StatusUnprocessableEntity
	switch {
	case errors.As(err, &ve):
		failed.Error = adminReason(l, ve.Field, ve.Reason)
	case errors.As(err, &te):
		status, failed.Error = fiber.StatusConflict, l.T("council.a.err.transition", label(l, StatusLabels(), string(te.From)))
	case errors.Is(err, ErrFeedbackNotFound):
		return fiber.NewError(fiber.StatusNotFound, l.T("council.a.err.no_item"))
	case errors.Is(err, ErrContended):
		status, failed.Error = fiber.StatusServiceUnavailable, l.T("council.a.err.busy")
	default:
		return err
	}
	return p.renderFeedback(c, status, st, failed.Error, failed)
}

// --- proposals --------------------------------------------------------------------

type adminProposalForm struct {
	web.FormState
	Station    Station
	Action     string // where the form posts
	Edit       bool
	ProposalID string
	FromItem   *adminItemRow
	Kinds      []web.Choice
	Secret     bool
	Existing   string // the proposal the item is in already
}

// adminProposalFields are the form's fields, as the services name them.
var adminProposalFields = map[string]string{
	"title": "title", "body": "body", "kind": "kind", "options": "options", "max_approvals": "max_approvals",
	"opens": "opens", "closes": "closes", "quorum_pct": "quorum_pct", "pass_pct": "pass_pct",
}

func (p *adminPages) newProposal(c *fiber.Ctx) error {
	st, err := p.station(c, PermProposals)
	if err != nil {
		return err
	}
	now := p.now()
	form := adminDraftForm(st, "", p.draftValues(vote.Proposal{Kind: vote.YesNoAbstain, Opens: now, Closes: now.Add(adminDefaultWindow),
		QuorumPct: adminDefaultQuorum, PassPct: adminDefaultPass}))
	if id := strings.TrimSpace(c.Query("from_item")); id != "" {
		it, err := p.item(c, st, id)
		if err != nil {
			return err
		}
		form.Values["from_item"] = it.ID
		form.Values["title"] = adminProposalTitle(it.Text)
		form.Values["body"] = it.Text
		if pid, ok, err := p.h.Proposals.ForItem(c.UserContext(), it.ID); err != nil {
			return err
		} else if ok {
			form.Existing = pid
		}
	}
	return p.renderProposalForm(c, fiber.StatusOK, form)
}

// adminProposalPath is the page of a station's proposal: its form while a
// draft, then its ballot's figures and outcomes.
func adminProposalPath(station, pid string) string {
	return "/station/" + station + "/proposals/" + pid + "/edit"
}

// adminDraftForm is station st's proposal form showing f: a new proposal's
// when pid is "", else the draft pid's.
func adminDraftForm(st Station, pid string, f web.FormState) adminProposalForm {
	if pid == "" {
		return adminProposalForm{FormState: f, Station: st, Action: "/station/" + st.ID + "/proposals/new"}
	}
	return adminProposalForm{FormState: f, Station: st, Action: adminProposalPath(st.ID, pid), Edit: true, ProposalID: pid}
}

// draftValues are the proposal form's fields holding pr's.
func (p *adminPages) draftValues(pr vote.Proposal) web.FormState {
	f := web.NewFormState()
	f.Values["title"], f.Values["body"], f.Values["kind"] = pr.Title, pr.Body, string(pr.Kind)
	f.Values["options"] = strings.Join(pr.Options, "\n")
	if pr.Kind == vote.Approval {
		f.Values["max_approvals"] = strconv.Itoa(pr.MaxApprovals)
	}
	if pr.Secret {
		f.Values["secret"] = "on"
	}
	f.Values["opens"] = pr.Opens.In(p.k.Zone()).Format(adminDatetime)
	f.Values["closes"] = pr.Closes.In(p.k.Zone()).Format(adminDatetime)
	f.Values["quorum_pct"] = strconv.FormatFloat(pr.QuorumPct, 'f', -1, 64)
	f.Values["pass_pct"] = strconv.FormatFloat(pr.PassPct, 'f', -1, 64)
	return f
}

// adminProposalTitle makes a title from an item's text: its first line, cut to
// 40 characters.
func adminProposalTitle(text string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(text), "\n")
	line = strings.TrimSpace(line)
	if r := []rune(line); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return line
}

func (p *adminPages) renderProposalForm(c *fiber.Ctx, status int, form adminProposalForm) error {
	l := p.k.Lang(c)
	for _, k := range []vote.Kind{vote.YesNoAbstain, vote.OneOf, vote.Approval} {
		form.Kinds = append(form.Kinds, web.Choice{Value: string(k), Label: l.T("council.a.kind." + string(k)), Checked: form.Values["kind"] == string(k)})
	}
	form.Secret = form.Values["secret"] != ""
	if id := form.Values["from_item"]; id != "" && form.FromItem == nil {
		if it, err := p.h.Feedback.Get(c.UserContext(), id); err == nil && it.Station == form.Station.ID {
			form.FromItem = &adminItemRow{ID: it.ID, Text: it.Text, Category: label(l, CategoryLabels(), string(it.Category)),
				StatusText: label(l, StatusLabels(), string(it.Status)), Supports: it.Supports}
		}
	}
	title := "council.a.proposal.new"
	if form.Edit {
		title = "council.a.proposal.edit"
	}
	return p.k.Render(c, status, web.PageArgs{Name: "admin_proposal_form", Title: title, Here: form.Action, Data: form})
}

// readDraft reads the proposal form. It returns the draft and the form as
// posted with the errors the page finds itself (times and numbers).
func (p *adminPages) readDraft(c *fiber.Ctx, st Station) (vote.Draft, web.FormState) {
	l := p.k.Lang(c)
	f := web.NewFormState()
	for _, name := range []string{"title", "body", "kind", "options", "max_approvals", "opens", "closes", "quorum_pct", "pass_pct", "from_item", "secret"} {
		f.Values[name] = web.Form(c, name)
	}
	d := vote.Draft{StationID: st.ID, Title: f.Values["title"], Body: f.Values["body"], Kind: vote.Kind(f.Values["kind"]),
		Secret: f.Values["secret"] != "", CreatedBy: userID(c)}
	if d.Kind != vote.YesNoAbstain {
		for _, o := range strings.Split(f.Values["options"], "\n") {
			if o = strings.TrimSpace(o); o != "" {
				d.Options = append(d.Options, o)
			}
		}
	}
	if d.Kind == vote.Approval {
		if v := strings.TrimSpace(f.Values["max_approvals"]); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				f.Errors["max_approvals"] = l.T("council.a.err.whole_number")
			}
			d.MaxApprovals = n
		}
	}
	var err error
	if d.Opens, err = p.readTime(f.Values["opens"]); err != nil {
		f.Errors["opens"] = l.T("council.a.err.time")
	}
	if d.Closes, err = p.readTime(f.Values["closes"]); err != nil {
		f.Errors["closes"] = l.T("council.a.err.time")
	}
	for _, field := range []struct {
		name string
		to   *float64
	}{{"quorum_pct", &d.QuorumPct}, {"pass_pct", &d.PassPct}} {
		v := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(f.Values[field.name]), "%"))
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
			f.Errors[field.name] = l.T("council.a.err.percent")
			continue
		}
		*field.to = n
	}
	// The service reads pass 0 as the default; the form says what it means.
	if d.PassPct == 0 && f.Errors["pass_pct"] == "" {
		f.Errors["pass_pct"] = adminReason(l, "pass_pct", "the pass threshold is a share of the votes cast between 50 and 100 %")
	}
	return d, f
}

// readTime reads a datetime-local value as a time in the pages' zone (UTC+8).
func (p *adminPages) readTime(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	for _, layout := range []string{adminDatetime, "2006-01-02T15:04:05", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, v, p.k.Zone()); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errors.New("not a time")
}

// draftFailed puts a service's refusal of a draft on the form, or returns
// false for an error that is not about the input.
func (p *adminPages) draftFailed(l web.Lang, form *adminProposalForm, err error) (int, bool) {
	var fe *vote.FieldError
	var te *FeedbackTransitionError
	switch {
	case errors.As(err, &fe):
		if field, ok := adminProposalFields[fe.Field]; ok {
			form.Errors[field] = adminReason(l, fe.Field, fe.Reason)
			form.Error = l.T("err.form")
		} else {
			form.Error = adminReason(l, fe.Field, fe.Reason)
		}
		return fiber.StatusUnprocessableEntity, true
	case errors.As(err, &te):
		form.Error = l.T("council.a.err.item_decided", label(l, StatusLabels(), string(te.From)))
		return fiber.StatusConflict, true
	case errors.Is(err, ErrItemHasProposal):
		form.Error = l.T("council.a.err.item_has_proposal")
		return fiber.StatusConflict, true
	case errors.Is(err, ErrContended):
		form.Error = l.T("council.a.err.busy")
		return fiber.StatusServiceUnavailable, true
	case errors.Is(err, vote.ErrOpen):
		form.Error = l.T("council.a.err.opened")
		return fiber.StatusConflict, true
	}
	return 0, false
}

func (p *adminPages) createProposal(c *fiber.Ctx) error {
	st, err := p.station(c, PermProposals)
	if err != nil {
		return err
	}
	d, f := p.readDraft(c, st)
	fromItem := strings.TrimSpace(f.Values["from_item"])
	if fromItem != "" {
		if _, err := p.item(c, st, fromItem); err != nil {
			return err
		}
	}
	return p.saveDraft(c, adminDraftForm(st, "", f), func(ctx context.Context) (string, error) {
		pr, err := p.h.Proposals.Put(ctx, d, fromItem)
		if errors.Is(err, ErrFeedbackNotFound) {
			return "", fiber.NewError(fiber.StatusNotFound, p.k.Lang(c).T("council.a.err.no_item"))
		}
		return pr.ID, err
	})
}

// saveDraft stores a proposal form's draft with save (which returns its id)
// and goes to the draft's page; or shows the form again with what is wrong:
// the page's own findings (times, numbers) before anything is stored, then
// the services' refusal.
func (p *adminPages) saveDraft(c *fiber.Ctx, form adminProposalForm, save func(context.Context) (string, error)) error {
	l := p.k.Lang(c)
	if len(form.Errors) > 0 {
		form.Error = l.T("err.form")
		return p.renderProposalForm(c, fiber.StatusUnprocessableEntity, form)
	}
	pid, err := save(c.UserContext())
	if status, ok := p.draftFailed(l, &form, err); ok {
		return p.renderProposalForm(c, status, form)
	}
	if err != nil {
		return err
	}
	return toProposal(c, form.Station.ID, pid, "flash.council.a.draft_saved")
}

// toProposal flashes msg and sends the browser to the proposal's page.
func toProposal(c *fiber.Ctx, station, pid, msg string, args ...string) error {
	web.Flash(c, msg, args...)
	return seeOther(c, adminProposalPath(station, pid))
}

func (p *adminPages) editProposal(c *fiber.Ctx) error {
	st, pr, err := p.proposal(c)
	if err != nil {
		return err
	}
	if pr.State != vote.StateDraft {
		return p.renderProposal(c, fiber.StatusOK, st, pr, web.NewFormState())
	}
	return p.renderProposalForm(c, fiber.StatusOK, adminDraftForm(st, pr.ID, p.draftValues(pr)))
}

// onDraft runs h on the proposal of the path while it is a draft. Past
// that, nothing is changed: the browser goes back to the proposal's page,
// with flash saying why.
func (p *adminPages) onDraft(flash string, h func(*fiber.Ctx, Station, vote.Proposal) error) fiber.Handler {
	return func(c *fiber.Ctx) error {
		st, pr, err := p.proposal(c)
		if err != nil {
			return err
		}
		if pr.State != vote.StateDraft {
			return toProposal(c, st.ID, pr.ID, flash)
		}
		return h(c, st, pr)
	}
}

func (p *adminPages) saveProposal(c *fiber.Ctx, st Station, pr vote.Proposal) error {
	d, f := p.readDraft(c, st)
	d.CreatedBy = pr.CreatedBy
	delete(f.Values, "from_item") // the link to an item is made once, at creation
	if item, err := p.h.Proposals.ItemOf(c.UserContext(), pr.ID); err != nil {
		return err
	} else if item != "" {
		f.Values["from_item"] = item
	}
	return p.saveDraft(c, adminDraftForm(st, pr.ID, f), func(ctx context.Context) (string, error) {
		_, err := p.h.Votes.Edit(ctx, pr.ID, d)
		return pr.ID, err
	})
}

func (p *adminPages) openProposal(c *fiber.Ctx, st Station, pr vote.Proposal) error {
	l := p.k.Lang(c)
	opened, err := p.h.Proposals.Open(c.UserContext(), pr.ID)
	var ce *vote.ClosedError
	switch {
	case errors.As(err, &ce):
		form := adminDraftForm(st, pr.ID, p.draftValues(pr))
		form.Errors["closes"] = l.T("council.a.err.window_passed", p.k.When(ce.At))
		form.Error = form.Errors["closes"]
		return p.renderProposalForm(c, fiber.StatusConflict, form)
	case errors.Is(err, vote.ErrNotFound):
		return fiber.NewError(fiber.StatusNotFound, l.T("council.a.err.no_proposal"))
	case err != nil:
		return err
	}
	return toProposal(c, st.ID, pr.ID, "flash.council.a.opened", strconv.Itoa(opened.RollSize))
}

type adminCountRow struct {
	Label  string
	Votes  int
	Pct    string
	Width  int // of 100, for the bar
	Winner bool
}

type adminTallyView struct {
	Rows                   []adminCountRow
	Ballots, Roll          int
	Turnout, Share, Winner string
	QuorumMet, Passed      bool
	ClosedAt, CountedAt    string
	Receipts               int
}

type adminOutcomeRow struct{ Kind, KindText, Text, At string }

type adminProposalPage struct {
	web.FormState
	Station                                      Station
	P                                            vote.Proposal
	Kind, StateText, Badge, Opens, Closes        string
	OpenedAt                                     string
	Choices                                      []string
	Tally                                        *adminTallyView
	Outcomes                                     []adminOutcomeRow
	OutcomeKinds                                 []web.Choice
	CanRecord, Done, Counting                    bool
	FromItem, QuorumPct, PassPct, MaxApprovalTxt string
}

func adminChoice(l web.Lang, kind vote.Kind, choice string) string {
	if kind == vote.YesNoAbstain {
		return l.T("council.a.choice." + choice)
	}
	return choice
}

func adminPct(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) }

func (p *adminPages) renderProposal(c *fiber.Ctx, status int, st Station, pr vote.Proposal, f web.FormState) error {
	ctx, l := c.UserContext(), p.k.Lang(c)
	outs, err := p.h.Proposals.Outcomes(ctx, pr.ID)
	if err != nil {
		return err
	}
	item, err := p.h.Proposals.ItemOf(ctx, pr.ID)
	if err != nil {
		return err
	}
	data := adminProposalPage{FormState: f, Station: st, P: pr, Kind: l.T("council.a.kind." + string(pr.Kind)),
		StateText: p.stateText(l, pr, p.now()), Badge: adminBadge(pr), Opens: p.k.When(pr.Opens), Closes: p.k.When(pr.Closes), FromItem: item,
		QuorumPct: adminPct(pr.QuorumPct), PassPct: adminPct(pr.PassPct), CanRecord: pr.State == vote.StateClosed,
		Counting: adminCounting(pr, p.now())}
	if !pr.OpenedAt.IsZero() {
		data.OpenedAt = p.k.When(pr.OpenedAt)
	}
	if pr.Kind == vote.Approval {
		data.MaxApprovalTxt = l.T("council.a.proposal.max_approvals_is", pr.MaxApprovals)
	}
	for _, ch := range pr.Choices() {
		data.Choices = append(data.Choices, adminChoice(l, pr.Kind, ch))
	}
	if t := pr.Tally; t != nil {
		tv := &adminTallyView{Ballots: t.Ballots, Roll: t.Roll, Turnout: adminPct(t.TurnoutPct), Share: adminPct(t.SharePct),
			QuorumMet: t.QuorumMet, Passed: t.Passed, ClosedAt: p.k.When(t.ClosedAt), CountedAt: p.k.When(t.CountedAt), Receipts: len(t.Receipts)}
		if t.Winner != "" {
			tv.Winner = adminChoice(l, pr.Kind, t.Winner)
		}
		for _, oc := range t.Counts {
			row := adminCountRow{Label: adminChoice(l, pr.Kind, oc.Option), Votes: oc.Votes, Winner: oc.Option == t.Winner}
			if t.Ballots > 0 {
				share := float64(oc.Votes) / float64(t.Ballots) * 100
				row.Pct, row.Width = adminPct(share), int(math.Round(share))
			} else {
				row.Pct = "0"
			}
			tv.Rows = append(tv.Rows, row)
		}
		data.Tally = tv
	}
	last := OutcomeKind("")
	for _, o := range outs {
		data.Outcomes = append(data.Outcomes, adminOutcomeRow{Kind: string(o.Kind), KindText: l.T("council.a.outcome." + string(o.Kind)), Text: o.Text, At: p.k.When(o.At)})
		last = o.Kind
	}
	data.Done = last == OutcomeDone
	data.CanRecord = data.CanRecord && !data.Done
	var kinds []OutcomeKind
	switch last {
	case "":
		kinds = []OutcomeKind{OutcomeDecision}
	case OutcomeDone:
	default:
		kinds = []OutcomeKind{OutcomeProgress, OutcomeDone}
	}
	for i, k := range kinds {
		checked := f.Values["kind"] == string(k) || (f.Values["kind"] == "" && i == 0)
		data.OutcomeKinds = append(data.OutcomeKinds, web.Choice{Value: string(k), Label: l.T("council.a.outcome." + string(k)), Checked: checked})
	}
	return p.k.Render(c, status, web.PageArgs{Name: "admin_proposal", Title: "council.a.proposal.title", Here: adminProposalPath(st.ID, pr.ID), Data: data})
}

func (p *adminPages) recordOutcome(c *fiber.Ctx) error {
	st, pr, err := p.proposal(c)
	if err != nil {
		return err
	}
	l := p.k.Lang(c)
	f := web.NewFormState()
	f.Values["kind"], f.Values["text"] = web.Form(c, "kind"), web.Form(c, "text")
	kind := OutcomeKind(f.Values["kind"])
	if pr.State != vote.StateClosed {
		f.Error = l.T("council.a.err.not_closed", p.k.When(pr.Closes))
		if adminCounting(pr, p.now()) {
			f.Error = l.T("council.a.err.counting")
		}
		return p.renderProposal(c, fiber.StatusConflict, st, pr, f)
	}
	_, err = p.h.Proposals.Record(c.UserContext(), pr.ID, userID(c), kind, f.Values["text"])
	var ve *ValidationError
	switch {
	case errors.As(err, &ve):
		field := ve.Field
		if field != "kind" {
			field = "text"
		}
		f.Errors[field], f.Error = adminReason(l, ve.Field, ve.Reason), l.T("err.form")
		return p.renderProposal(c, fiber.StatusUnprocessableEntity, st, pr, f)
	case errors.Is(err, vote.ErrNotClosed):
		f.Error = l.T("council.a.err.not_closed", p.k.When(pr.Closes))
		return p.renderProposal(c, fiber.StatusConflict, st, pr, f)
	case errors.Is(err, vote.ErrNotFound):
		return fiber.NewError(fiber.StatusNotFound, l.T("council.a.err.no_proposal"))
	case err != nil:
		return err
	}
	web.Flash(c, "flash.council.a.outcome_recorded")
	return seeOther(c, adminProposalPath(st.ID, pr.ID)+"#outcomes")
}

// --- visits -----------------------------------------------------------------------

type adminBar struct {
	Day, Short        string
	Visitors          int
	X, Y, W, H, TextX int
	Label             bool
}

type adminVisitsPage struct {
	Station                   Station
	Days                      []adminBar
	Total, Peak, Week         int
	ChartW, ChartH, Scale     int
	Pad, Base, AxisEnd, TickY int
	PeakDay                   string
}

// The visits chart, in SVG user units: bars adminBarW wide under a plot
// adminPlotH high that starts adminPlotTop down (room for the scale), with
// adminPad at either side so the first and last day's labels fit.
const (
	adminBarW    = 20
	adminPlotH   = 160
	adminPlotTop = 24
	adminPad     = 24
	adminTicksH  = 34
)

func (p *adminPages) visits(c *fiber.Ctx) error {
	st, err := p.station(c, PermFigures)
	if err != nil {
		return err
	}
	days, err := p.h.Visits.Figures(c.UserContext(), st.ID, adminVisitDays)
	if err != nil {
		return err
	}
	base := adminPlotTop + adminPlotH
	data := adminVisitsPage{Station: st, ChartW: len(days)*adminBarW + 2*adminPad, ChartH: base + adminTicksH,
		Pad: adminPad, Base: base, AxisEnd: adminPad + len(days)*adminBarW, TickY: base + 26}
	for i, d := range days {
		data.Total += d.Visitors
		if i >= len(days)-adminWeekDays {
			data.Week += d.Visitors
		}
		if d.Visitors > data.Peak {
			data.Peak, data.PeakDay = d.Visitors, d.Day
		}
	}
	data.Scale = max(data.Peak, 1)
	for i, d := range days {
		h := d.Visitors * adminPlotH / data.Scale
		if d.Visitors > 0 && h < 2 {
			h = 2 // a day with visitors shows as a bar
		}
		short := d.Day
		if len(short) == len("2006-01-02") {
			short = short[5:]
		}
		// Today is labelled, and every seventh day before it.
		data.Days = append(data.Days, adminBar{Day: d.Day, Short: short, Visitors: d.Visitors, X: adminPad + i*adminBarW + 2, W: adminBarW - 4,
			Y: base - h, H: h, TextX: adminPad + i*adminBarW + adminBarW/2, Label: (len(days)-1-i)%7 == 0})
	}
	slices.Reverse(data.Days) // the table lists the newest first; the chart reverses it back
	return p.k.Render(c, fiber.StatusOK, web.PageArgs{Name: "admin_visits", Title: "council.a.visits.title", Data: data})
}

// --- admins: every station -------------------------------------------------------------

type adminStationRow struct {
	Station
	adminCounts
	OpenNow                  bool
	AdminNames               []string
	AssignValue, AssignError string
}

type adminStationsPage struct {
	web.FormState
	Rows     []adminStationRow
	Accounts []StationAdminAccount
	Pick     bool // false: no list of accounts, the form asks for an id
	Totals   adminCounts
}

func (p *adminPages) stations(c *fiber.Ctx) error {
	return p.renderStations(c, fiber.StatusOK, web.NewFormState(), "", "", "")
}

func (p *adminPages) renderStations(c *fiber.Ctx, status int, f web.FormState, assignStation, assignValue, assignErr string) error {
	ctx, now := c.UserContext(), p.now()
	sts, err := p.h.Stations.List(ctx)
	if err != nil {
		return err
	}
	data := adminStationsPage{FormState: f}
	if lister, ok := p.h.Names.(StationAdminAccounts); ok {
		accts, err := lister.StationAdminAccounts(ctx)
		if err != nil {
			return err
		}
		for _, a := range accts {
			if !a.Disabled {
				data.Accounts = append(data.Accounts, a)
			}
		}
		data.Pick = true
	}
	for _, st := range sts {
		row := adminStationRow{Station: st, OpenNow: st.OpenNow(now)}
		for _, id := range st.Admins {
			name, err := p.h.Names.DisplayName(ctx, id)
			if err != nil || name == "" {
				name = id
			}
			row.AdminNames = append(row.AdminNames, name)
		}
		if row.adminCounts, _, err = p.counts(ctx, st.ID, adminWeekDays); err != nil {
			return err
		}
		if st.ID == assignStation {
			row.AssignValue, row.AssignError = assignValue, assignErr
		}
		data.Totals.add(row.adminCounts)
		data.Rows = append(data.Rows, row)
	}
	return p.k.Render(c, status, web.PageArgs{Name: "admin_stations", Title: "council.a.stations.title", Here: "/admin/stations", Data: data})
}

func (p *adminPages) createStation(c *fiber.Ctx) error {
	l := p.k.Lang(c)
	f := web.NewFormState()
	lat, lng := adminReadPlace(c, l, &f)
	if len(f.Errors) > 0 {
		f.Error = l.T("err.form")
		return p.renderStations(c, fiber.StatusUnprocessableEntity, f, "", "", "")
	}
	st, err := p.h.Stations.Create(c.UserContext(), NewStation{Name: f.Values["name"], Address: f.Values["address"], Lat: lat, Lng: lng})
	if status, ok := adminStationFailed(l, &f, err); ok {
		return p.renderStations(c, status, f, "", "", "")
	}
	if err != nil {
		return err
	}
	web.Flash(c, "flash.council.a.station_created", st.Name)
	return seeOther(c, "/admin/stations#station-"+st.ID)
}

func (p *adminPages) openStation(c *fiber.Ctx) error  { return p.setOpen(c, true) }
func (p *adminPages) closeStation(c *fiber.Ctx) error { return p.setOpen(c, false) }

func (p *adminPages) setOpen(c *fiber.Ctx, open bool) error {
	st, err := p.h.Stations.SetOpen(c.UserContext(), strings.Clone(c.Params("id")), open)
	if errors.Is(err, ErrNotFound) {
		return fiber.NewError(fiber.StatusNotFound, p.k.Lang(c).T("council.a.err.no_station"))
	}
	if err != nil {
		return err
	}
	if open {
		web.Flash(c, "flash.council.a.station_opened", st.Name)
	} else {
		web.Flash(c, "flash.council.a.station_closed", st.Name)
	}
	return seeOther(c, "/admin/stations#station-"+st.ID)
}

func (p *adminPages) assignAdmin(c *fiber.Ctx) error {
	l := p.k.Lang(c)
	id := strings.Clone(c.Params("id"))
	user := strings.TrimSpace(web.Form(c, "user_id"))
	if user == "" {
		return p.renderStations(c, fiber.StatusUnprocessableEntity, web.NewFormState(), id, user, l.T("council.a.err.pick_admin"))
	}
	st, err := p.h.Stations.AddAdmin(c.UserContext(), id, user)
	var ve *ValidationError
	switch {
	case errors.Is(err, ErrNotFound):
		return fiber.NewError(fiber.StatusNotFound, l.T("council.a.err.no_station"))
	case errors.As(err, &ve):
		return p.renderStations(c, fiber.StatusUnprocessableEntity, web.NewFormState(), id, user, l.T("council.a.err.not_station_admin"))
	case err != nil:
		return err
	}
	name, err := p.h.Names.DisplayName(c.UserContext(), user)
	if err != nil || name == "" {
		name = user
	}
	web.Flash(c, "flash.council.a.admin_assigned", name, st.Name)
	return seeOther(c, "/admin/stations#station-"+st.ID)
}

// --- words ------------------------------------------------------------------------

// adminReasons translates the services' English reasons these pages show.
var adminReasons = map[string]string{
	"enter a name of 1 to 60 characters":                                   "请填写 1 到 60 个字的名称。",
	"use at most 200 characters":                                           "最多 200 个字。",
	"latitude must be between -90 and 90":                                  "纬度须在 -90 到 90 之间。",
	"longitude must be between -180 and 180":                               "经度须在 -180 到 180 之间。",
	"give a reason of 1 to 500 characters":                                 "请填写 1 到 500 个字的理由。",
	"a station shows at most 12 photos; remove one first":                  "每个驿站最多展示 12 张照片，请先删除一张。",
	"a station shows at most 12 photos":                                    "每个驿站最多展示 12 张照片。",
	"the photo is empty":                                                   "照片是空的，请重新选择。",
	"send a photo of at most 10 MB":                                        "照片不能超过 10 MB。",
	"choose decision, progress or done":                                    "请选择：决定、进展或完成。",
	"write 1 to 2000 characters":                                           "请填写 1 到 2000 个字。",
	"record the decision first":                                            "请先记录决定。",
	"the decision is recorded already; add progress or mark it done":       "决定已记录，请添加进展或标记完成。",
	"this proposal is done; nothing more is recorded":                      "此提案已完成，不再记录。",
	"use at most 2000 characters":                                          "最多 2000 个字。",
	"write the answer members will read":                                   "请填写成员将看到的答复。",
	"write the reason members will read":                                   "请填写成员将看到的理由。",
	"enter a title of 1 to 120 characters":                                 "请填写 1 到 120 个字的标题。",
	"use at most 5000 characters":                                          "最多 5000 个字。",
	"a for / against / abstain ballot has no options of its own":           "赞成/反对/弃权的表决没有自定义选项。",
	"give 2 to 20 options":                                                 "请填写 2 到 20 个选项，每行一个。",
	"choose yes_no_abstain, one_of or approval":                            "请选择表决方式。",
	"give the voting window's opening and closing times":                   "请填写投票开始和截止时间。",
	"voting must close after it opens":                                     "截止时间须晚于开始时间。",
	"a voting window lasts at most 60 days":                                "投票期最长 60 天。",
	"the quorum is a share of the roll between 0 and 100 %":                "法定人数是选民名册的比例，须在 0 到 100 % 之间。",
	"the pass threshold is a share of the votes cast between 50 and 100 %": "通过门槛是有效票的比例，须在 50 到 100 % 之间。",
}

// adminReasonPattern translates the reasons that carry a value.
func adminReasonPattern(en string) (string, bool) {
	var a, b int
	switch {
	case strings.HasPrefix(en, "send a JPEG, PNG or WebP photo"):
		return "请上传 JPEG、PNG 或 WebP 格式的照片。", true
	case strings.HasPrefix(en, "allow 1 to "):
		if _, err := fmt.Sscanf(en, "allow 1 to %d approvals", &a); err == nil {
			return fmt.Sprintf("最多可选项数须为 1 到 %d。", a), true
		}
	case strings.HasPrefix(en, "option ") && strings.HasSuffix(en, " characters"):
		if _, err := fmt.Sscanf(en, "option %d must have 1 to %d characters", &a, &b); err == nil {
			return fmt.Sprintf("第 %d 个选项须为 1 到 %d 个字。", a, b), true
		}
	case strings.HasPrefix(en, "option ") && strings.HasSuffix(en, " appears twice"):
		return "选项重复：" + strings.TrimSuffix(strings.TrimPrefix(en, "option "), " appears twice"), true
	}
	return "", false
}

var adminMessages = map[string]web.Msg{
	"council.a.nav.stations":              {ZH: "驿站管理", EN: "Stations"},
	"council.a.public_page":               {ZH: "查看驿站公开页面", EN: "See the station's public page"},
	"council.a.back_dash":                 {ZH: "← 返回议事会管理", EN: "← Back to the council dashboard"},
	"council.a.save":                      {ZH: "保存", EN: "Save"},
	"council.a.open_now":                  {ZH: "正在营业", EN: "Open now"},
	"council.a.closed_now":                {ZH: "暂未营业", EN: "Closed now"},
	"council.a.closed_by_admins":          {ZH: "（管理员已关闭本站）", EN: "(closed by the admins)"},
	"council.a.dash.title":                {ZH: "议事会管理", EN: "Council dashboard"},
	"council.a.dash.members":              {ZH: "议事会成员", EN: "Council members"},
	"council.a.dash.awaiting":             {ZH: "待处理反馈", EN: "Feedback awaiting a decision"},
	"council.a.dash.open_proposals":       {ZH: "投票中的提案", EN: "Proposals open for voting"},
	"council.a.dash.visitors_today":       {ZH: "今日签到", EN: "Visitors today"},
	"council.a.dash.manage":               {ZH: "管理", EN: "Manage"},
	"council.a.dash.proposals":            {ZH: "提案", EN: "Proposals"},
	"council.a.dash.no_proposals":         {ZH: "还没有提案。可以从成员的反馈中采纳，或新建一个。", EN: "No proposals yet. Adopt one from the members' feedback, or start a new one."},
	"council.a.day.mon":                   {ZH: "周一", EN: "Monday"},
	"council.a.day.tue":                   {ZH: "周二", EN: "Tuesday"},
	"council.a.day.wed":                   {ZH: "周三", EN: "Wednesday"},
	"council.a.day.thu":                   {ZH: "周四", EN: "Thursday"},
	"council.a.day.fri":                   {ZH: "周五", EN: "Friday"},
	"council.a.day.sat":                   {ZH: "周六", EN: "Saturday"},
	"council.a.day.sun":                   {ZH: "周日", EN: "Sunday"},
	"council.a.details.title":             {ZH: "驿站信息", EN: "Station details"},
	"council.a.details.name":              {ZH: "名称", EN: "Name"},
	"council.a.details.address":           {ZH: "地址", EN: "Address"},
	"council.a.details.lat":               {ZH: "纬度（WGS-84）", EN: "Latitude (WGS-84)"},
	"council.a.details.lng":               {ZH: "经度（WGS-84）", EN: "Longitude (WGS-84)"},
	"council.a.details.position_hint":     {ZH: "填写 GPS（WGS-84）坐标，例如 28.1941、112.9823。导航链接会自动换算成各地图使用的坐标。", EN: "Give the GPS (WGS-84) position, such as 28.1941, 112.9823. Navigation links convert it to each map app's coordinates."},
	"council.a.details.hours":             {ZH: "营业时间", EN: "Opening hours"},
	"council.a.details.hours_hint":        {ZH: "例如 08:00-20:00；多段用逗号分隔，如 07:00-11:00,17:00-23:30；全天写 24h；休息日留空。", EN: "Such as 08:00-20:00; several ranges with commas, such as 07:00-11:00,17:00-23:30; 24h for all day; leave empty on closed days."},
	"council.a.details.facilities":        {ZH: "设施", EN: "Facilities"},
	"council.a.details.services":          {ZH: "服务", EN: "Services"},
	"council.a.details.photos":            {ZH: "照片", EN: "Photos"},
	"council.a.details.no_photos":         {ZH: "还没有照片。", EN: "No photos yet."},
	"council.a.details.photo_alt":         {ZH: "驿站照片", EN: "Photo of the station"},
	"council.a.details.photo_remove":      {ZH: "删除这张照片", EN: "Remove this photo"},
	"council.a.details.photo_add":         {ZH: "添加照片（JPEG、PNG 或 WebP，不超过 %d MB）", EN: "Add a photo (JPEG, PNG or WebP, at most %d MB)"},
	"council.a.details.photo_upload":      {ZH: "上传照片", EN: "Upload the photo"},
	"council.a.details.photos_full":       {ZH: "照片已满，请先删除一张再添加。", EN: "The station shows as many photos as it may; remove one to add another."},
	"council.a.poster.title":              {ZH: "签到海报", EN: "Check-in poster"},
	"council.a.poster.hint":               {ZH: "用 A4 纸打印，贴在驿站门口或休息区。骑手扫码即可签到。", EN: "Print it on A4 and put it up at the door or in the rest area. Riders scan it to check in."},
	"council.a.poster.print":              {ZH: "打印海报", EN: "Print the poster"},
	"council.a.poster.qr_alt":             {ZH: "签到二维码：%s", EN: "Check-in QR code: %s"},
	"council.a.poster.hours":              {ZH: "营业时间 · Opening hours", EN: "Opening hours · 营业时间"},
	"council.a.hours.closed":              {ZH: "休息", EN: "Closed"},
	"council.a.hours.all_day":             {ZH: "全天开放", EN: "Open 24 hours"},
	"council.a.members.title":             {ZH: "议事会成员", EN: "Council members"},
	"council.a.members.count":             {ZH: "共 %d 名成员。", EN: "%d members."},
	"council.a.members.privacy":           {ZH: "名册只显示昵称，不显示手机号。", EN: "The roster shows display names only, never phone numbers."},
	"council.a.members.since":             {ZH: "%s 加入", EN: "member since %s"},
	"council.a.members.remove":            {ZH: "移出议事会…", EN: "Remove from the council…"},
	"council.a.members.reason":            {ZH: "移出理由（成员会看到）", EN: "Reason (the member will see it)"},
	"council.a.members.reason_hint":       {ZH: "1 到 500 个字。被移出的成员以后可以重新加入。", EN: "1 to 500 characters. A removed member may join again later."},
	"council.a.members.remove_confirm":    {ZH: "确认移出", EN: "Remove this member"},
	"council.a.members.none":              {ZH: "还没有成员。骑手扫描签到海报后可以加入议事会。", EN: "No members yet. Riders join after scanning the check-in poster."},
	"council.a.feedback.title":            {ZH: "处理反馈", EN: "Handle feedback"},
	"council.a.feedback.public":           {ZH: "查看成员看到的反馈池", EN: "See the feedback pool as members see it"},
	"council.a.feedback.awaiting":         {ZH: "待处理（%d，等待最久的在前）", EN: "Awaiting a decision (%d, longest waiting first)"},
	"council.a.feedback.supports":         {ZH: "%d 人支持", EN: "%d supports"},
	"council.a.feedback.waited":           {ZH: "已等待 %s", EN: "Waiting for %s"},
	"council.a.feedback.photo_alt":        {ZH: "反馈附带的照片", EN: "The photo sent with the feedback"},
	"council.a.feedback.open_item":        {ZH: "查看详情和处理记录", EN: "See the item and its history"},
	"council.a.feedback.action":           {ZH: "处理方式", EN: "What to do"},
	"council.a.feedback.review":           {ZH: "开始审议", EN: "Take under review"},
	"council.a.feedback.answer":           {ZH: "公开答复", EN: "Answer publicly"},
	"council.a.feedback.decline":          {ZH: "不予采纳", EN: "Decline"},
	"council.a.feedback.adopt":            {ZH: "采纳并落实", EN: "Adopt as an action"},
	"council.a.feedback.text":             {ZH: "答复、理由或落实措施", EN: "Answer, reason or the action to take"},
	"council.a.feedback.text_hint":        {ZH: "成员都能看到。答复、不予采纳和采纳落实都需要填写；开始审议可留空。", EN: "Members read it. Needed to answer, decline or adopt; optional when taking under review."},
	"council.a.feedback.submit":           {ZH: "提交", EN: "Submit"},
	"council.a.feedback.to_proposal":      {ZH: "采纳为提案，交成员投票", EN: "Adopt into a proposal for a vote"},
	"council.a.feedback.none_awaiting":    {ZH: "没有待处理的反馈。", EN: "No feedback is waiting."},
	"council.a.feedback.decided":          {ZH: "已处理", EN: "Decided"},
	"council.a.feedback.none_decided":     {ZH: "还没有处理过的反馈。", EN: "Nothing decided yet."},
	"council.a.feedback.answer_was":       {ZH: "答复：", EN: "Answer:"},
	"council.a.feedback.note_was":         {ZH: "说明：", EN: "Note:"},
	"council.a.feedback.reason_was":       {ZH: "理由：", EN: "Reason:"},
	"council.a.feedback.its_proposal":     {ZH: "查看由此产生的提案", EN: "See the proposal it became"},
	"council.a.kind.yes_no_abstain":       {ZH: "赞成 / 反对 / 弃权", EN: "For / against / abstain"},
	"council.a.kind.one_of":               {ZH: "单选（多个选项选一个）", EN: "One of several options"},
	"council.a.kind.approval":             {ZH: "多选（可选多个选项）", EN: "Several of several (approval)"},
	"council.a.choice.yes":                {ZH: "赞成", EN: "For"},
	"council.a.choice.no":                 {ZH: "反对", EN: "Against"},
	"council.a.choice.abstain":            {ZH: "弃权", EN: "Abstain"},
	"council.a.state.draft":               {ZH: "草稿", EN: "Draft"},
	"council.a.state.opens":               {ZH: "%s 开始投票", EN: "Voting opens %s"},
	"council.a.state.open":                {ZH: "投票中，%s 截止", EN: "Open until %s"},
	"council.a.state.counting":            {ZH: "投票已截止，正在计票", EN: "Voting closed; counting"},
	"council.a.state.passed":              {ZH: "已通过", EN: "Passed"},
	"council.a.state.failed":              {ZH: "未通过", EN: "Not passed"},
	"council.a.outcome.decision":          {ZH: "决定", EN: "Decision"},
	"council.a.outcome.progress":          {ZH: "进展", EN: "Progress"},
	"council.a.outcome.done":              {ZH: "已完成", EN: "Done"},
	"council.a.proposal.title":            {ZH: "提案", EN: "Proposal"},
	"council.a.proposal.new":              {ZH: "新建提案", EN: "New proposal"},
	"council.a.proposal.edit":             {ZH: "修改提案草稿", EN: "Edit the draft proposal"},
	"council.a.proposal.item_has_one":     {ZH: "这条反馈已经形成提案。", EN: "This feedback has become a proposal already."},
	"council.a.proposal.see_it":           {ZH: "查看该提案", EN: "See that proposal"},
	"council.a.proposal.from_item":        {ZH: "来自成员反馈", EN: "From a member's feedback"},
	"council.a.proposal.from_item_hint":   {ZH: "保存草稿时，这条反馈即被采纳，作者获得积分。", EN: "Saving the draft adopts this feedback, which earns its author points."},
	"council.a.proposal.f_title":          {ZH: "标题", EN: "Title"},
	"council.a.proposal.f_body":           {ZH: "说明", EN: "Description"},
	"council.a.proposal.f_kind":           {ZH: "表决方式", EN: "Ballot"},
	"council.a.proposal.kind_hint":        {ZH: "表决方式创建后在开启投票前可改，开启后不能再改。", EN: "The ballot can be changed until voting opens, never after."},
	"council.a.proposal.f_options":        {ZH: "选项（每行一个）", EN: "Options (one per line)"},
	"council.a.proposal.options_hint":     {ZH: "单选和多选需要 2 到 20 个选项。", EN: "One-of and approval ballots need 2 to 20 options."},
	"council.a.proposal.f_max":            {ZH: "最多可选几项", EN: "Most options a voter may approve"},
	"council.a.proposal.max_hint":         {ZH: "多选时使用；留空表示不限。", EN: "For approval ballots; leave empty for no limit."},
	"council.a.proposal.f_secret":         {ZH: "无记名投票", EN: "Secret ballot"},
	"council.a.proposal.secret_hint":      {ZH: "无记名投票不记录谁投了什么，投出后不能更改；记名投票在截止前可以改票，并保留记录。", EN: "A secret ballot keeps no link from a member to a choice and a vote is final; on an open ballot members may change their vote before close, with the history kept."},
	"council.a.proposal.f_opens":          {ZH: "开始时间", EN: "Voting opens"},
	"council.a.proposal.f_closes":         {ZH: "截止时间", EN: "Voting closes"},
	"council.a.proposal.window_hint":      {ZH: "北京时间（UTC+8）。投票期最长 60 天；到截止时间自动结束并计票。", EN: "China time (UTC+8). A window lasts at most 60 days; voting ends and is counted at the closing time."},
	"council.a.proposal.f_quorum":         {ZH: "法定人数（成员的 %）", EN: "Quorum (% of members)"},
	"council.a.proposal.f_pass":           {ZH: "通过门槛（有效票的 %）", EN: "Pass threshold (% of votes)"},
	"council.a.proposal.thresholds_hint":  {ZH: "投票人数达到法定人数、且得票超过通过门槛，提案才通过。弃权计入投票人数，不计入有效票。", EN: "A proposal passes when turnout reaches the quorum and its share of the votes is above the threshold. Abstentions count for turnout, not among the votes."},
	"council.a.proposal.save_draft":       {ZH: "保存草稿", EN: "Save the draft"},
	"council.a.proposal.open_title":       {ZH: "开启投票", EN: "Open voting"},
	"council.a.proposal.open_hint":        {ZH: "开启时，本站此刻的议事会成员成为选民名册，之后加入的成员不能对此提案投票。开启后提案不能再修改，成员会收到站内通知。", EN: "Opening freezes the voter roll as this station's council members at that moment: members who join later cannot vote on it. The proposal can no longer be edited, and members are told in their inbox."},
	"council.a.proposal.open":             {ZH: "开启投票", EN: "Open voting"},
	"council.a.proposal.secret":           {ZH: "无记名", EN: "Secret ballot"},
	"council.a.proposal.public":           {ZH: "查看成员看到的提案页", EN: "See the proposal as members see it"},
	"council.a.proposal.its_item":         {ZH: "来源反馈", EN: "The feedback it came from"},
	"council.a.proposal.choices":          {ZH: "选项", EN: "Choices"},
	"council.a.proposal.window":           {ZH: "投票期（北京时间）", EN: "Voting window (China time)"},
	"council.a.proposal.thresholds":       {ZH: "法定人数 / 通过门槛", EN: "Quorum / pass threshold"},
	"council.a.proposal.thresholds_are":   {ZH: "%s %% 的成员 / 超过 %s %% 的有效票", EN: "%s %% of members / over %s %% of the votes"},
	"council.a.proposal.opened_at":        {ZH: "开启时间", EN: "Opened"},
	"council.a.proposal.roll":             {ZH: "选民名册", EN: "Voter roll"},
	"council.a.proposal.roll_is":          {ZH: "%d 名成员", EN: "%d members"},
	"council.a.proposal.max_approvals_is": {ZH: "最多选 %d 项", EN: "at most %d choices"},
	"council.a.proposal.hidden":           {ZH: "结果在投票截止后公布。", EN: "Results are shown once voting has closed."},
	"council.a.proposal.counting":         {ZH: "投票已截止，正在计票，请过几秒刷新。", EN: "Voting has closed and is being counted; reload in a few seconds."},
	"council.a.proposal.results":          {ZH: "投票结果", EN: "Results"},
	"council.a.proposal.leading":          {ZH: "得票最多：%s", EN: "Most votes: %s"},
	"council.a.proposal.turnout":          {ZH: "%d / %d 名成员投票（%s %%）", EN: "%d of %d members voted (%s %%)"},
	"council.a.proposal.quorum_met":       {ZH: "达到法定人数", EN: "quorum met"},
	"council.a.proposal.quorum_missed":    {ZH: "未达到法定人数", EN: "quorum not met"},
	"council.a.proposal.counted":          {ZH: "%s 计票，公布了 %d 个投票回执供成员核对。", EN: "Counted at %s; %d receipts are published for members to check."},
	"council.a.proposal.outcomes":         {ZH: "落实情况", EN: "What was done"},
	"council.a.proposal.no_outcomes":      {ZH: "还没有记录。", EN: "Nothing recorded yet."},
	"council.a.proposal.outcome_kind":     {ZH: "记录类型", EN: "Kind of entry"},
	"council.a.proposal.outcome_text":     {ZH: "内容（成员会在提案页和站内通知中看到）", EN: "Text (members see it on the proposal and in their inbox)"},
	"council.a.proposal.outcome_hint":     {ZH: "先记录决定，再记录进展，最后标记完成。", EN: "Record the decision first, then progress, then mark it done."},
	"council.a.proposal.record":           {ZH: "记录并通知成员", EN: "Record and tell the members"},
	"council.a.proposal.done":             {ZH: "此提案已落实完成。", EN: "This proposal has been carried out."},
	"council.a.proposal.outcomes_later":   {ZH: "投票截止后可以记录决定和落实进展。", EN: "The decision and progress are recorded once voting has closed."},
	"council.a.visits.title":              {ZH: "签到统计", EN: "Visits"},
	"council.a.visits.total":              {ZH: "近 30 天签到", EN: "Visits, last 30 days"},
	"council.a.visits.week":               {ZH: "近 7 天签到", EN: "Visits, last 7 days"},
	"council.a.visits.peak":               {ZH: "单日最多", EN: "Busiest day"},
	"council.a.visits.hint":               {ZH: "每位骑手每天在本站最多计一次（北京时间）。", EN: "Each rider counts once a day at this station (China time)."},
	"council.a.visits.chart":              {ZH: "近 30 天每日签到人数，共 %d 人次", EN: "Visitors per day over the last 30 days, %d in all"},
	"council.a.visits.axis_max":           {ZH: "最高 %d 人", EN: "Top of the scale: %d"},
	"council.a.visits.table":              {ZH: "按日查看", EN: "Day by day"},
	"council.a.visits.day":                {ZH: "日期", EN: "Day"},
	"council.a.visits.visitors":           {ZH: "签到人数", EN: "Visitors"},
	"council.a.stations.title":            {ZH: "驿站管理", EN: "Stations"},
	"council.a.stations.count":            {ZH: "驿站", EN: "Stations"},
	"council.a.stations.visitors7":        {ZH: "近 7 天签到", EN: "Visits, last 7 days"},
	"council.a.stations.closed":           {ZH: "已关闭", EN: "Closed"},
	"council.a.stations.open_not_now":     {ZH: "运营中（当前不在营业时间）", EN: "In service (outside its hours now)"},
	"council.a.stations.figures":          {ZH: "成员 %d · 待处理反馈 %d · 投票中提案 %d · 近 7 天签到 %d", EN: "%d members · %d feedback awaiting · %d proposals open · %d visits in 7 days"},
	"council.a.stations.admins":           {ZH: "站点管理员：", EN: "Station admins:"},
	"council.a.stations.no_admins":        {ZH: "尚未指派", EN: "none assigned"},
	"council.a.stations.close":            {ZH: "关闭驿站", EN: "Close the station"},
	"council.a.stations.open":             {ZH: "重新开放", EN: "Open the station"},
	"council.a.stations.assign_pick":      {ZH: "指派站点管理员", EN: "Assign a station admin"},
	"council.a.stations.assign_id":        {ZH: "站点管理员的账户 ID", EN: "The station admin's account id"},
	"council.a.stations.choose":           {ZH: "请选择账户", EN: "Choose an account"},
	"council.a.stations.assign":           {ZH: "指派", EN: "Assign"},
	"council.a.stations.none":             {ZH: "还没有驿站。", EN: "No stations yet."},
	"council.a.stations.new":              {ZH: "新建驿站", EN: "Open a new station"},
	"council.a.stations.new_hint":         {ZH: "营业时间、设施和照片由站点管理员在驿站信息页填写。", EN: "The station's admins fill in its hours, facilities and photos on its details page."},
	"council.a.stations.create":           {ZH: "创建驿站", EN: "Create the station"},

	"council.a.err.forbidden":         {ZH: "只有本驿站的管理员可以进行此操作。", EN: "Only an admin of this station may do this."},
	"council.a.err.no_station":        {ZH: "没有这个驿站。", EN: "There is no such station."},
	"council.a.err.no_proposal":       {ZH: "本驿站没有这个提案。", EN: "This station has no such proposal."},
	"council.a.err.no_item":           {ZH: "本驿站没有这条反馈。", EN: "This station has no such feedback item."},
	"council.a.err.no_photo":          {ZH: "本驿站没有这张照片。", EN: "The station has no such photo."},
	"council.a.err.hours":             {ZH: "营业时间格式不对：请写成 08:00-20:00，多段用逗号分隔，全天写 24h，休息留空。", EN: "Write opening hours as 08:00-20:00, several ranges with commas, 24h for all day, or leave the day empty for closed."},
	"council.a.err.hours_value":       {ZH: "“%s”格式不对：营业时间请写成 08:00-20:00，多段用逗号分隔，全天写 24h，休息留空。", EN: "“%s” is not valid: write opening hours as 08:00-20:00, several ranges with commas, 24h for all day, or leave the day empty for closed."},
	"council.a.err.number":            {ZH: "请填写数字，例如 28.1941。", EN: "Enter a number, such as 28.1941."},
	"council.a.err.whole_number":      {ZH: "请填写整数。", EN: "Enter a whole number."},
	"council.a.err.percent":           {ZH: "请填写百分比数字，例如 30。", EN: "Enter a percentage, such as 30."},
	"council.a.err.time":              {ZH: "请选择日期和时间。", EN: "Choose a date and time."},
	"council.a.err.name_taken":        {ZH: "已有同名驿站，请换一个名称。", EN: "A station with that name exists already; choose another name."},
	"council.a.err.photo_missing":     {ZH: "请选择一张照片。", EN: "Choose a photo to upload."},
	"council.a.err.photo_large":       {ZH: "照片不能超过 %d MB。", EN: "The photo must be at most %d MB."},
	"council.a.err.not_member":        {ZH: "这名骑手已不是本站议事会成员。", EN: "This rider is not a member of this station's council any more."},
	"council.a.err.busy":              {ZH: "同时进行的操作太多，请稍后再试。", EN: "Too many changes at once; please try again in a moment."},
	"council.a.err.action":            {ZH: "请选择处理方式。", EN: "Choose what to do with the item."},
	"council.a.err.text_long":         {ZH: "最多 %d 个字。", EN: "Use at most %d characters."},
	"council.a.err.answer_empty":      {ZH: "请写下成员将看到的答复。", EN: "Write the answer members will read."},
	"council.a.err.reason_empty":      {ZH: "请写下不予采纳的理由，成员会看到。", EN: "Write why it is declined; members will read it."},
	"council.a.err.action_empty":      {ZH: "请写下将如何落实，成员会看到。", EN: "Say what will be done; members will read it."},
	"council.a.err.transition":        {ZH: "这条反馈已是“%s”，不能这样处理。请刷新页面查看最新状态。", EN: "This item is %s now and cannot be handled that way; reload the page to see where it stands."},
	"council.a.err.item_decided":      {ZH: "这条反馈已是“%s”，不能再采纳为提案。", EN: "This item is %s already and cannot be adopted into a proposal."},
	"council.a.err.item_has_proposal": {ZH: "这条反馈已经形成提案，不能重复采纳。", EN: "This item has been adopted into a proposal already."},
	"council.a.err.opened":            {ZH: "投票已开启，提案不能再修改。", EN: "Voting has opened; the proposal can no longer be edited."},
	"council.a.err.window_passed":     {ZH: "投票期已过（%s 截止），请修改截止时间后再开启。", EN: "The voting window has passed (it closed at %s); change the closing time, then open voting."},
	"council.a.err.not_closed":        {ZH: "投票截止（%s）后才能记录落实情况。", EN: "Outcomes are recorded once voting has closed (at %s)."},
	"council.a.err.counting":          {ZH: "投票已截止，正在计票；请过几秒刷新后再记录。", EN: "Voting has closed and is being counted; reload in a few seconds, then record."},
	"council.a.err.pick_admin":        {ZH: "请选择要指派的站点管理员账户。", EN: "Choose the station-admin account to assign."},
	"council.a.err.not_station_admin": {ZH: "这个账户不是可用的站点管理员账户。请先在用户管理中创建站点管理员。", EN: "That account is not an enabled station admin; create one on the users page first."},

	"flash.council.a.saved":            {ZH: "驿站信息已保存。", EN: "The station's details are saved."},
	"flash.council.a.photo_added":      {ZH: "照片已添加。", EN: "The photo is added."},
	"flash.council.a.photo_removed":    {ZH: "照片已删除。", EN: "The photo is removed."},
	"flash.council.a.removed":          {ZH: "已将 %s 移出议事会。", EN: "%s is no longer a member of the council."},
	"flash.council.a.item_review":      {ZH: "已开始审议，成员会看到状态变化。", EN: "The item is under review; members see the change."},
	"flash.council.a.item_answer":      {ZH: "已公开答复。", EN: "The answer is published."},
	"flash.council.a.item_decline":     {ZH: "已说明理由并不予采纳。", EN: "The item is declined with your reason."},
	"flash.council.a.item_adopt":       {ZH: "已采纳，作者将获得积分。", EN: "The item is adopted; its author earns points."},
	"flash.council.a.draft_saved":      {ZH: "提案草稿已保存。检查无误后即可开启投票。", EN: "The draft is saved. Check it, then open voting."},
	"flash.council.a.not_editable":     {ZH: "投票已开启，提案不能再修改。", EN: "Voting has opened; the proposal can no longer be edited."},
	"flash.council.a.already_open":     {ZH: "这个提案已经开启投票。", EN: "Voting on this proposal is open already."},
	"flash.council.a.opened":           {ZH: "投票已开启，选民名册共 %s 名成员，已通知他们。", EN: "Voting is open; the roll has %s members, and they have been told."},
	"flash.council.a.outcome_recorded": {ZH: "已记录，并通知了成员。", EN: "Recorded; the members have been told."},
	"flash.council.a.station_created":  {ZH: "已创建驿站“%s”。", EN: "Station %s is created."},
	"flash.council.a.station_opened":   {ZH: "驿站“%s”已开放。", EN: "Station %s is open."},
	"flash.council.a.station_closed":   {ZH: "驿站“%s”已关闭。", EN: "Station %s is closed."},
	"flash.council.a.admin_assigned":   {ZH: "已指派 %s 为“%s”的站点管理员。", EN: "%s is now an admin of %s."},
}
