package council

// The riders' council pages: stations near me, a station, check-in, the
// feedback pool, proposals with the ballot, the receipt and the results.
// Every rule (who may post, support, vote; what is shown before close) is
// the services'; these pages turn their answers and errors into words.

import (
	"embed"
	"errors"
	"html/template"
	"io"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/nuanxin/nuanxin/coords"
	"github.com/nuanxin/nuanxin/council/vote"
	"github.com/nuanxin/nuanxin/web"
)

// riderStatic is the riders' pages' own static files: the kit adds every
// file of the folder it is given and refuses one added twice, and a page
// group may be mounted alone (as the tests do), so each brings its own.
//
//go:embed static/stations.js static/rider.js static/rider.css
var riderStatic embed.FS

type riderPages struct {
	k   *web.Pages
	h   *Hub
	now func() time.Time
}

// mountRiderPages adds the pages riders use: stations, check-in, the
// feedback pool and proposals with their ballots.
func mountRiderPages(k *web.Pages, h *Hub) error {
	if err := requireHub("council: rider pages", k, h); err != nil {
		return err
	}
	p := &riderPages{k: k, h: h, now: time.Now}
	k.AddMessages(riderMessages)
	k.AddTemplates(pageTemplates, "templates/rider_stations.html", "templates/rider_station.html", "templates/rider_checkin.html",
		"templates/rider_feedback.html", "templates/rider_item.html", "templates/rider_proposals.html", "templates/rider_proposal.html")
	k.AddStatic(riderStatic, "static")
	k.AddNav(web.NavLink{Href: "/stations", Label: "council.r.nav", Perm: PermCouncilRead, Order: 33})
	k.AddHomeLinks(35, p.homeLinks)

	get, post := fiber.MethodGet, fiber.MethodPost
	k.Handle(get, "/stations", PermCouncilRead, p.stations)
	k.Handle(get, "/stations/:id", PermCouncilRead, p.station)
	k.Handle(get, "/stations/:id/checkin", PermCheckIn, p.checkinForm)
	k.Handle(post, "/stations/:id/checkin", PermCheckIn, p.checkin)
	k.Handle(post, "/stations/:id/join", PermJoin, p.join)
	k.Handle(post, "/council/leave", PermJoin, p.leave)
	k.Handle(get, "/stations/:id/feedback", PermCouncilRead, p.pool)
	k.Handle(post, "/stations/:id/feedback", PermPost, p.post)
	k.Handle(get, "/feedback/:item", PermCouncilRead, p.item)
	k.Handle(post, "/feedback/:item/support", PermSupport, p.support)
	// Object keys hold '/', so the key is the rest of the path.
	k.Handle(get, "/council/photos/*", PermCouncilRead, p.photo)
	k.Handle(get, "/stations/:id/proposals", PermCouncilRead, p.proposals)
	k.Handle(get, "/proposals/:id", PermCouncilRead, p.proposal)
	k.Handle(post, "/proposals/:id/vote", PermVote, p.vote)
	return nil
}

// --- shared helpers ------------------------------------------------------------

// stationOr404 loads the station in the path.
func (p *riderPages) stationOr404(c *fiber.Ctx) (Station, error) {
	return pathStation(c, p.h, c.Params("id"), p.k.Lang(c).T("council.r.err.no_station"))
}

// canManage reports whether the caller keeps this station (its admins,
// and admins): the pages then link to the station's council desk.
func (p *riderPages) canManage(c *fiber.Ctx, station string) bool {
	return holds(p.k, c, PermProposals, station)
}

// distance writes metres as pages show them.
func distance(l web.Lang, m float64) string {
	if m < 1000 {
		return l.T("council.r.m", int(math.Round(m)))
	}
	return l.T("council.r.km", strconv.FormatFloat(m/1000, 'f', 1, 64))
}

// navLinks are the navigation links as templates need them: html/template
// would blank a geo: address, a scheme it does not know, so it is marked
// safe here (coords builds it from numbers and an escaped name).
type navLinks struct {
	Geo                  template.URL
	Amap, Baidu, Tencent string
}

func toNav(n coords.Links) navLinks {
	return navLinks{Geo: template.URL(n.Geo), Amap: n.Amap, Baidu: n.Baidu, Tencent: n.Tencent}
}

// homeLinks offers a rider the stations and their own council on the home
// page.
func (p *riderPages) homeLinks(c *fiber.Ctx, l web.Lang) []web.Link {
	if !p.k.CanSomewhere(c, PermCouncilRead) {
		return nil
	}
	out := []web.Link{{Href: "/stations", Label: l.T("council.r.home.stations")}}
	if !p.k.Can(c, PermJoin) {
		return out
	}
	ctx := c.UserContext()
	if h, err := p.h.Members.Home(ctx, userID(c)); err == nil && h.Station != "" {
		if st, err := p.h.Stations.Get(ctx, h.Station); err == nil {
			out = append(out, web.Link{Href: "/stations/" + st.ID, Label: l.T("council.r.home.mine", st.Name)})
		}
	}
	return out
}

// --- stations near me ----------------------------------------------------------

type stationRow struct {
	N                     int
	ID, Name, Address     string
	Distance, HoursToday  string
	OpenNow, AdminsClosed bool
	Facilities            []string
	Nav                   navLinks
	Home                  bool
}

type mapPoint struct {
	X, Y   string
	N      int
	ID     string
	Name   string
	OpenOn bool
}

// stationMap is a plot of the stations (and the rider) scaled to their
// bounding box: no tiles, which would need the internet.
type stationMap struct {
	ViewBox      string
	R, Font, Pad string
	MeR          string // the rider's halo, drawn under the pins so a station where the rider stands stays visible
	Me           *mapPoint
	Points       []mapPoint
}

type stationsPage struct {
	Near     bool
	Rows     []stationRow
	Map      *stationMap
	HomeName string
	HomeID   string
	Err      string
}

// nearLimit is how many stations the list shows around a position.
const nearLimit = 20

func (p *riderPages) stations(c *fiber.Ctx) error {
	l := p.k.Lang(c)
	ctx := c.UserContext()
	now := p.now()
	data := stationsPage{}
	var rows []NearStation
	lat, err1 := strconv.ParseFloat(c.Query("lat"), 64)
	lng, err2 := strconv.ParseFloat(c.Query("lng"), 64)
	if c.Query("lat") != "" || c.Query("lng") != "" {
		if err1 != nil || err2 != nil || math.IsNaN(lat) || math.IsNaN(lng) || lat < -90 || lat > 90 || lng < -180 || lng > 180 {
			data.Err = l.T("council.r.err.position")
		} else {
			ns, err := p.h.Stations.Nearest(ctx, lat, lng, nearLimit, now)
			if err != nil {
				return err
			}
			rows, data.Near = ns, true
		}
	}
	if !data.Near {
		all, err := p.h.Stations.List(ctx)
		if err != nil {
			return err
		}
		for _, st := range all {
			rows = append(rows, NearStation{Station: st, OpenNow: st.OpenNow(now), Nav: coords.NavLinks(st.Lat, st.Lng, st.Name)})
		}
	}
	if p.k.Can(c, PermJoin) {
		if h, err := p.h.Members.Home(ctx, userID(c)); err == nil && h.Station != "" {
			data.HomeID = h.Station
		}
	}
	weekday := now.In(Shanghai).Weekday()
	for i, ns := range rows {
		st := ns.Station
		r := stationRow{N: i + 1, ID: st.ID, Name: st.Name, Address: st.Address, OpenNow: ns.OpenNow, AdminsClosed: !st.Open,
			HoursToday: hoursText(l, st.Hours.Day(weekday)), Facilities: labels(l, Facilities(), st.Facilities),
			Nav: toNav(ns.Nav), Home: st.ID == data.HomeID}
		if data.Near {
			r.Distance = distance(l, ns.DistanceM)
		}
		if r.Home {
			data.HomeName = st.Name
		}
		data.Rows = append(data.Rows, r)
	}
	var me *[2]float64
	if data.Near {
		me = &[2]float64{lat, lng}
	}
	data.Map = plotStations(rows, me)
	status := fiber.StatusOK
	if data.Err != "" {
		status = fiber.StatusUnprocessableEntity
	}
	return p.k.Render(c, status, web.PageArgs{Name: "rider_stations", Title: "council.r.stations.title", Data: data})
}

