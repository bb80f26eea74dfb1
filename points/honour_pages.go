package points

import (
	"embed"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/web"
)

//go:embed templates/honour_*.html templates/adjust_*.html
var honourTemplates embed.FS

var honourMessages = map[string]web.Msg{
	"nav.honour_board":      {ZH: "排行榜", EN: "Leaderboard"},
	"nav.honour_notice":     {ZH: "积分公示", EN: "Notice board"},
	"nav.adjustments":       {ZH: "积分调整", EN: "Adjustments"},
	"honour.board.title":    {ZH: "积分排行榜", EN: "Points leaderboard"},
	"honour.notice.title":   {ZH: "积分公示", EN: "Points notice board"},
	"honour.month":          {ZH: "月份", EN: "Month"},
	"honour.scope":          {ZH: "范围", EN: "Scope"},
	"honour.show":           {ZH: "查看", EN: "Show"},
	"honour.city":           {ZH: "全市", EN: "Whole city"},
	"honour.district":       {ZH: "区县：%s", EN: "District: %s"},
	"honour.station":        {ZH: "驿站：%s", EN: "Station: %s"},
	"honour.col.rank":       {ZH: "名次", EN: "Rank"},
	"honour.col.name":       {ZH: "骑手", EN: "Rider"},
	"honour.col.points":     {ZH: "积分", EN: "Points"},
	"honour.col.time":       {ZH: "时间", EN: "Time"},
	"honour.col.what":       {ZH: "事由", EN: "For"},
	"honour.you":            {ZH: "（我）", EN: " (me)"},
	"honour.empty":          {ZH: "这个月还没有获得积分的记录。", EN: "No points were awarded this month yet."},
	"honour.privacy":        {ZH: "骑手选择公开时显示昵称，否则显示遮挡后的名字；从不显示手机号。", EN: "Riders are shown by display name if they chose so, otherwise by a masked name; never by phone number."},
	"honour.my_level":       {ZH: "我的等级：%s", EN: "My level: %s"},
	"honour.to_next":        {ZH: "再得 %d 分升为「%s」", EN: "%d more points to reach %s"},
	"honour.top_level":      {ZH: "已是最高等级", EN: "Top level reached"},
	"honour.badges":         {ZH: "徽章", EN: "Badges"},
	"honour.name_shown":     {ZH: "我的昵称在排行榜和公示中公开显示。", EN: "My display name is shown on the leaderboard and the notice board."},
	"honour.name_hidden":    {ZH: "我的名字在排行榜和公示中遮挡显示。", EN: "My name is masked on the leaderboard and the notice board."},
	"honour.show_name":      {ZH: "公开我的昵称", EN: "Show my display name"},
	"honour.hide_name":      {ZH: "遮挡我的名字", EN: "Mask my name"},
	"honour.kind.award":     {ZH: "核实奖励", EN: "Award"},
	"honour.kind.clawback":  {ZH: "扣回", EN: "Taken back"},
	"honour.kind.reversal":  {ZH: "撤销", EN: "Reversed"},
	"honour.kind.other":     {ZH: "其他", EN: "Other"},
	"honour.csv":            {ZH: "导出公示 CSV", EN: "Export the notice as CSV"},
	"flash.honour_name_on":  {ZH: "已设置：公开显示你的昵称。", EN: "Done: your display name will be shown."},
	"flash.honour_name_off": {ZH: "已设置：遮挡显示你的名字。", EN: "Done: your name will be masked."},

	"adjust.title":           {ZH: "积分调整", EN: "Points adjustments"},
	"adjust.lead":            {ZH: "管理员提出调整并说明理由，须由另一位管理员批准后才入账。", EN: "An admin proposes an adjustment with a reason; it posts only once a different admin approves it."},
	"adjust.propose":         {ZH: "提出调整", EN: "Propose an adjustment"},
	"adjust.rider":           {ZH: "骑手手机号或账户 ID", EN: "Rider's phone number or user id"},
	"adjust.amount":          {ZH: "积分（正数增加，负数扣减）", EN: "Points (positive adds, negative deducts)"},
	"adjust.reason":          {ZH: "理由", EN: "Reason"},
	"adjust.submit":          {ZH: "提交待批", EN: "Submit for approval"},
	"adjust.list":            {ZH: "最近的调整", EN: "Recent adjustments"},
	"adjust.none":            {ZH: "还没有调整。", EN: "No adjustments yet."},
	"adjust.col.id":          {ZH: "编号", EN: "Id"},
	"adjust.col.rider":       {ZH: "骑手", EN: "Rider"},
	"adjust.col.amount":      {ZH: "积分", EN: "Points"},
	"adjust.col.reason":      {ZH: "理由", EN: "Reason"},
	"adjust.col.proposed":    {ZH: "提出", EN: "Proposed"},
	"adjust.col.status":      {ZH: "状态", EN: "Status"},
	"adjust.col.action":      {ZH: "操作", EN: "Action"},
	"adjust.approve":         {ZH: "批准", EN: "Approve"},
	"adjust.reject":          {ZH: "驳回", EN: "Reject"},
	"adjust.reject_reason":   {ZH: "驳回理由", EN: "Why reject"},
	"adjust.own":             {ZH: "本人提出，须由其他管理员批准", EN: "Yours: another admin must approve it"},
	"adjust.status.pending":  {ZH: "待批准", EN: "Pending"},
	"adjust.status.approved": {ZH: "已批准入账", EN: "Approved and posted"},
	"adjust.status.rejected": {ZH: "已驳回", EN: "Rejected"},
	"adjust.status.stalled":  {ZH: "已批准未入账", EN: "Approved, not posted"},
	"adjust.exports":         {ZH: "导出", EN: "Exports"},
	"adjust.export_notice":   {ZH: "导出本月公示 CSV", EN: "This month's notice as CSV"},
	"adjust.export_stmt":     {ZH: "导出骑手账单 CSV", EN: "A rider's statement as CSV"},
	"flash.adjust_proposed":  {ZH: "调整 %s 已提交，等待其他管理员批准。", EN: "Adjustment %s was proposed; another admin must approve it."},
	"flash.adjust_approved":  {ZH: "调整 %s 已批准并入账。", EN: "Adjustment %s was approved and posted."},
	"flash.adjust_rejected":  {ZH: "调整 %s 已驳回。", EN: "Adjustment %s was rejected."},
}

