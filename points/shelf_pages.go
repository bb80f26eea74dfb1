package points

import (
	"embed"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/web"
)

//go:embed templates/shelf_*.html
var shelfTemplates embed.FS

//go:embed static/shelf*.js
var shelfStatic embed.FS

var shelfMessages = map[string]web.Msg{
	"nav.shelf":               {ZH: "积分兑换", EN: "Rewards"},
	"nav.codes":               {ZH: "我的兑换码", EN: "My codes"},
	"nav.city_shelf":          {ZH: "全市奖励", EN: "City rewards"},
	"shelf.title":             {ZH: "积分兑换", EN: "Rewards shelf"},
	"shelf.city":              {ZH: "全市通用（任一驿站领取）", EN: "City-wide (pick up at any station)"},
	"shelf.near":              {ZH: "按距离排序", EN: "Nearest first"},
	"shelf.by_name":           {ZH: "驿站按名称排序；点“按距离排序”可先看附近的驿站。", EN: "Stations in alphabetical order; choose “Nearest first” to see the closest ones first."},
	"shelf.km":                {ZH: "%s 公里", EN: "%s km"},
	"shelf.price":             {ZH: "%d 积分", EN: "%d points"},
	"shelf.left":              {ZH: "共 %d 份 · 每人每月限 %d 份", EN: "%d units · %d per rider a month"},
	"shelf.reserve":           {ZH: "兑换", EN: "Reserve"},
	"shelf.pickup_at":         {ZH: "领取驿站", EN: "Pick up at"},
	"shelf.empty":             {ZH: "暂无可兑换的奖励。", EN: "No rewards on offer at the moment."},
	"shelf.available":         {ZH: "可用积分：%d", EN: "Available: %d points"},
	"codes.title":             {ZH: "我的兑换码", EN: "My pickup codes"},
	"codes.none":              {ZH: "还没有兑换记录。", EN: "No reservations yet."},
	"codes.show":              {ZH: "到驿站出示二维码或读出兑换码。请在 %s 前领取，逾期积分自动退回。", EN: "Show the QR code at the station or read the code aloud. Pick it up by %s, or the points come back."},
	"codes.cancel":            {ZH: "取消兑换", EN: "Cancel"},
	"status.reserved":         {ZH: "待领取", EN: "Waiting for pickup"},
	"status.picked_up":        {ZH: "已领取", EN: "Picked up"},
	"status.cancelled":        {ZH: "已取消", EN: "Cancelled"},
	"status.expired":          {ZH: "已过期", EN: "Expired"},
	"status.aborted":          {ZH: "未完成", EN: "Not completed"},
	"pickup.title":            {ZH: "核销兑换码", EN: "Hand over a reward"},
	"pickup.code":             {ZH: "兑换码", EN: "Pickup code"},
	"pickup.confirm":          {ZH: "确认领取", EN: "Confirm pickup"},
	"pickup.scan":             {ZH: "扫码", EN: "Scan"},
	"pickup.scan_stop":        {ZH: "停止扫码", EN: "Stop scanning"},
	"pickup.hint":             {ZH: "输入骑手的兑换码（不区分大小写，可省略短横线），或用摄像头扫描二维码。", EN: "Type the rider's code (case and dashes do not matter), or scan the QR code with the camera."},
	"pickup.done":             {ZH: "已核销：%s（%d 积分）", EN: "Handed over: %s (%d points)"},
	"pickup.today":            {ZH: "今日已领取", EN: "Today's pickups"},
	"pickup.none_today":       {ZH: "今天还没有领取记录。", EN: "No pickups today."},
	"manage.title":            {ZH: "%s：奖励管理", EN: "%s: rewards"},
	"manage.city":             {ZH: "全市", EN: "City"},
	"manage.new":              {ZH: "上架新奖励", EN: "New reward"},
	"manage.name_zh":          {ZH: "名称（中文）", EN: "Name (Chinese)"},
	"manage.name_en":          {ZH: "名称（英文）", EN: "Name (English)"},
	"manage.price":            {ZH: "所需积分", EN: "Price in points"},
	"manage.stock":            {ZH: "数量", EN: "Units"},
	"manage.limit":            {ZH: "每人每月限领", EN: "Per rider a month"},
	"manage.from":             {ZH: "开始日期", EN: "From"},
	"manage.until":            {ZH: "结束日期（不含）", EN: "Until (exclusive)"},
	"manage.create":           {ZH: "上架", EN: "Add"},
	"manage.add_stock":        {ZH: "补货数量", EN: "Units to add"},
	"manage.save":             {ZH: "保存", EN: "Save"},
	"manage.retire":           {ZH: "下架", EN: "Retire"},
	"manage.activate":         {ZH: "重新上架", EN: "Put back"},
	"manage.retired":          {ZH: "已下架", EN: "Retired"},
	"manage.picture":          {ZH: "图片（JPEG/PNG，≤5 MB）", EN: "Picture (JPEG/PNG, ≤ 5 MB)"},
	"manage.upload":           {ZH: "上传", EN: "Upload"},
	"manage.none":             {ZH: "还没有奖励。", EN: "No rewards yet."},
	"flash.shelf_reserved":    {ZH: "兑换成功：%s。请到驿站出示兑换码。", EN: "Reserved: %s. Show the code at the station."},
	"flash.shelf_cancelled":   {ZH: "已取消，积分已退回。", EN: "Cancelled; the points are back."},
	"flash.shelf_saved":       {ZH: "已保存。", EN: "Saved."},
	"shelf.err.unknown":       {ZH: "没有这个兑换码，请与骑手核对。", EN: "No reservation has this code; check it with the rider."},
	"shelf.err.other_station": {ZH: "此兑换码属于%s，请骑手到该驿站领取。", EN: "This code is for a reward reserved at %s; the rider picks it up there."},
	"shelf.err.picked_up":     {ZH: "已在%s领取（%s），不能重复领取。", EN: "Already picked up at %s on %s."},
	"shelf.err.expired":       {ZH: "兑换码已过期，积分已退回骑手。", EN: "The code has expired; the points went back to the rider."},
	"shelf.err.cancelled":     {ZH: "骑手已取消此兑换。", EN: "The rider cancelled this reservation."},
	"shelf.err.too_many":      {ZH: "输错次数过多，请在 %s 之后再试。", EN: "Too many wrong codes; try again after %s."},
	"shelf.err.out_of_stock":  {ZH: "已兑完。", EN: "None left."},
	"shelf.err.limit":         {ZH: "本月兑换次数已达上限。", EN: "You have reserved this reward as often as it allows this month."},
	"shelf.err.insufficient":  {ZH: "可用积分不足。", EN: "Not enough points available."},
	"shelf.err.debt":          {ZH: "积分为负，还清之前不能兑换。", EN: "Your balance is below zero: rewards can be reserved once it is repaid."},
	"shelf.err.unavailable":   {ZH: "该奖励目前不可兑换，或不能在所选驿站领取。", EN: "This reward is not on offer now, or not at the station chosen."},
	"shelf.err.not_found":     {ZH: "没有这个奖励。", EN: "No such reward."},
	"shelf.err.invalid":       {ZH: "填写有误：%s", EN: "Please check the form: %s"},
	"shelf.err.picture":       {ZH: "图片不可用：请上传不超过 5 MB、4000×4000 的 JPEG 或 PNG。", EN: "Picture refused: send a JPEG or PNG of at most 5 MB and 4000×4000."},
	"shelf.err.other":         {ZH: "操作未完成，请稍后再试。", EN: "That did not go through; try again in a moment."},
}