// plotStations places the stations (numbered as the list numbers them) and
// the rider in an SVG box. Longitude is scaled by cos(latitude) so that the
// plot keeps a city's proportions.
func plotStations(rows []NearStation, me *[2]float64) *stationMap {
	if len(rows) == 0 {
		return nil
	}
	minLat, maxLat, minLng, maxLng := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	grow := func(lat, lng float64) {
		minLat, maxLat = math.Min(minLat, lat), math.Max(maxLat, lat)
		minLng, maxLng = math.Min(minLng, lng), math.Max(maxLng, lng)
	}
	for _, ns := range rows {
		grow(ns.Station.Lat, ns.Station.Lng)
	}
	if me != nil {
		grow(me[0], me[1])
	}
	k := math.Cos((minLat + maxLat) / 2 * math.Pi / 180)
	// Units of the plot: thousandths of a degree of latitude (about 111 m).
	w, h := (maxLng-minLng)*k*1000, (maxLat-minLat)*1000
	side := math.Max(math.Max(w, h), 4) // at least ~450 m across
	pad := side * 0.12
	x := func(lng float64) float64 { return (lng-minLng)*k*1000 + pad + (side-w)/2 }
	y := func(lat float64) float64 { return (maxLat-lat)*1000 + pad + (side-h)/2 }
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
	full := side + 2*pad
	m := &stationMap{ViewBox: "0 0 " + f(full) + " " + f(full), R: f(full * 0.045), Font: f(full * 0.05), Pad: f(full * 0.01), MeR: f(full * 0.07)}
	for i, ns := range rows {
		m.Points = append(m.Points, mapPoint{X: f(x(ns.Station.Lng)), Y: f(y(ns.Station.Lat)), N: i + 1, ID: ns.Station.ID,
			Name: ns.Station.Name, OpenOn: ns.OpenNow})
	}
	if me != nil {
		m.Me = &mapPoint{X: f(x(me[1])), Y: f(y(me[0]))}
	}
	return m
}

// --- one station -----------------------------------------------------------------

type dayRow struct {
	Day, Hours string
	Today      bool
}

type stationPage struct {
	ID, Name, Address     string
	Lat, Lng              string
	OpenNow, AdminsClosed bool
	Photos                []string
	Hours                 []dayRow
	Facilities, Services  []string
	Nav                   navLinks
	Members               int
	homeCouncil
	CanJoin, CanCheckIn    bool
	CanManage              bool
	Err                    string
	OpenProposals, Pending int
}

// weekOrder lists the weekdays as Chinese calendars do, Monday first.
var weekOrder = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday}

func (p *riderPages) station(c *fiber.Ctx) error { return p.renderStation(c, fiber.StatusOK, "") }

func (p *riderPages) renderStation(c *fiber.Ctx, status int, errText string) error {
	st, err := p.stationOr404(c)
	if err != nil {
		return err
	}
	l, ctx := p.k.Lang(c), c.UserContext()
	now := p.now()
	data := stationPage{ID: st.ID, Name: st.Name, Address: st.Address, OpenNow: st.OpenNow(now), AdminsClosed: !st.Open,
		Lat: strconv.FormatFloat(st.Lat, 'f', 5, 64), Lng: strconv.FormatFloat(st.Lng, 'f', 5, 64),
		Facilities: labels(l, Facilities(), st.Facilities), Services: labels(l, Services(), st.Services),
		Nav: toNav(coords.NavLinks(st.Lat, st.Lng, st.Name)), CanJoin: p.k.Can(c, PermJoin), CanCheckIn: p.k.Can(c, PermCheckIn),
		CanManage: p.canManage(c, st.ID), Err: errText}
	for _, key := range st.Photos {
		data.Photos = append(data.Photos, photoURL(key))
	}
	today := now.In(Shanghai).Weekday()
	for _, d := range weekOrder {
		data.Hours = append(data.Hours, dayRow{Day: l.T("council.r.day." + strconv.Itoa(int(d))), Hours: hoursText(l, st.Hours.Day(d)), Today: d == today})
	}
	members, err := p.h.Members.Members(ctx, st.ID)
	if err != nil {
		return err
	}
	data.Members = len(members)
	if data.CanJoin {
		if data.homeCouncil, err = p.home(c, st.ID); err != nil {
			return err
		}
	}
	props, err := p.h.Proposals.List(ctx, st.ID)
	if err != nil {
		return err
	}
	data.OpenProposals = openCount(props)
	return p.k.Render(c, status, web.PageArgs{Name: "rider_station", Title: "council.r.station.title", Here: "/stations/" + st.ID, Data: data})
}

// homeCouncil is the rider's council as a station's pages show it: Home is
// "here", "other" (HomeID and HomeName name that station) or "" (none).
type homeCouncil struct {
	Home             string
	HomeID, HomeName string
}

// home says where the caller's council is, seen from station.
func (p *riderPages) home(c *fiber.Ctx, station string) (homeCouncil, error) {
	ctx := c.UserContext()
	h, err := p.h.Members.Home(ctx, userID(c))
	switch {
	case err != nil:
		return homeCouncil{}, err
	case h.Station == station:
		return homeCouncil{Home: "here"}, nil
	case h.Station == "":
		return homeCouncil{}, nil
	}
	hc := homeCouncil{Home: "other", HomeID: h.Station}
	// A station that cannot be read now only costs the sentence its name.
	if other, err := p.h.Stations.Get(ctx, h.Station); err == nil {
		hc.HomeName = other.Name
	}
	return hc, nil
}

// --- check-in ------------------------------------------------------------------------

type checkinPage struct {
	ID, Name    string
	Done, First bool
	Visitors    int
	homeCouncil
	CanJoin        bool
	OpenNow        bool
	AdminsClosed   bool
	CheckedInAtTxt string
}

func (p *riderPages) checkinForm(c *fiber.Ctx) error {
	st, err := p.stationOr404(c)
	if err != nil {
		return err
	}
	data := checkinPage{ID: st.ID, Name: st.Name, OpenNow: st.OpenNow(p.now()), AdminsClosed: !st.Open}
	return p.k.Render(c, fiber.StatusOK, web.PageArgs{Name: "rider_checkin", Title: "council.r.checkin.title", Data: data})
}

// checkin records the visit and shows the result on the same page (checking
// in twice a day counts once, so a reload does no harm), with the council
// offered to a rider whose home is elsewhere.
func (p *riderPages) checkin(c *fiber.Ctx) error {
	st, err := p.stationOr404(c)
	if err != nil {
		return err
	}
	res, err := p.h.Visits.CheckIn(c.UserContext(), st.ID, userID(c))
	if errors.Is(err, ErrNotFound) {
		return fiber.NewError(fiber.StatusNotFound, p.k.Lang(c).T("council.r.err.no_station"))
	}
	if err != nil {
		return err
	}
	data := checkinPage{ID: st.ID, Name: st.Name, Done: true, First: res.First, Visitors: res.Visitors,
		CanJoin: p.k.Can(c, PermJoin), OpenNow: st.OpenNow(p.now()), AdminsClosed: !st.Open}
	if data.CanJoin {
		if data.homeCouncil, err = p.home(c, st.ID); err != nil {
			return err
		}
	}
	return p.k.Render(c, fiber.StatusOK, web.PageArgs{Name: "rider_checkin", Title: "council.r.checkin.title",
		Here: "/stations/" + st.ID + "/checkin", Data: data})
}

// --- membership --------------------------------------------------------------------------

// back is where a form asked to return to: a path on this site under the
// council pages, else the fallback.
func back(c *fiber.Ctx, fallback string) string {
	b := web.SafeNext(web.Form(c, "back"))
	for _, prefix := range []string{"/stations", "/feedback/", "/proposals/"} {
		if strings.HasPrefix(b, prefix) {
			return b
		}
	}
	return fallback
}