var honourReasons = map[string]string{
	"Month must look like 2026-03 and scope be city, district:<name> or station:<id>.": "月份格式应为 2026-03，范围应为全市、区县或驿站。",
	"Month must look like 2026-03.":        "月份格式应为 2026-03。",
	"There is no adjustment with that id.": "没有这个编号的调整。",
}

type honourPages struct {
	k *web.Pages
	s *Service
	a *honourAPI
}

// mountHonourPages adds the leaderboard and the 公示 (public), the
// rider's choice to show their name, and the admins' adjustments page with
// the CSV exports.
func mountHonourPages(k *web.Pages, s *Service) error {
	if err := web.Require("points: honour pages", map[string]bool{"Honour": s.Honour == nil, "Adjust": s.Adjust == nil, "Ledger": s.Ledger == nil}); err != nil {
		return err
	}
	p := &honourPages{k: k, s: s, a: &honourAPI{s: s, log: s.Log}}
	k.AddMessages(honourMessages)
	k.AddReasons(honourReasons)
	k.AddTemplates(honourTemplates, "templates/honour_board.html", "templates/honour_notice.html", "templates/adjust_admin.html")
	// The notice board is linked from the leaderboard and the wallet.
	k.AddNav(web.NavLink{Href: "/points/leaderboard", Label: "nav.honour_board", Perm: PermHonour, Order: 45},
		web.NavLink{Href: "/admin/points/adjustments", Label: "nav.adjustments", Perm: PermAdjust, Order: 245})
	get, post := fiber.MethodGet, fiber.MethodPost
	k.Handle(get, "/points/leaderboard", PermHonour, p.board)
	k.Handle(get, "/points/notice", PermHonour, p.notice)
	k.Handle(post, "/points/public-name", PermWallet, p.publicName)
	k.Handle(get, "/admin/points/adjustments", PermAdjust, p.adjustments)
	k.Handle(post, "/admin/points/adjustments", PermAdjust, p.propose)
	k.Handle(post, "/admin/points/adjustments/:id/approve", PermAdjust, p.approve)
	k.Handle(post, "/admin/points/adjustments/:id/reject", PermAdjust, p.reject)
	k.Handle(get, "/admin/points/statement", PermAudit, p.statementLink)
	return nil
}