type shelfPages struct {
	k *web.Pages
	s *Service
}

// mountShelfPages adds the rider's shelf and codes, the station admin's
// pickup, today's pickups and shelf pages, and the admin's city shelf.
func mountShelfPages(k *web.Pages, s *Service) error {
	p := &shelfPages{k: k, s: s}
	k.AddMessages(shelfMessages)
	k.AddTemplates(shelfTemplates, "templates/shelf_list.html", "templates/shelf_codes.html", "templates/shelf_pickup.html",
		"templates/shelf_manage.html")
	k.AddStatic(shelfStatic, "static")
	// My codes is linked from the wallet and the shelf, the city shelf from
	// the points admin page: the navigation keeps to what is used daily.
	k.AddNav(web.NavLink{Href: "/points/shelf", Label: "nav.shelf", Perm: PermRedeem, Order: 41})
	k.AddHomeLinks(45, p.stationLinks)
	k.Handle(fiber.MethodGet, "/points/shelf", PermShelf, p.shelf)
	k.Handle(fiber.MethodPost, "/points/shelf/reserve", PermRedeem, p.reserve)
	k.Handle(fiber.MethodGet, "/points/rewards/:id/picture", PermShelf, p.picture)
	k.Handle(fiber.MethodGet, "/points/codes", PermWallet, p.codes)
	k.Handle(fiber.MethodGet, "/points/codes/:id/qr.png", PermWallet, p.qr)
	k.Handle(fiber.MethodPost, "/points/codes/:id/cancel", PermRedeem, p.cancel)
	k.Handle(fiber.MethodGet, "/station/:id/pickup", PermConfirm, p.pickup)
	k.Handle(fiber.MethodPost, "/station/:id/pickup", PermConfirm, p.confirm)
	k.Handle(fiber.MethodGet, "/station/:id/pickups", PermConfirm, p.pickup)
	k.Handle(fiber.MethodGet, "/station/:id/shelf", PermShelfManage, p.manage)
	k.Handle(fiber.MethodPost, "/station/:id/shelf", PermShelfManage, p.create)
	k.Handle(fiber.MethodPost, "/station/:id/shelf/:reward", PermShelfManage, p.update)
	k.Handle(fiber.MethodPost, "/station/:id/shelf/:reward/picture", PermShelfManage, p.upload)
	k.Handle(fiber.MethodGet, "/admin/points/shelf", PermCityShelf, p.manage)
	k.Handle(fiber.MethodPost, "/admin/points/shelf", PermCityShelf, p.create)
	k.Handle(fiber.MethodPost, "/admin/points/shelf/:reward", PermCityShelf, p.update)
	k.Handle(fiber.MethodPost, "/admin/points/shelf/:reward/picture", PermCityShelf, p.upload)
	return nil
}