func (p *riderPages) join(c *fiber.Ctx) error {
	st, err := p.stationOr404(c)
	if err != nil {
		return err
	}
	l := p.k.Lang(c)
	_, err = p.h.Members.Join(c.UserContext(), st.ID, userID(c))
	switch {
	case errors.Is(err, ErrContended):
		return p.renderStation(c, fiber.StatusServiceUnavailable, l.T("council.r.err.contended"))
	case errors.Is(err, ErrNotFound):
		return fiber.NewError(fiber.StatusNotFound, l.T("council.r.err.no_station"))
	case err != nil:
		return err
	}
	web.Flash(c, "flash.council.r.joined", st.Name)
	return seeOther(c, back(c, "/stations/"+st.ID))
}

func (p *riderPages) leave(c *fiber.Ctx) error {
	l := p.k.Lang(c)
	err := p.h.Members.Leave(c.UserContext(), userID(c))
	switch {
	case errors.Is(err, ErrNotMember):
		web.Flash(c, "flash.council.r.no_home")
	case errors.Is(err, ErrContended):
		return fiber.NewError(fiber.StatusServiceUnavailable, l.T("council.r.err.contended"))
	case err != nil:
		return err
	default:
		web.Flash(c, "flash.council.r.left")
	}
	return seeOther(c, back(c, "/stations"))
}

// --- the feedback pool -------------------------------------------------------------------

type itemRow struct {
	ID, Category, Status, StatusLabel string
	Text, Posted, Waited              string
	Answer, Reason                    string
	Author                            string
	Supports                          int
	Own, CanSupport, Supported        bool
	Photo                             string
	Proposal                          string
}

type poolPage struct {
	web.FormState
	StationID, StationName string
	Items                  []itemRow
	Next                   int
	More                   bool
	Member                 bool
	CanPost                bool // the rider may post somewhere (riders), so a non-member is told how
	Categories             []web.Choice
	MaxText                int
	MaxPhotoMB             int
	MaxPhotoBytes          int
}

// poolPageSize is how many items the pool shows at a time.
const poolPageSize = 20

func (p *riderPages) pool(c *fiber.Ctx) error {
	return p.renderPool(c, fiber.StatusOK, web.NewFormState())
}

func (p *riderPages) renderPool(c *fiber.Ctx, status int, f web.FormState) error {
	st, err := p.stationOr404(c)
	if err != nil {
		return err
	}
	l := p.k.Lang(c)
	before, _ := strconv.Atoi(c.Query("before"))
	if c.Method() != fiber.MethodGet {
		before = 0
	}
	items, next, err := p.h.Feedback.List(c.UserContext(), st.ID, before, poolPageSize)
	if err != nil {
		return err
	}
	r, err := p.reader(c, st.ID)
	if err != nil {
		return err
	}
	data := poolPage{FormState: f, StationID: st.ID, StationName: st.Name, Next: next, More: next > 0, Member: r.member,
		CanPost: p.k.Can(c, PermPost), MaxText: MaxFeedbackText, MaxPhotoMB: MaxPhotoBytes >> 20, MaxPhotoBytes: MaxPhotoBytes}
	for _, cat := range CategoryLabels() {
		data.Categories = append(data.Categories, web.Choice{Value: cat.Code, Label: label(l, CategoryLabels(), cat.Code),
			Checked: f.Values["category"] == cat.Code})
	}
	for _, it := range items {
		row, err := p.itemRow(c, l, it, r, false)
		if err != nil {
			return err
		}
		data.Items = append(data.Items, row)
	}
	return p.k.Render(c, status, web.PageArgs{Name: "rider_feedback", Title: "council.r.pool.title", Here: "/stations/" + st.ID + "/feedback", Data: data})
}

// reader is who reads a station's feedback: whether they are in its
// council, and so may support its items if their role allows.
type reader struct {
	id                 string
	member, canSupport bool
}

func (p *riderPages) reader(c *fiber.Ctx, station string) (reader, error) {
	me := userID(c)
	member, err := p.h.Members.IsMember(c.UserContext(), station, me)
	if err != nil {
		return reader{}, err
	}
	return reader{id: me, member: member, canSupport: member && p.k.Can(c, PermSupport)}, nil
}

// itemRow is an item as the pool and its own page show it to r. full keeps
// the whole text; the pool shortens long ones.
func (p *riderPages) itemRow(c *fiber.Ctx, l web.Lang, it Item, r reader, full bool) (itemRow, error) {
	ctx := c.UserContext()
	row := itemRow{ID: it.ID, Category: label(l, CategoryLabels(), string(it.Category)), Status: string(it.Status),
		StatusLabel: label(l, StatusLabels(), string(it.Status)), Text: it.Text, Posted: p.k.When(it.CreatedAt),
		Waited: waited(l, it.Waiting(p.now())), Answer: it.Answer, Reason: it.Reason, Supports: it.Supports, Own: it.Author == r.id}
	if !full && utf8.RuneCountInString(row.Text) > 280 {
		row.Text = string([]rune(row.Text)[:280]) + "…"
	}
	if it.PhotoKey != "" {
		row.Photo = photoURL(it.PhotoKey)
	}
	live := it.Status == StatusOpen || it.Status == StatusUnderReview
	if r.canSupport && live && !row.Own {
		row.CanSupport = true
		ok, err := p.h.Feedback.Supported(ctx, it.ID, r.id)
		if err != nil {
			return row, err
		}
		row.Supported = ok
	}
	if it.Status == StatusAdopted {
		pid, ok, err := p.h.Proposals.ForItem(ctx, it.ID)
		if err != nil {
			return row, err
		}
		if ok {
			row.Proposal = pid
		}
	}
	return row, nil
}

// post takes a member's item from the pool's form: multipart, the photo
// optional. Every refusal shows the pool again with the message beside
// the field and the text kept.
func (p *riderPages) post(c *fiber.Ctx) error {
	l := p.k.Lang(c)
	f := web.NewFormState()
	f.Values["category"] = web.Form(c, "category")
	f.Values["text"] = web.Form(c, "text")
	show := func(status int, field, msg string) error {
		if field != "" {
			f.Errors[field] = msg
			f.Error = l.T("err.form")
		} else {
			f.Error = msg
		}
		return p.renderPool(c, status, f)
	}
	st, err := p.stationOr404(c)
	if err != nil {
		return err
	}
	var photo []byte
	if fh, err := c.FormFile("photo"); err == nil && (fh.Size > 0 || fh.Filename != "") {
		photo, err = readPhoto(fh)
		switch {
		case errors.Is(err, errPhotoTooLarge):
			return show(fiber.StatusRequestEntityTooLarge, "photo", l.T("council.r.err.photo_size", MaxPhotoBytes>>20))
		case err != nil:
			return show(fiber.StatusUnprocessableEntity, "photo", l.T("council.r.err.photo"))
		}
	}
	it, err := p.h.PostFeedback(c.UserContext(), NewItem{Station: st.ID, Author: userID(c), Category: Category(f.Values["category"]), Text: f.Values["text"]}, photo)
	if err != nil {
		var ve *ValidationError
		switch {
		case errors.As(err, &ve):
			field := ve.Field
			if field == "photo_key" {
				field = "photo"
			}
			return show(fiber.StatusUnprocessableEntity, field, p.fieldText(l, field))
		case errors.Is(err, ErrNotMember):
			return show(fiber.StatusForbidden, "", l.T("council.r.err.join_to_post"))
		case errors.Is(err, ErrNotFound):
			return fiber.NewError(fiber.StatusNotFound, l.T("council.r.err.no_station"))
		}
		return err
	}
	web.Flash(c, "flash.council.r.posted")
	return seeOther(c, "/feedback/"+url.PathEscape(it.ID))
}