// scopeLabel names a leaderboard scope in l.
func (p *honourPages) scopeLabel(c *fiber.Ctx, l web.Lang, scope string) string {
	if d, ok := strings.CutPrefix(scope, scopeDistrict); ok {
		return l.T("honour.district", d)
	}
	if id, ok := strings.CutPrefix(scope, scopeStation); ok {
		name := id
		if p.s.Stations != nil {
			if st, found, err := p.s.Stations.Station(c.UserContext(), id); err == nil && found {
				name = st.Name
			}
		}
		return l.T("honour.station", name)
	}
	return l.T("honour.city")
}

// monthChoices offers the months with awards and the current one.
func (p *honourPages) monthChoices(cur string) []web.Choice {
	months := p.s.Honour.Months()
	now := MonthKey(time.Now())
	if len(months) == 0 || months[0] != now {
		months = append([]string{now}, months...)
	}
	if !strings.Contains(strings.Join(months, ","), cur) && ValidMonth(cur) {
		months = append(months, cur)
	}
	out := make([]web.Choice, 0, len(months))
	for _, m := range months {
		out = append(out, web.Choice{Value: m, Label: m, Checked: m == cur})
	}
	return out
}

type boardPage struct {
	Month, Scope, ScopeLabel string
	Months, Scopes           []web.Choice
	Rows                     []boardPageRow
	Error                    string
	Mine                     *mineHonour
	CanCSV                   bool
}

type boardPageRow struct {
	BoardRow
	Me bool
}

// mineHonour is the viewer's own level and name choice, for a rider.
type mineHonour struct {
	Level, Next string
	ToNext      int64
	Badges      []string
	ShowName    bool
}

func (p *honourPages) mine(c *fiber.Ctx, l web.Lang) (*mineHonour, string, error) {
	me, ok := policy.PrincipalFrom(c.UserContext())
	// Only a rider has a level: an admin, who may do everything, has no
	// points of their own to show.
	if !ok || me.Kind != policy.RoleRider || !p.k.CanSomewhere(c, PermWallet) {
		return nil, "", nil
	}
	rh, err := p.s.Honour.Rider(c.UserContext(), me.UserID)
	if err != nil {
		return nil, "", err
	}
	show, err := p.s.Honour.ShowsPublicName(c.UserContext(), me.UserID)
	if err != nil {
		return nil, "", err
	}
	m := &mineHonour{Level: levelText(l, rh.Level), ToNext: rh.ToNext, ShowName: show}
	if rh.Next != nil {
		m.Next = levelText(l, *rh.Next)
	}
	for _, b := range rh.Badges {
		if l.Tag() == web.EN {
			m.Badges = append(m.Badges, b.EN)
		} else {
			m.Badges = append(m.Badges, b.ZH)
		}
	}
	return m, me.UserID, nil
}

func levelText(l web.Lang, lv Level) string {
	if l.Tag() == web.EN {
		return lv.EN
	}
	return lv.ZH
}