// stationLinks puts a station admin's pickup and shelf pages on the home
// page, one pair per station they keep.
func (p *shelfPages) stationLinks(c *fiber.Ctx, l web.Lang) []web.Link {
	me, ok := policy.PrincipalFrom(c.UserContext())
	if !ok {
		return nil
	}
	var out []web.Link
	for _, d := range p.k.Gate().Enforcer().Domains(me.Subject(), "station_admin") {
		id, ok := strings.CutPrefix(d, "station:")
		if !ok {
			continue
		}
		name := p.stationName(c, id)
		out = append(out, web.Link{Href: "/station/" + id + "/pickup", Label: name + " · " + l.T("pickup.title")},
			web.Link{Href: "/station/" + id + "/shelf", Label: name + " · " + l.T("nav.shelf")})
	}
	return out
}

func (p *shelfPages) stationName(c *fiber.Ctx, id string) string {
	if st, ok, err := p.s.Stations.Station(c.UserContext(), id); err == nil && ok {
		return st.Name
	}
	return id
}

// errText is a domain error in the reader's language.
func (p *shelfPages) errText(l web.Lang, err error) string {
	var oe *OtherStationError
	var pe *PickedUpError
	var te *TooManyTriesError
	var fe *FieldError
	switch {
	case errors.As(err, &oe):
		return l.T("shelf.err.other_station", oe.StationName)
	case errors.As(err, &pe):
		return l.T("shelf.err.picked_up", pe.StationName, p.k.When(pe.At))
	case errors.As(err, &te):
		return l.T("shelf.err.too_many", te.RetryAt.In(p.k.Zone()).Format("15:04"))
	case errors.As(err, &fe):
		return l.T("shelf.err.invalid", fe.Error())
	case errors.Is(err, ErrCodeUnknown):
		return l.T("shelf.err.unknown")
	case errors.Is(err, ErrCodeExpired), errors.Is(err, ErrAborted):
		return l.T("shelf.err.expired")
	case errors.Is(err, ErrCodeCancelled):
		return l.T("shelf.err.cancelled")
	case errors.Is(err, ErrOutOfStock):
		return l.T("shelf.err.out_of_stock")
	case errors.Is(err, ErrLimitReached):
		return l.T("shelf.err.limit")
	case errors.Is(err, ErrInDebt):
		return l.T("shelf.err.debt")
	case errors.Is(err, ErrInsufficient):
		return l.T("shelf.err.insufficient")
	case errors.Is(err, ErrRewardUnavailable):
		return l.T("shelf.err.unavailable")
	case errors.Is(err, ErrRewardNotFound):
		return l.T("shelf.err.not_found")
	case errors.Is(err, ErrPicture):
		return l.T("shelf.err.picture")
	case errors.Is(err, ErrInvalid):
		return l.T("shelf.err.invalid", err.Error())
	}
	return ""
}