// fieldText says in words how to fix a field of the feedback form.
func (p *riderPages) fieldText(l web.Lang, field string) string {
	switch field {
	case "category":
		return l.T("council.r.err.category")
	case "text":
		return l.T("council.r.err.text", MaxFeedbackText)
	case "photo":
		return l.T("council.r.err.photo")
	}
	return l.T("council.r.err.other")
}

// --- one item --------------------------------------------------------------------------------

type timelineRow struct {
	Label, When, Text, By string
}

type itemPage struct {
	itemRow
	StationID, StationName string
	Timeline               []timelineRow
	Err                    string
	Member                 bool
	CanJoin                bool // a rider who is not a member is told how to support
}

func (p *riderPages) item(c *fiber.Ctx) error { return p.renderItem(c, fiber.StatusOK, "") }

func (p *riderPages) renderItem(c *fiber.Ctx, status int, errText string) error {
	l := p.k.Lang(c)
	ctx := c.UserContext()
	it, err := p.h.Feedback.Get(ctx, c.Params("item"))
	if errors.Is(err, ErrFeedbackNotFound) {
		return fiber.NewError(fiber.StatusNotFound, l.T("council.r.err.no_item"))
	}
	if err != nil {
		return err
	}
	st, err := p.h.Stations.Get(ctx, it.Station)
	if err != nil {
		return err
	}
	r, err := p.reader(c, st.ID)
	if err != nil {
		return err
	}
	row, err := p.itemRow(c, l, it, r, true)
	if err != nil {
		return err
	}
	if name, err := p.h.Names.DisplayName(ctx, it.Author); err == nil {
		row.Author = name
	}
	data := itemPage{itemRow: row, StationID: st.ID, StationName: st.Name, Err: errText, Member: r.member, CanJoin: p.k.Can(c, PermJoin)}
	tl, err := p.h.Feedback.Timeline(ctx, it.ID)
	if err != nil {
		return err
	}
	data.Timeline = append(data.Timeline, timelineRow{Label: l.T("council.r.item.posted"), When: p.k.When(it.CreatedAt), By: row.Author})
	for _, e := range tl {
		tr := timelineRow{Label: label(l, StatusLabels(), string(e.To)), When: p.k.When(e.At), Text: e.Text}
		if e.By != "" && e.By != it.Author {
			tr.By = l.T("council.r.item.by_station")
		}
		data.Timeline = append(data.Timeline, tr)
	}
	return p.k.Render(c, status, web.PageArgs{Name: "rider_item", Title: "council.r.item.title", Here: "/feedback/" + it.ID, Data: data})
}

func (p *riderPages) support(c *fiber.Ctx) error {
	l := p.k.Lang(c)
	id := c.Params("item")
	_, err := p.h.Feedback.Support(c.UserContext(), id, userID(c))
	var ve *ValidationError
	switch {
	case err == nil:
		web.Flash(c, "flash.council.r.supported")
	case errors.Is(err, ErrAlreadySupported):
		web.Flash(c, "flash.council.r.supported_before")
	case errors.Is(err, ErrFeedbackNotFound):
		return fiber.NewError(fiber.StatusNotFound, l.T("council.r.err.no_item"))
	case errors.Is(err, ErrNotMember):
		return p.renderItem(c, fiber.StatusForbidden, l.T("council.r.err.join_to_support"))
	case errors.Is(err, ErrOwnItem):
		return p.renderItem(c, fiber.StatusUnprocessableEntity, l.T("council.r.err.own_item"))
	case errors.Is(err, ErrFeedbackClosed):
		return p.renderItem(c, fiber.StatusConflict, l.T("council.r.err.item_closed"))
	case errors.As(err, &ve):
		return p.renderItem(c, fiber.StatusUnprocessableEntity, l.T("council.r.err.other"))
	default:
		return err
	}
	return seeOther(c, back(c, "/feedback/"+url.PathEscape(id)))
}

// --- photos ------------------------------------------------------------------------------------

// photo serves a council photo (a station's or a feedback item's) from the
// object store: browsers never reach the store itself (see DESIGN.md).
func (p *riderPages) photo(c *fiber.Ctx) error {
	key, err := url.PathUnescape(c.Params("*"))
	if err != nil || key == "" || strings.Contains(key, "..") {
		return fiber.ErrNotFound
	}
	rc, ctype, err := p.h.Photos.Open(c.UserContext(), key)
	if errors.Is(err, ErrPhotoNotFound) {
		return fiber.ErrNotFound
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, MaxPhotoBytes+1))
	if err != nil {
		return err
	}
	if !strings.HasPrefix(ctype, "image/") {
		ctype = "application/octet-stream"
	}
	c.Set(fiber.HeaderContentType, ctype)
	c.Set("X-Content-Type-Options", "nosniff")
	// Keys are never reused for other pictures, so a browser may keep one.
	c.Set(fiber.HeaderCacheControl, "private, max-age=86400")
	return c.Send(b)
}

// --- proposals ---------------------------------------------------------------------------------

type proposalRow struct {
	ID, Title, StateLabel, Window, Kind string
	State                               string
	Secret                              bool
	Result                              string
	closes                              time.Time
}

type proposalsPage struct {
	StationID, StationName string
	Open, Closed, Drafts   []proposalRow
	CanManage              bool
	Empty                  bool
}

func (p *riderPages) proposals(c *fiber.Ctx) error {
	st, err := p.stationOr404(c)
	if err != nil {
		return err
	}
	l := p.k.Lang(c)
	list, err := p.h.Proposals.List(c.UserContext(), st.ID)
	if err != nil {
		return err
	}
	data := proposalsPage{StationID: st.ID, StationName: st.Name, CanManage: p.canManage(c, st.ID)}
	for _, pr := range list {
		row := proposalRow{ID: pr.ID, Title: pr.Title, State: string(pr.State), StateLabel: l.T("council.r.state." + string(pr.State)),
			Window: p.k.When(pr.Opens) + " – " + p.k.When(pr.Closes), Kind: kindText(l, pr), Secret: pr.Secret, closes: pr.Closes}
		switch pr.State {
		case vote.StateOpen:
			data.Open = append(data.Open, row)
		case vote.StateClosed:
			if pr.Tally != nil {
				row.Result = resultText(l, pr.Tally)
			}
			data.Closed = append(data.Closed, row)
		default:
			if data.CanManage {
				data.Drafts = append(data.Drafts, row)
			}
		}
	}
	// Open ones by the nearest close first; the rest stay newest first.
	slices.SortStableFunc(data.Open, func(a, b proposalRow) int { return a.closes.Compare(b.closes) })
	data.Empty = len(data.Open)+len(data.Closed)+len(data.Drafts) == 0
	return p.k.Render(c, fiber.StatusOK, web.PageArgs{Name: "rider_proposals", Title: "council.r.proposals.title", Data: data})
}

func kindText(l web.Lang, pr vote.Proposal) string {
	switch pr.Kind {
	case vote.YesNoAbstain:
		return l.T("council.r.kind.yes_no_abstain")
	case vote.OneOf:
		return l.T("council.r.kind.one_of")
	case vote.Approval:
		return l.T("council.r.kind.approval", pr.MaxApprovals)
	}
	return string(pr.Kind)
}

func resultText(l web.Lang, t *vote.Tally) string {
	switch {
	case !t.QuorumMet:
		return l.T("council.r.result.no_quorum")
	case t.Passed && t.Winner != "" && t.Winner != vote.Yes:
		return l.T("council.r.result.chosen", t.Winner)
	case t.Passed:
		return l.T("council.r.result.passed")
	}
	return l.T("council.r.result.failed")
}

// choiceText writes a ballot label: for / against / abstain in words,
// options as the station wrote them.
func choiceText(l web.Lang, kind vote.Kind, c string) string {
	if kind == vote.YesNoAbstain {
		switch c {
		case vote.Yes, vote.No, vote.Abstain:
			return l.T("council.r.choice." + c)
		}
	}
	return c
}

func choicesText(l web.Lang, kind vote.Kind, cs []string) string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = choiceText(l, kind, c)
	}
	sep := "、"
	if l.Tag() == web.EN {
		sep = ", "
	}
	return strings.Join(out, sep)
}