func (p *honourPages) board(c *fiber.Ctx) error {
	l := p.k.Lang(c)
	ctx := c.UserContext()
	if err := p.s.Honour.Refresh(ctx); err != nil {
		return err
	}
	month, scope := monthOrNow(strings.Clone(c.Query("month"))), strings.Clone(c.Query("scope"))
	if scope == "" {
		scope = ScopeCity
	}
	data := boardPage{Month: month, Scope: scope, CanCSV: p.k.Can(c, PermAudit)}
	rows, err := p.s.Honour.Board(ctx, month, scope, 100)
	status := fiber.StatusOK
	if errors.Is(err, ErrBadScope) {
		data.Error, status = l.Reason(sentence(err, ErrBadScope)), fiber.StatusUnprocessableEntity
	} else if err != nil {
		return err
	}
	mine, myID, err := p.mine(c, l)
	if err != nil {
		return err
	}
	data.Mine = mine
	for _, r := range rows {
		data.Rows = append(data.Rows, boardPageRow{BoardRow: r, Me: myID != "" && r.Rider == myID})
	}
	data.Months = p.monthChoices(month)
	data.ScopeLabel = p.scopeLabel(c, l, scope)
	for _, sc := range p.s.Honour.Scopes(month) {
		data.Scopes = append(data.Scopes, web.Choice{Value: sc, Label: p.scopeLabel(c, l, sc), Checked: sc == scope})
	}
	return p.k.Render(c, status, web.PageArgs{Name: "honour_board", Title: "honour.board.title", Data: data})
}

type noticePage struct {
	Month  string
	Months []web.Choice
	Rows   []noticePageRow
	Error  string
	CanCSV bool
}

type noticePageRow struct {
	When, Name, What, Ref string
	Points                int64
}

func (p *honourPages) notice(c *fiber.Ctx) error {
	l := p.k.Lang(c)
	ctx := c.UserContext()
	if err := p.s.Honour.Refresh(ctx); err != nil {
		return err
	}
	month := monthOrNow(strings.Clone(c.Query("month")))
	data := noticePage{Month: month, CanCSV: p.k.Can(c, PermAudit)}
	rows, err := p.s.Honour.Notice(ctx, month)
	status := fiber.StatusOK
	if errors.Is(err, ErrBadScope) {
		data.Error, status = l.Reason(sentence(err, ErrBadScope)), fiber.StatusUnprocessableEntity
	} else if err != nil {
		return err
	}
	// Newest first on the page; the CSV keeps the order they were posted.
	for i := len(rows) - 1; i >= 0; i-- {
		r := rows[i]
		what := "honour.kind." + string(r.Kind)
		if !l.Has(what) {
			what = "honour.kind.other"
		}
		ref := ""
		if id, ok := strings.CutPrefix(r.Ref, "report:"); ok {
			ref = "/reports/" + url.PathEscape(id)
		}
		data.Rows = append(data.Rows, noticePageRow{When: p.k.When(r.At), Name: r.Name, What: l.T(what), Ref: ref, Points: r.Points})
	}
	data.Months = p.monthChoices(month)
	return p.k.Render(c, status, web.PageArgs{Name: "honour_notice", Title: "honour.notice.title", Data: data})
}

func (p *honourPages) publicName(c *fiber.Ctx) error {
	me, _ := policy.PrincipalFrom(c.UserContext())
	show := c.FormValue("show") == "true"
	if err := p.s.Honour.SetPublicName(c.UserContext(), me.UserID, show); err != nil {
		return err
	}
	if show {
		web.Flash(c, "flash.honour_name_on")
	} else {
		web.Flash(c, "flash.honour_name_off")
	}
	return c.Redirect("/points/leaderboard", fiber.StatusSeeOther)
}

type adjustPage struct {
	web.FormState
	Rows      []adjustRow
	Month     string
	NoticeCSV string
	CanExport bool
}

type adjustRow struct {
	Adjustment
	Proposed, StatusLabel string
	Own                   bool
}