// --- rider: shelf and codes ---------------------------------------------------

type shelfRewardRow struct {
	Reward
	Name, Price, Left string
	Stations          []StationInfo // where it may be picked up
	Key               string        // the form's client key
}

type shelfSectionRow struct {
	Title, Distance string
	Rewards         []shelfRewardRow
}

type shelfListPage struct {
	Sections  []shelfSectionRow
	Near      bool
	Available string
	Err       string
	Empty     bool
}

func (p *shelfPages) shelf(c *fiber.Ctx) error { return p.renderShelf(c, "") }

func (p *shelfPages) renderShelf(c *fiber.Ctx, errText string) error {
	l := p.k.Lang(c)
	ctx := c.UserContext()
	var at *Position
	lat, err1 := strconv.ParseFloat(c.Query("lat"), 64)
	lng, err2 := strconv.ParseFloat(c.Query("lng"), 64)
	if err1 == nil && err2 == nil && lat >= -90 && lat <= 90 && lng >= -180 && lng <= 180 {
		at = &Position{Lat: lat, Lng: lng}
	}
	secs, err := p.s.Shelf.List(ctx, at)
	if err != nil {
		return err
	}
	all, err := p.s.Stations.Stations(ctx)
	if err != nil {
		return err
	}
	data := shelfListPage{Near: at != nil, Err: errText, Empty: true}
	if me, ok := policy.PrincipalFrom(ctx); ok && p.k.Can(c, PermRedeem) {
		if b, err := p.s.Ledger.Balance(ctx, Rider(me.UserID)); err == nil {
			data.Available = l.T("shelf.available", b.Available)
		}
	}
	for _, sec := range secs {
		row := shelfSectionRow{Title: l.T("shelf.city")}
		pickup := all
		if sec.Station != nil {
			row.Title = sec.Station.Name
			pickup = []StationInfo{*sec.Station}
			if at != nil {
				row.Distance = l.T("shelf.km", strconv.FormatFloat(sec.DistanceM/1000, 'f', 1, 64))
			}
		} else if at != nil {
			// City rewards: the nearest stations first in the picker too.
			pickup = nearestFirst(all, *at)
		}
		for _, r := range sec.Rewards {
			row.Rewards = append(row.Rewards, shelfRewardRow{Reward: r, Name: r.Name(l.Tag()), Price: l.T("shelf.price", r.Price),
				Left: l.T("shelf.left", r.Stock, r.Limit), Stations: pickup, Key: web.NewToken()})
		}
		if len(row.Rewards) > 0 {
			data.Empty = false
			data.Sections = append(data.Sections, row)
		}
	}
	status := fiber.StatusOK
	if errText != "" {
		status = fiber.StatusConflict
	}
	return p.k.Render(c, status, web.PageArgs{Name: "shelf_list", Title: "shelf.title", Here: "/points/shelf", Data: data})
}