// --- one proposal -------------------------------------------------------------------------------

type ballotView struct {
	Multi   bool // checkboxes (approval), else radio buttons
	Max     int
	Choices []web.Choice
	Change  bool // the voter has an open-ballot vote and may change it
}

type receiptView struct {
	Code, Choice, When string
	Current            bool
}

type countRow struct {
	Label  string
	Votes  int
	Pct    string
	Bar    string // width of the bar, 0 to 100
	Leader bool
}

type publishedRow struct {
	Code, Choice string
	Mine         bool
}

type resultsView struct {
	Rows               []countRow
	Ballots, Roll      int
	Turnout, Share     string
	QuorumMet, Passed  bool
	Verdict            string
	ClosedAt           string
	Receipts           []publishedRow
	MineCodes          []string
	MineFound, MineAny bool
}

type outcomeRow struct {
	Kind, Text, When string
	Done             bool
}

type proposalPage struct {
	ID, StationID, StationName string
	Title, Body                string
	Kind                       string
	Options                    []string
	Secret                     bool
	Opens, Closes              string
	Quorum, Pass               string
	State, StateLabel          string
	RollSize                   int
	NotYet                     bool
	ItemID                     string
	CanManage                  bool

	Ballot    *ballotView
	NotOnRoll bool
	JoinHint  bool // the viewer is not a member of the station now
	VoteErr   string
	Final     bool // the viewer's secret vote is in

	Receipt *receiptView // just cast
	History []receiptView

	Results  *resultsView
	Outcomes []outcomeRow
}

// loadProposal returns the proposal in the path, as the caller may see it:
// a draft only to those who keep its station.
func (p *riderPages) loadProposal(c *fiber.Ctx) (vote.Proposal, error) {
	pr, err := p.h.Votes.Get(c.UserContext(), c.Params("id"))
	if errors.Is(err, vote.ErrNotFound) || (err == nil && pr.State == vote.StateDraft && !p.canManage(c, pr.StationID)) {
		return vote.Proposal{}, fiber.NewError(fiber.StatusNotFound, p.k.Lang(c).T("council.r.err.no_proposal"))
	}
	return pr, err
}

func (p *riderPages) proposal(c *fiber.Ctx) error {
	pr, err := p.loadProposal(c)
	if err != nil {
		return err
	}
	return p.renderProposal(c, fiber.StatusOK, pr, proposalExtra{})
}

// proposalExtra is what a vote adds to the page: its receipt, or its
// refusal with the choice kept.
type proposalExtra struct {
	receipt *vote.Receipt
	err     string
	final   bool
	picked  []string
}

func (p *riderPages) renderProposal(c *fiber.Ctx, status int, pr vote.Proposal, x proposalExtra) error {
	l := p.k.Lang(c)
	ctx := c.UserContext()
	st, err := p.h.Stations.Get(ctx, pr.StationID)
	if err != nil {
		return err
	}
	now := p.now()
	data := proposalPage{ID: pr.ID, StationID: st.ID, StationName: st.Name, Title: pr.Title, Body: pr.Body, Kind: kindText(l, pr),
		Secret: pr.Secret, Opens: p.k.When(pr.Opens), Closes: p.k.When(pr.Closes),
		Quorum: strconv.FormatFloat(pr.QuorumPct, 'f', -1, 64), Pass: strconv.FormatFloat(pr.PassPct, 'f', -1, 64),
		State: string(pr.State), StateLabel: l.T("council.r.state." + string(pr.State)), RollSize: pr.RollSize,
		CanManage: p.canManage(c, st.ID), VoteErr: x.err, Final: x.final}
	if pr.Kind != vote.YesNoAbstain {
		data.Options = pr.Options
	}
	if data.ItemID, err = p.h.Proposals.ItemOf(ctx, pr.ID); err != nil {
		return err
	}
	me := userID(c)
	var history []vote.Receipt
	if pr.State != vote.StateDraft && !pr.Secret && me != "" {
		if history, err = p.h.Votes.History(ctx, pr.ID, me); err != nil {
			return err
		}
	}
	for i, h := range history {
		data.History = append(data.History, receiptView{Code: h.Code, Choice: choicesText(l, pr.Kind, h.Choice), Current: i == len(history)-1})
	}
	if x.receipt != nil {
		data.Receipt = &receiptView{Code: x.receipt.Code, Choice: choicesText(l, pr.Kind, x.receipt.Choice), Current: true}
	}

	switch pr.State {
	case vote.StateOpen:
		if now.Before(pr.Opens) {
			data.NotYet = true
			break
		}
		if !p.k.Can(c, PermVote) {
			break
		}
		on, voted, err := p.h.Votes.Voter(ctx, pr.ID, me)
		if err != nil {
			return err
		}
		if pr.Secret && voted && x.receipt == nil {
			x.final, data.Final = true, true
		}
		if !on {
			data.NotOnRoll = true
			member, err := p.h.Members.IsMember(ctx, st.ID, me)
			if err != nil {
				return err
			}
			data.JoinHint = !member
			break
		}
		picked := x.picked
		if picked == nil && len(history) > 0 {
			picked = history[len(history)-1].Choice
		}
		b := &ballotView{Multi: pr.Kind == vote.Approval, Max: pr.MaxApprovals, Change: len(history) > 0}
		for _, ch := range pr.Choices() {
			b.Choices = append(b.Choices, web.Choice{Value: ch, Label: choiceText(l, pr.Kind, ch), Checked: slices.Contains(picked, ch)})
		}
		// A secret vote is final: once Cast has said so, or has just taken
		// it, the ballot is not offered again on this page.
		if !(pr.Secret && (x.receipt != nil || x.final)) {
			data.Ballot = b
		}
	case vote.StateClosed:
		if pr.Tally != nil {
			data.Results = p.results(l, pr, *pr.Tally, history)
		}
	}
	if pr.State == vote.StateClosed || pr.State == vote.StateOpen {
		outs, err := p.h.Proposals.Outcomes(ctx, pr.ID)
		if err != nil {
			return err
		}
		for _, o := range outs {
			data.Outcomes = append(data.Outcomes, outcomeRow{Kind: l.T("council.r.outcome." + string(o.Kind)), Text: o.Text,
				When: p.k.When(o.At), Done: o.Kind == OutcomeDone})
		}
	}
	return p.k.Render(c, status, web.PageArgs{Name: "rider_proposal", Title: "council.r.proposal.title", Here: "/proposals/" + pr.ID, Data: data})
}

func (p *riderPages) results(l web.Lang, pr vote.Proposal, t vote.Tally, history []vote.Receipt) *resultsView {
	pct := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
	r := &resultsView{Ballots: t.Ballots, Roll: t.Roll, Turnout: pct(t.TurnoutPct), Share: pct(t.SharePct),
		QuorumMet: t.QuorumMet, Passed: t.Passed, Verdict: resultText(l, &t), ClosedAt: p.k.When(t.ClosedAt)}
	for _, oc := range t.Counts {
		share := 0.0
		if t.Ballots > 0 {
			share = float64(oc.Votes) / float64(t.Ballots) * 100
		}
		r.Rows = append(r.Rows, countRow{Label: choiceText(l, pr.Kind, oc.Option), Votes: oc.Votes, Pct: pct(share),
			Bar: strconv.FormatFloat(share, 'f', 2, 64), Leader: oc.Option == t.Winner && t.Winner != ""})
	}
	mine := map[string]bool{}
	for _, h := range history {
		mine[h.Code] = true
		r.MineCodes = append(r.MineCodes, h.Code)
	}
	r.MineAny = len(mine) > 0
	for _, rc := range t.Receipts {
		row := publishedRow{Code: rc.Code, Choice: choicesText(l, pr.Kind, rc.Choice), Mine: mine[rc.Code]}
		r.MineFound = r.MineFound || row.Mine
		r.Receipts = append(r.Receipts, row)
	}
	return r
}