func (p *honourPages) renderAdjust(c *fiber.Ctx, status int, form web.FormState) error {
	l := p.k.Lang(c)
	me, _ := policy.PrincipalFrom(c.UserContext())
	list, err := p.s.Adjust.List(c.UserContext(), 100)
	if err != nil {
		return err
	}
	month := MonthKey(time.Now())
	data := adjustPage{FormState: form, Month: month, CanExport: p.k.Can(c, PermAudit),
		NoticeCSV: "/api/v1/points/notice.csv?month=" + url.QueryEscape(month)}
	for _, a := range list {
		data.Rows = append(data.Rows, adjustRow{Adjustment: a, Proposed: p.k.When(a.ProposedAt),
			StatusLabel: l.T("adjust.status." + a.Status), Own: a.ProposedBy == me.UserID})
	}
	return p.k.Render(c, status, web.PageArgs{Name: "adjust_admin", Title: "adjust.title", Here: "/admin/points/adjustments", Data: data})
}

func (p *honourPages) adjustments(c *fiber.Ctx) error {
	return p.renderAdjust(c, fiber.StatusOK, web.NewFormState())
}

// failed re-renders the adjustments page with a service error in words,
// or returns the error if it is not the caller's.
func (p *honourPages) failed(c *fiber.Ctx, form web.FormState, err error) error {
	l := p.k.Lang(c)
	he := p.a.problem(err)
	type statusDetail interface {
		GetStatus() int
		Error() string
	}
	var sd statusDetail
	if errors.As(he, &sd) && sd.GetStatus() < 500 {
		form.Error = l.Reason(sd.Error())
		return p.renderAdjust(c, sd.GetStatus(), form)
	}
	return err
}

func (p *honourPages) propose(c *fiber.Ctx) error {
	me, _ := policy.PrincipalFrom(c.UserContext())
	form := web.NewFormState()
	for _, f := range []string{"rider", "amount", "reason"} {
		form.Values[f] = web.Form(c, f)
	}
	amount, err := ParseAdjustAmount(form.Values["amount"])
	if err == nil {
		var adj Adjustment
		adj, err = p.s.Adjust.Propose(c.UserContext(), me.UserID, strings.TrimSpace(form.Values["rider"]), amount, form.Values["reason"])
		if err == nil {
			web.Flash(c, "flash.adjust_proposed", adj.ID)
			return c.Redirect("/admin/points/adjustments", fiber.StatusSeeOther)
		}
	}
	return p.failed(c, form, err)
}

func (p *honourPages) approve(c *fiber.Ctx) error {
	me, _ := policy.PrincipalFrom(c.UserContext())
	id := strings.Clone(c.Params("id"))
	if _, err := p.s.Adjust.Approve(c.UserContext(), me.UserID, id); err != nil {
		return p.failed(c, web.NewFormState(), err)
	}
	web.Flash(c, "flash.adjust_approved", id)
	return c.Redirect("/admin/points/adjustments", fiber.StatusSeeOther)
}

func (p *honourPages) reject(c *fiber.Ctx) error {
	me, _ := policy.PrincipalFrom(c.UserContext())
	id := strings.Clone(c.Params("id"))
	if _, err := p.s.Adjust.Reject(c.UserContext(), me.UserID, id, web.Form(c, "reason")); err != nil {
		return p.failed(c, web.NewFormState(), err)
	}
	web.Flash(c, "flash.adjust_rejected", id)
	return c.Redirect("/admin/points/adjustments", fiber.StatusSeeOther)
}

// statementLink sends the export form to the statement CSV of the API.
func (p *honourPages) statementLink(c *fiber.Ctx) error {
	rider := strings.TrimSpace(c.Query("rider"))
	if rider == "" || validAccount(Rider(rider)) != nil {
		return fiber.NewError(fiber.StatusUnprocessableEntity, fmt.Sprintf("%q is not a rider's user id.", rider))
	}
	return c.Redirect("/api/v1/points/riders/"+url.PathEscape(rider)+"/statement.csv", fiber.StatusSeeOther)
}