func nearestFirst(sts []StationInfo, at Position) []StationInfo {
	out := append([]StationInfo(nil), sts...)
	dist := func(s StationInfo) float64 { return Haversine(at.Lat, at.Lng, s.Lat, s.Lng) }
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && dist(out[j]) < dist(out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func (p *shelfPages) reserve(c *fiber.Ctx) error {
	l := p.k.Lang(c)
	me, _ := policy.PrincipalFrom(c.UserContext())
	r, err := p.s.Shelf.Reserve(c.UserContext(), me.UserID, web.Form(c, "reward"), web.Form(c, "station"), web.Form(c, "key"))
	if err != nil {
		if t := p.errText(l, err); t != "" {
			return p.renderShelf(c, t)
		}
		return err
	}
	web.Flash(c, "flash.shelf_reserved", r.Name(l.Tag()))
	return c.Redirect("/points/codes", fiber.StatusSeeOther)
}

func (p *shelfPages) picture(c *fiber.Ctx) error {
	rc, ctype, err := p.s.Shelf.Picture(c.UserContext(), c.Params("id"))
	if errors.Is(err, ErrRewardNotFound) || errors.Is(err, ErrNoPicture) {
		return fiber.ErrNotFound
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, MaxPictureBody))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, ctype)
	c.Set(fiber.HeaderCacheControl, "private, max-age=300")
	return c.Send(b)
}

type codeRow struct {
	Reservation
	Name, Code, Station, StatusText, Until, Ended string
	Live                                          bool
}

type codesPage struct{ Rows []codeRow }

func (p *shelfPages) codes(c *fiber.Ctx) error {
	l := p.k.Lang(c)
	me, _ := policy.PrincipalFrom(c.UserContext())
	rs, err := p.s.Shelf.Codes(c.UserContext(), me.UserID, 50)
	if err != nil {
		return err
	}
	var data codesPage
	for _, r := range rs {
		row := codeRow{Reservation: r, Name: r.Name(l.Tag()), Station: p.stationName(c, r.Station),
			StatusText: l.T("status." + string(r.Status)), Live: r.Status == StatusReserved}
		if row.Live {
			row.Code = FormatCode(r.Code)
			row.Until = l.T("codes.show", p.k.When(r.Deadline))
		}
		if !r.EndedAt.IsZero() {
			row.Ended = p.k.When(r.EndedAt)
		}
		data.Rows = append(data.Rows, row)
	}
	return p.k.Render(c, fiber.StatusOK, web.PageArgs{Name: "shelf_codes", Title: "codes.title", Data: data})
}

// qr draws a live code's QR, for its rider only (anyone else: not found).
func (p *shelfPages) qr(c *fiber.Ctx) error {
	me, _ := policy.PrincipalFrom(c.UserContext())
	r, err := p.s.Shelf.Reservation(c.UserContext(), me.UserID, c.Params("id"))
	if errors.Is(err, ErrReservationNotFound) {
		return fiber.ErrNotFound
	}
	if err != nil {
		return err
	}
	if r.Status != StatusReserved {
		return fiber.ErrGone
	}
	b, err := CodeQR(r.Code, 320)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "image/png")
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	return c.Send(b)
}

func (p *shelfPages) cancel(c *fiber.Ctx) error {
	me, _ := policy.PrincipalFrom(c.UserContext())
	_, err := p.s.Shelf.Cancel(c.UserContext(), me.UserID, c.Params("id"))
	if errors.Is(err, ErrReservationNotFound) {
		return fiber.ErrNotFound
	}
	if err != nil {
		if t := p.errText(p.k.Lang(c), err); t != "" {
			return fiber.NewError(fiber.StatusConflict, t)
		}
		return err
	}
	web.Flash(c, "flash.shelf_cancelled")
	return c.Redirect("/points/codes", fiber.StatusSeeOther)
}

// --- station admin: pickup --------------------------------------------------------

type pickupRow struct{ Name, When, Price string }

type pickupPage struct {
	StationID, Station string
	Done, Err          string
	Today              []pickupRow
}