// vote casts the rider's ballot from the proposal page's form and shows the
// page again with the receipt, or with the refusal beside the ballot.
func (p *riderPages) vote(c *fiber.Ctx) error {
	pr, err := p.loadProposal(c)
	if err != nil {
		return err
	}
	l := p.k.Lang(c)
	var choice []string
	for _, v := range c.Context().PostArgs().PeekMulti("choice") {
		choice = append(choice, string(v)) // a copy: Fiber reuses the request's memory
	}
	refuse := func(status int, msg string, final bool) error {
		// The proposal may have closed meanwhile: read it again.
		if again, err := p.h.Votes.Get(c.UserContext(), pr.ID); err == nil {
			pr = again
		}
		return p.renderProposal(c, status, pr, proposalExtra{err: msg, final: final, picked: choice})
	}
	if pr.Kind == vote.Approval && len(choice) > pr.MaxApprovals {
		return refuse(fiber.StatusUnprocessableEntity, l.T("council.r.err.too_many", pr.MaxApprovals), false)
	}
	if len(choice) == 0 {
		return refuse(fiber.StatusUnprocessableEntity, l.T("council.r.err.no_choice"), false)
	}
	rc, err := p.h.Votes.Cast(c.UserContext(), pr.ID, userID(c), choice)
	var closed *vote.ClosedError
	switch {
	case err == nil:
	case errors.As(err, &closed):
		return refuse(fiber.StatusConflict, l.T("council.r.err.closed", p.k.When(closed.At)), false)
	case errors.Is(err, vote.ErrNotOpen):
		return refuse(fiber.StatusConflict, l.T("council.r.err.not_open", p.k.When(pr.Opens)), false)
	case errors.Is(err, vote.ErrNotOnRoll):
		return refuse(fiber.StatusForbidden, l.T("council.r.err.not_on_roll"), false)
	case errors.Is(err, vote.ErrFinal):
		return refuse(fiber.StatusConflict, l.T("council.r.err.final"), true)
	case errors.Is(err, vote.ErrBadChoice):
		msg := l.T("council.r.err.bad_choice")
		if pr.Kind == vote.Approval && len(choice) > pr.MaxApprovals {
			msg = l.T("council.r.err.too_many", pr.MaxApprovals)
		}
		return refuse(fiber.StatusUnprocessableEntity, msg, false)
	case errors.Is(err, vote.ErrBusy):
		return refuse(fiber.StatusServiceUnavailable, l.T("council.r.err.busy"), false)
	case errors.Is(err, vote.ErrNotFound):
		return fiber.NewError(fiber.StatusNotFound, l.T("council.r.err.no_proposal"))
	default:
		return err
	}
	return p.renderProposal(c, fiber.StatusOK, pr, proposalExtra{receipt: &rc, picked: rc.Choice})
}