// station checks that the caller may act at the station in the path,
// with perm, and returns its id and name.
func (p *shelfPages) station(c *fiber.Ctx, perm policy.Permission) (string, string, error) {
	id := c.Params("id")
	if err := p.k.Gate().Check(c.UserContext(), perm, policy.StationDomain(id)); err != nil {
		return "", "", fiber.ErrForbidden
	}
	st, ok, err := p.s.Stations.Station(c.UserContext(), id)
	if err != nil {
		return "", "", err
	}
	if !ok {
		return "", "", fiber.ErrNotFound
	}
	return id, st.Name, nil
}

func (p *shelfPages) pickup(c *fiber.Ctx) error { return p.renderPickup(c, fiber.StatusOK, "", "") }

func (p *shelfPages) renderPickup(c *fiber.Ctx, status int, done, errText string) error {
	l := p.k.Lang(c)
	id, name, err := p.station(c, PermConfirm)
	if err != nil {
		return err
	}
	rs, err := p.s.Shelf.PickupsToday(c.UserContext(), id)
	if err != nil {
		return err
	}
	data := pickupPage{StationID: id, Station: name, Done: done, Err: errText}
	for _, r := range rs {
		data.Today = append(data.Today, pickupRow{Name: r.Name(l.Tag()), When: p.k.When(r.EndedAt), Price: l.T("shelf.price", r.Price)})
	}
	return p.k.Render(c, status, web.PageArgs{Name: "shelf_pickup", Title: "pickup.title", Here: "/station/" + id + "/pickup", Data: data})
}

func (p *shelfPages) confirm(c *fiber.Ctx) error {
	l := p.k.Lang(c)
	id, _, err := p.station(c, PermConfirm)
	if err != nil {
		return err
	}
	me, _ := policy.PrincipalFrom(c.UserContext())
	r, err := p.s.Shelf.Confirm(c.UserContext(), me.UserID, id, web.Form(c, "code"))
	if err != nil {
		t := p.errText(l, err)
		if t == "" {
			return err
		}
		status := fiber.StatusConflict
		switch {
		case errors.Is(err, ErrTooManyTries):
			status = fiber.StatusTooManyRequests
		case errors.Is(err, ErrCodeUnknown):
			status = fiber.StatusNotFound
		case errors.Is(err, ErrCodeExpired), errors.Is(err, ErrCodeCancelled):
			status = fiber.StatusGone
		}
		return p.renderPickup(c, status, "", t)
	}
	return p.renderPickup(c, fiber.StatusOK, l.T("pickup.done", r.Name(l.Tag()), r.Price), "")
}

// --- shelf keepers -----------------------------------------------------------------

type manageRow struct {
	Reward
	Name, From, Until string
}

type managePage struct {
	Base, Heading, Err string
	Rows               []manageRow
}

// scope returns the scope of a manage page (a station's, or the city's
// under /admin) and its address, checking the caller keeps that shelf.
func (p *shelfPages) scope(c *fiber.Ctx) (scope, base, name string, err error) {
	if strings.HasPrefix(c.Path(), "/admin/") {
		if err := p.k.Gate().Check(c.UserContext(), PermShelfManage, policy.DomainAll); err != nil {
			return "", "", "", fiber.ErrForbidden
		}
		return CityScope, "/admin/points/shelf", p.k.Lang(c).T("manage.city"), nil
	}
	id, name, err := p.station(c, PermShelfManage)
	if err != nil {
		return "", "", "", err
	}
	return id, "/station/" + id + "/shelf", name, nil
}

func (p *shelfPages) manage(c *fiber.Ctx) error { return p.renderManage(c, fiber.StatusOK, "") }

func (p *shelfPages) renderManage(c *fiber.Ctx, status int, errText string) error {
	l := p.k.Lang(c)
	scope, base, name, err := p.scope(c)
	if err != nil {
		return err
	}
	rs, err := p.s.Shelf.All(c.UserContext(), scope)
	if err != nil {
		return err
	}
	data := managePage{Base: base, Heading: l.T("manage.title", name), Err: errText}
	day := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.In(p.k.Zone()).Format("2006-01-02")
	}
	for _, r := range rs {
		data.Rows = append(data.Rows, manageRow{Reward: r, Name: r.Name(l.Tag()), From: day(r.From), Until: day(r.Until)})
	}
	return p.k.Render(c, status, web.PageArgs{Name: "shelf_manage", Title: "nav.shelf", Here: base, Data: data})
}

// formDay reads a date field ("" → zero time) as the start of that day in
// the page's zone.
func (p *shelfPages) formDay(c *fiber.Ctx, field string) (time.Time, error) {
	v := web.Form(c, field)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation("2006-01-02", v, p.k.Zone())
	if err != nil {
		return time.Time{}, &FieldError{field, "give a date as 2006-01-02"}
	}
	return t.UTC(), nil
}

func formInt(c *fiber.Ctx, field string) (int64, error) {
	v := strings.TrimSpace(web.Form(c, field))
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, &FieldError{field, "give a whole number"}
	}
	return n, nil
}

func (p *shelfPages) saved(c *fiber.Ctx, base string, err error) error {
	if err != nil {
		if t := p.errText(p.k.Lang(c), err); t != "" {
			return p.renderManage(c, fiber.StatusUnprocessableEntity, t)
		}
		return err
	}
	web.Flash(c, "flash.shelf_saved")
	return c.Redirect(base, fiber.StatusSeeOther)
}

func (p *shelfPages) create(c *fiber.Ctx) error {
	scope, base, _, err := p.scope(c)
	if err != nil {
		return err
	}
	spec := RewardSpec{Scope: scope, NameZH: web.Form(c, "name_zh"), NameEN: web.Form(c, "name_en")}
	var limit int64
	if spec.Price, err = formInt(c, "price"); err == nil {
		if spec.Stock, err = formInt(c, "stock"); err == nil {
			if limit, err = formInt(c, "limit"); err == nil {
				if spec.From, err = p.formDay(c, "from"); err == nil {
					spec.Until, err = p.formDay(c, "until")
				}
			}
		}
	}
	if err == nil {
		if limit > MaxMonthlyLimit || limit < 0 {
			limit = 0 // refused by Create with its reason
		}
		spec.Limit = int(limit)
		_, err = p.s.Shelf.Create(c.UserContext(), spec)
	}
	return p.saved(c, base, err)
}

// owned reads the reward in the path and checks it is on this shelf.
func (p *shelfPages) owned(c *fiber.Ctx, scope string) (Reward, error) {
	r, err := p.s.Shelf.Reward(c.UserContext(), c.Params("reward"))
	if errors.Is(err, ErrRewardNotFound) || (err == nil && r.Scope != scope) {
		return Reward{}, fiber.ErrNotFound
	}
	return r, err
}

func (p *shelfPages) update(c *fiber.Ctx) error {
	scope, base, _, err := p.scope(c)
	if err != nil {
		return err
	}
	r, err := p.owned(c, scope)
	if err != nil {
		return err
	}
	var ch RewardChange
	switch web.Form(c, "action") {
	case "retire":
		off := false
		ch.Active = &off
	case "activate":
		on := true
		ch.Active = &on
	default:
		price, err := formInt(c, "price")
		if err != nil {
			return p.saved(c, base, err)
		}
		add, err := formInt(c, "add_stock")
		if err != nil {
			return p.saved(c, base, err)
		}
		if price != 0 && price != r.Price {
			ch.Price = &price
		}
		ch.AddStock = add
	}
	_, err = p.s.Shelf.Update(c.UserContext(), r.ID, ch)
	return p.saved(c, base, err)
}

func (p *shelfPages) upload(c *fiber.Ctx) error {
	scope, base, _, err := p.scope(c)
	if err != nil {
		return err
	}
	r, err := p.owned(c, scope)
	if err != nil {
		return err
	}
	fh, err := c.FormFile("picture")
	if err != nil {
		return p.saved(c, base, ErrPicture)
	}
	if fh.Size > MaxPictureBytes {
		return p.saved(c, base, ErrPicture)
	}
	f, err := fh.Open()
	if err != nil {
		return err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxPictureBytes+1))
	if err != nil {
		return err
	}
	_, err = p.s.Shelf.SetPicture(c.UserContext(), r.ID, b)
	return p.saved(c, base, err)
}