// riderMessages are the riders' council pages' words, zh-CN first.
var riderMessages = map[string]web.Msg{
	"council.r.nav":           {ZH: "驿站", EN: "Stations"},
	"council.r.home.stations": {ZH: "附近的暖新驿站", EN: "Rest stations near me"},
	"council.r.home.mine":     {ZH: "我的驿站议事会：%s", EN: "My station council: %s"},
	"council.r.sep":           {ZH: "：", EN: ": "},
	"council.r.yes":           {ZH: "是", EN: "Yes"},
	"council.r.no":            {ZH: "否", EN: "No"},
	"council.r.m":             {ZH: "%d 米", EN: "%d m"},
	"council.r.km":            {ZH: "%s 公里", EN: "%s km"},
	"council.r.more":          {ZH: "更早的", EN: "Older"},
	"council.r.today":         {ZH: "今天", EN: "today"},
	"council.r.manage":        {ZH: "驿站议事会管理", EN: "Manage this station's council"},

	"council.r.stations.title":    {ZH: "附近的驿站", EN: "Stations near me"},
	"council.r.stations.near":     {ZH: "按距离排列，营业中的在前。", EN: "Nearest first, those open now at the top."},
	"council.r.stations.all":      {ZH: "按名称查看全部", EN: "See all by name"},
	"council.r.stations.by_name":  {ZH: "全部驿站，按名称排列。点“用我的位置”可先看最近的驿站。", EN: "All stations by name. Choose “Use my location” to see the nearest first."},
	"council.r.stations.locate":   {ZH: "用我的位置", EN: "Use my location"},
	"council.r.stations.locating": {ZH: "正在获取位置…", EN: "Finding your position…"},
	"council.r.stations.denied":   {ZH: "无法获取位置：请在浏览器中允许定位，或按名称查找驿站。", EN: "Your position is not available: allow location in the browser, or find the station by name."},
	"council.r.stations.home":     {ZH: "我的驿站议事会：%s", EN: "My station council: %s"},
	"council.r.stations.map":      {ZH: "驿站位置示意图", EN: "Sketch map of the stations"},
	"council.r.stations.you":      {ZH: "我的位置", EN: "You are here"},
	"council.r.stations.none":     {ZH: "还没有驿站。", EN: "No stations yet."},
	"council.r.open_now":          {ZH: "营业中", EN: "Open now"},
	"council.r.closed_now":        {ZH: "休息中", EN: "Closed now"},
	"council.r.suspended":         {ZH: "暂停开放", EN: "Temporarily closed"},
	"council.r.hours_today":       {ZH: "今日", EN: "Today"},
	"council.r.my_council":        {ZH: "我的议事会", EN: "My council"},
	"council.r.facilities":        {ZH: "设施", EN: "Facilities"},
	"council.r.services":          {ZH: "服务", EN: "Services"},
	"council.r.none_listed":       {ZH: "暂未登记。", EN: "None listed yet."},
	"council.r.navigate":          {ZH: "一键导航", EN: "Navigate"},
	"council.r.nav.geo":           {ZH: "一键导航", EN: "Navigate"},
	"council.r.nav.amap":          {ZH: "高德地图", EN: "Amap"},
	"council.r.nav.baidu":         {ZH: "百度地图", EN: "Baidu Maps"},
	"council.r.nav.tencent":       {ZH: "腾讯地图", EN: "Tencent Maps"},
	"council.r.err.position":      {ZH: "位置无效：纬度应在 -90 到 90 之间，经度在 -180 到 180 之间。", EN: "That position is not valid: latitude must be between -90 and 90 and longitude between -180 and 180."},

	"council.r.station.title":          {ZH: "驿站", EN: "Station"},
	"council.r.station.photo":          {ZH: "%s 的照片", EN: "Photo of %s"},
	"council.r.station.link":           {ZH: "查看驿站", EN: "About this station"},
	"council.r.back_stations":          {ZH: "← 全部驿站", EN: "← All stations"},
	"council.r.hours":                  {ZH: "营业时间", EN: "Opening hours"},
	"council.r.hours.closed":           {ZH: "休息", EN: "Closed"},
	"council.r.hours.all_day":          {ZH: "24 小时", EN: "Open 24 hours"},
	"council.r.day.0":                  {ZH: "周日", EN: "Sunday"},
	"council.r.day.1":                  {ZH: "周一", EN: "Monday"},
	"council.r.day.2":                  {ZH: "周二", EN: "Tuesday"},
	"council.r.day.3":                  {ZH: "周三", EN: "Wednesday"},
	"council.r.day.4":                  {ZH: "周四", EN: "Thursday"},
	"council.r.day.5":                  {ZH: "周五", EN: "Friday"},
	"council.r.day.6":                  {ZH: "周六", EN: "Saturday"},
	"council.r.council":                {ZH: "驿站议事会", EN: "Station council"},
	"council.r.members":                {ZH: "议事会成员 %d 人", EN: "%d council members"},
	"council.r.open_proposals":         {ZH: "%d 项提案正在投票", EN: "%d proposals open for voting"},
	"council.r.you_member":             {ZH: "你是本驿站议事会成员。", EN: "You are a member of this station's council."},
	"council.r.home_elsewhere":         {ZH: "你目前是“%s”议事会的成员。加入这里会自动退出原议事会。", EN: "You are a member of the council of “%s”. Joining here leaves that one."},
	"council.r.join_why":               {ZH: "加入议事会后，可以在反馈池发帖、支持他人的建议，并对提案投票。", EN: "Join the council to post in the feedback pool, support others' items and vote on proposals."},
	"council.r.join":                   {ZH: "加入本驿站议事会", EN: "Join this station's council"},
	"council.r.join_move":              {ZH: "改为加入本驿站议事会", EN: "Move my council here"},
	"council.r.leave":                  {ZH: "退出议事会", EN: "Leave the council"},
	"council.r.pool.link":              {ZH: "反馈池", EN: "Feedback pool"},
	"council.r.proposals.link":         {ZH: "提案与投票", EN: "Proposals and votes"},
	"council.r.err.no_station":         {ZH: "没有这个驿站。", EN: "There is no such station."},
	"council.r.err.contended":          {ZH: "同时操作的人太多，请稍后再试。", EN: "Too many changes at once; please try again in a moment."},
	"flash.council.r.joined":           {ZH: "已加入“%s”驿站议事会。", EN: "You joined the council of “%s”."},
	"flash.council.r.left":             {ZH: "已退出驿站议事会。", EN: "You left your station council."},
	"flash.council.r.no_home":          {ZH: "你目前没有加入任何驿站议事会。", EN: "You are not a member of any station council."},
	"council.r.checkin.title":          {ZH: "驿站签到", EN: "Check in"},
	"council.r.checkin.lead":           {ZH: "到站后点下面的按钮签到。", EN: "Arrived? Tap the button to check in."},
	"council.r.checkin.button":         {ZH: "签到 / Check in", EN: "Check in / 签到"},
	"council.r.checkin.done":           {ZH: "签到成功！", EN: "You are checked in!"},
	"council.r.checkin.again":          {ZH: "你今天已在这里签到过。", EN: "You had checked in here today already."},
	"council.r.checkin.count":          {ZH: "今天已有 %d 位骑手在这里签到。", EN: "%d riders have checked in here today."},
	"council.r.pool.title":             {ZH: "反馈池", EN: "Feedback pool"},
	"council.r.pool.lead":              {ZH: "议事会成员在这里提出问题和建议，相互支持；驿站公开答复。", EN: "Council members raise problems and ideas here and support each other's; the station answers in public."},
	"council.r.pool.new":               {ZH: "提出新反馈", EN: "Post new feedback"},
	"council.r.pool.category":          {ZH: "类别", EN: "Category"},
	"council.r.pool.text":              {ZH: "内容", EN: "What is it about?"},
	"council.r.pool.text_hint":         {ZH: "最多 %d 字。", EN: "At most %d characters."},
	"council.r.pool.photo":             {ZH: "照片（可选，JPEG/PNG/WebP，不超过 %d MB）", EN: "Photo (optional; JPEG, PNG or WebP, at most %d MB)"},
	"council.r.pool.send":              {ZH: "发布", EN: "Post"},
	"council.r.pool.empty":             {ZH: "还没有反馈。", EN: "No feedback yet."},
	"council.r.waited":                 {ZH: "已等待 %s", EN: "waiting %s"},
	"council.r.waited.min":             {ZH: "%d 分钟", EN: "%d min"},
	"council.r.waited.hours":           {ZH: "%d 小时", EN: "%d h"},
	"council.r.waited.days":            {ZH: "%d 天", EN: "%d days"},
	"council.r.supports":               {ZH: "%d 人支持", EN: "%d supports"},
	"council.r.support":                {ZH: "支持", EN: "Support"},
	"council.r.supported":              {ZH: "已支持", EN: "Supported"},
	"council.r.own":                    {ZH: "我的反馈", EN: "Mine"},
	"council.r.err.join_to_post":       {ZH: "加入本驿站议事会后才能发帖。", EN: "Join this station's council to post feedback."},
	"council.r.err.join_to_support":    {ZH: "加入本驿站议事会后才能支持。", EN: "Join this station's council to support feedback."},
	"council.r.err.own_item":           {ZH: "不能支持自己的反馈。", EN: "You cannot support your own item."},
	"council.r.err.item_closed":        {ZH: "这条反馈已有结论，不再接受支持。", EN: "This item has been decided and takes no more supports."},
	"council.r.err.no_item":            {ZH: "没有这条反馈。", EN: "There is no such feedback item."},
	"council.r.err.category":           {ZH: "请选择一个类别。", EN: "Choose a category."},
	"council.r.err.text":               {ZH: "请填写 1 到 %d 字的内容。", EN: "Write 1 to %d characters."},
	"council.r.err.photo":              {ZH: "照片无法使用：请上传 JPEG、PNG 或 WebP 图片。", EN: "The photo cannot be used: send a JPEG, PNG or WebP picture."},
	"council.r.err.photo_size":         {ZH: "照片太大：最多 %d MB。", EN: "The photo is too large: at most %d MB."},
	"council.r.err.other":              {ZH: "提交未完成，请检查后重试。", EN: "That did not go through; check it and try again."},
	"flash.council.r.posted":           {ZH: "反馈已发布。", EN: "Your feedback is posted."},
	"flash.council.r.supported":        {ZH: "已支持。", EN: "Supported."},
	"flash.council.r.supported_before": {ZH: "你已经支持过这条反馈。", EN: "You had supported this item already."},
	"council.r.item.title":             {ZH: "反馈", EN: "Feedback"},
	"council.r.back_pool":              {ZH: "← %s 的反馈池", EN: "← Feedback pool of %s"},
	"council.r.item.photo":             {ZH: "反馈照片", EN: "Photo of the feedback"},
	"council.r.item.answer":            {ZH: "驿站答复", EN: "Station's answer"},
	"council.r.item.reason":            {ZH: "未采纳的理由", EN: "Why it was declined"},
	"council.r.item.proposal":          {ZH: "已转为提案：去投票", EN: "Adopted into a proposal: see the vote"},
	"council.r.item.timeline":          {ZH: "处理记录", EN: "What happened"},
	"council.r.item.posted":            {ZH: "发布", EN: "Posted"},
	"council.r.item.by_station":        {ZH: "驿站", EN: "the station"},

	"council.r.proposals.title":     {ZH: "提案与投票", EN: "Proposals and votes"},
	"council.r.proposals.open":      {ZH: "正在投票", EN: "Open for voting"},
	"council.r.proposals.closed":    {ZH: "已结束", EN: "Closed"},
	"council.r.proposals.drafts":    {ZH: "草稿（仅驿站管理员可见）", EN: "Drafts (only the station's admins see them)"},
	"council.r.proposals.empty":     {ZH: "还没有提案。", EN: "No proposals yet."},
	"council.r.back_proposals":      {ZH: "← %s 的提案", EN: "← Proposals of %s"},
	"council.r.state.draft":         {ZH: "草稿", EN: "Draft"},
	"council.r.state.open":          {ZH: "投票中", EN: "Open"},
	"council.r.state.closed":        {ZH: "已结束", EN: "Closed"},
	"council.r.secret":              {ZH: "无记名", EN: "Secret ballot"},
	"council.r.kind.yes_no_abstain": {ZH: "赞成 / 反对 / 弃权", EN: "For / against / abstain"},
	"council.r.kind.one_of":         {ZH: "单选", EN: "One of several options"},
	"council.r.kind.approval":       {ZH: "多选（最多 %d 项）", EN: "Several options (at most %d)"},
	"council.r.choice.yes":          {ZH: "赞成", EN: "For"},
	"council.r.choice.no":           {ZH: "反对", EN: "Against"},
	"council.r.choice.abstain":      {ZH: "弃权", EN: "Abstain"},
	"council.r.result.no_quorum":    {ZH: "未达到法定人数", EN: "Quorum not reached"},
	"council.r.result.passed":       {ZH: "通过", EN: "Passed"},
	"council.r.result.chosen":       {ZH: "通过：%s", EN: "Passed: %s"},
	"council.r.result.failed":       {ZH: "未通过", EN: "Not passed"},

	"council.r.proposal.title":        {ZH: "提案", EN: "Proposal"},
	"council.r.proposal.from_item":    {ZH: "来自反馈池的建议", EN: "From the feedback pool"},
	"council.r.proposal.kind":         {ZH: "表决方式", EN: "Ballot"},
	"council.r.proposal.options":      {ZH: "选项", EN: "Options"},
	"council.r.proposal.window":       {ZH: "投票时间", EN: "Voting"},
	"council.r.proposal.quorum":       {ZH: "法定人数", EN: "Quorum"},
	"council.r.proposal.quorum_v":     {ZH: "名单上 %s%% 的成员投票", EN: "%s%% of the roll must vote"},
	"council.r.proposal.pass":         {ZH: "通过条件", EN: "Passes with"},
	"council.r.proposal.pass_v":       {ZH: "得票超过 %s%%", EN: "more than %s%% of the votes"},
	"council.r.proposal.roll":         {ZH: "选民名单", EN: "Voter roll"},
	"council.r.proposal.roll_v":       {ZH: "%d 人（投票开始时的议事会成员）", EN: "%d (the council's members when voting opened)"},
	"council.r.proposal.ballot":       {ZH: "记名与否", EN: "Secrecy"},
	"council.r.proposal.secret_v":     {ZH: "无记名：谁投了什么不被记录，投出后不能更改", EN: "Secret: who chose what is not recorded; a vote is final"},
	"council.r.proposal.open_v":       {ZH: "记名：截止前可以改票，保留改票记录", EN: "Open: you may change your vote until it closes; changes are kept"},
	"council.r.ballot.title":          {ZH: "投票", EN: "Your vote"},
	"council.r.ballot.not_yet":        {ZH: "投票将于 %s 开始。", EN: "Voting opens at %s."},
	"council.r.ballot.join_next":      {ZH: "加入本驿站议事会，参与以后的投票", EN: "Join this station's council to vote on later proposals"},
	"council.r.ballot.secret_note":    {ZH: "无记名投票：投出后不能更改，回执码只显示一次，请记下。", EN: "Secret ballot: your vote is final and its receipt code is shown only once: note it down."},
	"council.r.ballot.pick_one":       {ZH: "选择一项", EN: "Choose one"},
	"council.r.ballot.pick_max":       {ZH: "可选多项，最多 %d 项", EN: "Choose up to %d"},
	"council.r.ballot.cast":           {ZH: "投票", EN: "Cast my vote"},
	"council.r.ballot.change":         {ZH: "改投", EN: "Change my vote"},
	"council.r.ballot.hidden":         {ZH: "结果将在 %s 投票截止后公布。", EN: "Results are published when voting closes at %s."},
	"council.r.receipt.counted":       {ZH: "您的投票已计入 / Your vote was counted", EN: "Your vote was counted / 您的投票已计入"},
	"council.r.receipt.choice":        {ZH: "你的选择", EN: "Your choice"},
	"council.r.receipt.final":         {ZH: "这是无记名投票：你的票已计入，不能更改。", EN: "This is a secret ballot: your vote is counted and final."},
	"council.r.receipt.note":          {ZH: "请记下上面的回执码：它只显示这一次。投票结束后，可在公布的回执列表中核对。", EN: "Note the receipt code above: it is shown only this once. After the vote closes, find it in the published list."},
	"council.r.receipt.change":        {ZH: "在 %s 截止前，你可以改票。", EN: "You may change your vote before %s."},
	"council.r.receipt.check":         {ZH: "投票结束后会公布所有回执码及其选择，每位投票人都能核对自己的票。", EN: "After close every receipt code is published with its choice, so every voter can check theirs."},
	"council.r.history.title":         {ZH: "我的投票记录", EN: "My votes"},
	"council.r.history.counts":        {ZH: "计入的一票", EN: "the one that counts"},
	"council.r.results.title":         {ZH: "投票结果", EN: "Results"},
	"council.r.results.votes":         {ZH: "%d 票", EN: "%d votes"},
	"council.r.results.ballots":       {ZH: "投票人数 / 名单人数", EN: "Ballots / roll"},
	"council.r.results.turnout":       {ZH: "投票率", EN: "Turnout"},
	"council.r.results.quorum":        {ZH: "达到法定人数", EN: "Quorum met"},
	"council.r.results.passed":        {ZH: "通过", EN: "Passed"},
	"council.r.results.share":         {ZH: "领先选项得票 %s%%", EN: "leading choice %s%%"},
	"council.r.results.closed_at":     {ZH: "截止时间", EN: "Closed at"},
	"council.r.receipts.title":        {ZH: "公布的回执", EN: "Published receipts"},
	"council.r.receipts.lead":         {ZH: "每张选票的回执码及其选择。找到你的回执码，核对你的票。", EN: "Every ballot's receipt code and its choice. Find your code to check your vote."},
	"council.r.receipts.mine_found":   {ZH: "你的回执码在列表中（已标出）。", EN: "Your receipt code is in the list (marked)."},
	"council.r.receipts.mine_missing": {ZH: "你的计入回执码未出现在列表中，请联系驿站。", EN: "Your counted receipt code is not in the list; please tell the station."},
	"council.r.receipts.search":       {ZH: "查找回执码", EN: "Find a receipt code"},
	"council.r.receipts.code":         {ZH: "回执码", EN: "Receipt code"},
	"council.r.receipts.choice":       {ZH: "选择", EN: "Choice"},
	"council.r.receipts.yours":        {ZH: "我的", EN: "Mine"},
	"council.r.receipts.none":         {ZH: "没有选票。", EN: "No ballots were cast."},
	"council.r.outcomes.title":        {ZH: "落实情况", EN: "What was done"},
	"council.r.outcomes.none":         {ZH: "驿站尚未记录落实情况。", EN: "The station has not recorded an outcome yet."},
	"council.r.outcome.decision":      {ZH: "决定", EN: "Decision"},
	"council.r.outcome.progress":      {ZH: "进展", EN: "Progress"},
	"council.r.outcome.done":          {ZH: "已完成", EN: "Done"},
	"council.r.js.stored":             {ZH: "本浏览器记下的回执码：%s", EN: "Receipt code kept in this browser: %s"},
	"council.r.js.found":              {ZH: "本浏览器记下的回执码已在列表中标出：%s", EN: "The receipt code kept in this browser is marked in the list: %s"},
	"council.r.js.not_found":          {ZH: "本浏览器记下的回执码不在列表中：%s（若是改票前的旧码，属正常）", EN: "Receipt code kept in this browser is not in the list: %s (normal for a code replaced by a changed vote)"},
	"council.r.js.max":                {ZH: "最多选择 %d 项。", EN: "Choose at most %d."},
	"council.r.err.no_proposal":       {ZH: "没有这个提案。", EN: "There is no such proposal."},
	"council.r.err.no_choice":         {ZH: "请在选票上做出选择。", EN: "Make a choice on the ballot."},
	"council.r.err.too_many":          {ZH: "最多选择 %d 项。", EN: "Choose at most %d options."},
	"council.r.err.bad_choice":        {ZH: "这个选择不在选票上，请重新选择。", EN: "That choice is not on the ballot; choose again."},
	"council.r.err.closed":            {ZH: "投票已于 %s 截止，这一票未计入。", EN: "Voting closed at %s; this vote was not counted."},
	"council.r.err.not_open":          {ZH: "投票尚未开始：%s 开始。", EN: "Voting has not opened yet: it opens at %s."},
	"council.r.err.not_on_roll":       {ZH: "你不在本次投票的选民名单上：只有投票开始时本驿站议事会的成员可以投票。", EN: "You are not on this vote's roll: only members of this station's council when voting opened may vote."},
	"council.r.err.final":             {ZH: "你已经投过票。无记名投票一经投出不能更改。", EN: "You have voted already. A secret-ballot vote is final."},
	"council.r.err.busy":              {ZH: "你的投票正在记录，请一分钟后再试。", EN: "Your vote is being recorded; try again in a minute."},
}
