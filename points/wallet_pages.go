package points

import (
	"context"
	"embed"
	"fmt"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/web"
)

//go:embed templates/*.html
var walletTemplates embed.FS

var walletMessages = map[string]web.Msg{
	"nav.points":            {ZH: "积分", EN: "Points"},
	"nav.points_ledger":     {ZH: "积分对账", EN: "Points audit"},
	"wallet.title":          {ZH: "我的积分", EN: "My points"},
	"wallet.available":      {ZH: "可用积分", EN: "Available"},
	"wallet.balance":        {ZH: "账户余额", EN: "Balance"},
	"home.points":           {ZH: "我的积分", EN: "My points"},
	"home.points_available": {ZH: "可用 %d 分", EN: "%d points to spend"},
	"home.points_held":      {ZH: "另有 %d 分为待领取的奖品保留。", EN: "%d more are held for rewards waiting to be picked up."},
	"home.points_wallet":    {ZH: "积分明细和奖品", EN: "Points and rewards"},
	"wallet.held":           {ZH: "兑换预留", EN: "On hold for rewards"},
	"wallet.earned":         {ZH: "累计获得", EN: "Earned in all"},
	"wallet.debt":           {ZH: "你的积分为负（%d），还清之前不能兑换。", EN: "Your balance is %d: rewards can be reserved again once it is repaid."},
	"wallet.expiring":       {ZH: "%d 积分将于 %s 过期，请尽快使用。", EN: "%d points expire on %s: spend them before then."},
	"wallet.none_expiring":  {ZH: "未来 30 天没有积分过期。", EN: "No points expire in the next 30 days."},
	"wallet.how":            {ZH: "上报的问题被网格员核实后获得积分，可在驿站兑换奖励。", EN: "You earn points when an officer verifies your report, and spend them on rewards at rest stations."},
	"wallet.statement":      {ZH: "积分明细", EN: "Statement"},
	"wallet.level":          {ZH: "等级", EN: "Level"},
	"wallet.next_level":     {ZH: "再得 %[2]d 分升为“%[1]s”", EN: "%[2]d more points to %[1]s"},
	"statement.title":       {ZH: "积分明细", EN: "Points statement"},
	"statement.when":        {ZH: "时间", EN: "When"},
	"statement.what":        {ZH: "事项", EN: "What"},
	"statement.change":      {ZH: "变动", EN: "Change"},
	"statement.after":       {ZH: "余额", EN: "Balance"},
	"statement.none":        {ZH: "还没有积分记录。", EN: "No entries yet."},
	"statement.older":       {ZH: "更早的记录", EN: "Older entries"},
	"statement.newest":      {ZH: "最新记录", EN: "Newest entries"},
	"statement.report":      {ZH: "查看上报", EN: "the report"},
	"statement.expires":     {ZH: "%s 过期", EN: "expires %s"},
	"statement.held":        {ZH: "预留 %d", EN: "%d on hold"},
	"statement.released":    {ZH: "退回 %d", EN: "%d released"},
	"statement.balance":     {ZH: "余额 %d", EN: "balance %d"},
	"statement.csv":         {ZH: "导出 CSV", EN: "Download CSV"},
	"kind.award":            {ZH: "上报核实奖励", EN: "Award"},
	"kind.spend":            {ZH: "消费", EN: "Spent"},
	"kind.expiry":           {ZH: "积分过期", EN: "Expired"},
	"kind.adjustment":       {ZH: "人工调整", EN: "Adjustment"},
	"kind.hold":             {ZH: "兑换预留", EN: "Reserved for a reward"},
	"kind.post":             {ZH: "奖励已领取", EN: "Reward picked up"},
	"kind.void":             {ZH: "预留已退回", EN: "Reservation released"},
	"kind.reversal":         {ZH: "冲正", EN: "Correction"},
	"kind.clawback":         {ZH: "奖励收回", EN: "Award taken back"},
	"statement.refused":     {ZH: "（未执行：积分不足）", EN: "(refused: not enough points)"},
	"ledger.title":          {ZH: "积分对账", EN: "Points reconciliation"},
	"ledger.clean":          {ZH: "账目无误：%d 个账户，%d 条记录，%d 笔交易。", EN: "Clean: %d accounts, %d entries, %d movements."},
	"ledger.anomalies":      {ZH: "发现 %d 处异常：", EN: "%d anomalies found:"},
	"ledger.never":          {ZH: "本服务启动后尚未对账。", EN: "Not reconciled since this server started."},
	"ledger.failed":         {ZH: "对账失败：%s", EN: "Reconciliation failed: %s"},
	"ledger.at":             {ZH: "对账时间：%s", EN: "Reconciled at %s"},
	"ledger.run":            {ZH: "立即对账", EN: "Reconcile now"},
	"ledger.more":           {ZH: "积分管理", EN: "Points administration"},
	"ledger.how":            {ZH: "对账会重算每个账户的流水：序号连续、余额连续、每笔交易借贷相抵、逾期未处理的预留。命令行：nuanxin ledger verify。", EN: "Reconciliation recomputes every account's chain: numbers and balances follow on, every movement's legs sum to zero, no hold is overdue. From a shell: nuanxin ledger verify."},
}

type walletPages struct {
	k *web.Pages
	s *Service
}

// mountWalletPages adds the rider's wallet and statement and the admin's
// reconciliation page.
func mountWalletPages(k *web.Pages, s *Service) error {
	p := &walletPages{k: k, s: s}
	k.AddMessages(walletMessages)
	k.AddTemplates(walletTemplates, "templates/wallet.html", "templates/wallet_statement.html", "templates/wallet_ledger.html")
	k.AddNav(web.NavLink{Href: "/points", Label: "nav.points", Perm: PermWallet, Order: 40},
		web.NavLink{Href: "/admin/points/ledger", Label: "nav.points_ledger", Perm: PermAudit, Order: 240})
	k.AddHomePanel(30, p.homePanel)
	k.Handle(fiber.MethodGet, "/points", PermWallet, p.wallet)
	k.Handle(fiber.MethodGet, "/points/statement", PermWallet, p.statement)
	k.Handle(fiber.MethodGet, "/admin/points/ledger", PermAudit, p.ledger)
	k.Handle(fiber.MethodPost, "/admin/points/ledger", PermAudit, p.reconcile)
	return nil
}

type walletPage struct {
	W             WalletView
	Expiring      string // the expiry sentence, "" if nothing expires soon
	Debt          string
	Level         string
	NextLevel     string // "" at the top level
	Badges        []string
	Recent        []statementRow
	ShowStatement bool
}

type statementRow struct {
	When, What, Detail, Report, Expires string
	Change, Balance                     int64
	HeldOn, Released                    int64 // points put on hold, or released, with no change of balance
	Refused                             bool
}

// rows describes entries in words. The ledger's notes are for auditors
// ("reward rw…", "picked up at 6b0b…"); a rider reads the reward and the
// station by name, the report by a link, and an admin's reason for an
// adjustment as written.
func (p *walletPages) rows(c *fiber.Ctx, l web.Lang, es []Entry) []statementRow {
	ctx := c.UserContext()
	out := make([]statementRow, 0, len(es))
	reservations := map[string]string{} // hold key → "reward · station"
	for _, e := range es {
		r := statementRow{When: p.k.When(e.At), What: l.T("kind." + string(e.Kind)),
			Change: e.Amount, Balance: e.Balance, Refused: e.Refused}
		if e.Amount == 0 && !e.Refused {
			r.HeldOn, r.Released = max(e.HeldChange, 0), max(-e.HeldChange, 0)
		}
		r.Report = statementEntry(e).Report
		switch e.Kind {
		case KindHold, KindHoldPost, KindHoldVoid:
			key := e.Movement
			if e.Kind != KindHold {
				key = e.Ref
			}
			if _, seen := reservations[key]; !seen {
				reservations[key] = p.reservationWords(ctx, l, key)
			}
			r.Detail = reservations[key]
		case KindAdjustment, KindAward:
			if r.Report == "" {
				r.Detail = e.Note // an admin's reason, or what another part of Nuanxin awarded for
			}
		}
		if !e.Expires.IsZero() {
			r.Expires = l.T("statement.expires", e.Expires.Add(-1).In(p.k.Zone()).Format("2006-01-02"))
		}
		out = append(out, r)
	}
	return out
}

// reservationWords names the reward and station of a hold ("" if unknown).
func (p *walletPages) reservationWords(ctx context.Context, l web.Lang, holdKey string) string {
	rest, ok := strings.CutPrefix(holdKey, "redeem:")
	rider, clientKey, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 || p.s.Shelf == nil {
		return ""
	}
	r, err := p.s.Shelf.Reservation(ctx, rider, ReservationID(rider, clientKey))
	if err != nil {
		return ""
	}
	name := r.NameZH
	if l.Tag() == web.EN && r.NameEN != "" {
		name = r.NameEN
	}
	if st, ok, err := p.s.Stations.Station(ctx, r.Station); err == nil && ok {
		return name + " · " + st.Name
	}
	return name
}

func (p *walletPages) wallet(c *fiber.Ctx) error {
	l := p.k.Lang(c)
	me, _ := policy.PrincipalFrom(c.UserContext())
	v, err := p.s.wallet(c.UserContext(), me.UserID)
	if err != nil {
		return err
	}
	data := walletPage{W: v, Level: p.s.levelName(l, v.Earned)}
	if _, next := LevelOf(v.Earned); next != nil {
		data.NextLevel = l.T("wallet.next_level", levelWord(l, *next), next.Min-v.Earned)
	}
	h, err := p.s.Honour.Rider(c.UserContext(), me.UserID)
	if err != nil {
		return err
	}
	for _, b := range h.Badges {
		name := b.ZH
		if l.Tag() == web.EN {
			name = b.EN
		}
		data.Badges = append(data.Badges, name)
	}
	if v.Expiring > 0 && v.ExpiringFirst != nil {
		data.Expiring = l.T("wallet.expiring", v.Expiring, v.ExpiringFirst.Add(-1).In(p.k.Zone()).Format("2006-01-02"))
	}
	if v.InDebt {
		data.Debt = l.T("wallet.debt", v.Balance)
	}
	es, err := p.s.Ledger.Statement(c.UserContext(), Rider(me.UserID), 0, 5)
	if err != nil {
		return err
	}
	data.Recent = p.rows(c, l, es)
	return p.k.Render(c, fiber.StatusOK, web.PageArgs{Name: "wallet", Title: "wallet.title", Data: data})
}

type statementPage struct {
	Rows         []statementRow
	Next         string
	NotFirstPage bool
}

const statementPageSize = 50

func (p *walletPages) statement(c *fiber.Ctx) error {
	l := p.k.Lang(c)
	me, _ := policy.PrincipalFrom(c.UserContext())
	before := int64(0)
	if b := c.Query("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 0 {
			return fiber.NewError(fiber.StatusBadRequest, l.T("statement.title")+": before="+b)
		}
		before = n
	}
	es, err := p.s.Ledger.Statement(c.UserContext(), Rider(me.UserID), before, statementPageSize)
	if err != nil {
		return err
	}
	data := statementPage{Rows: p.rows(c, l, es), NotFirstPage: before > 0}
	if n := len(es); n == statementPageSize && es[n-1].Seq > 1 {
		data.Next = fmt.Sprintf("/points/statement?before=%d", es[n-1].Seq)
	}
	return p.k.Render(c, fiber.StatusOK, web.PageArgs{Name: "wallet_statement", Title: "statement.title", Data: data})
}

type ledgerPage struct {
	Ran, Clean bool
	At, Err    string
	Summary    string
	Anomalies  []string
}

func (p *walletPages) ledgerData(l web.Lang) ledgerPage {
	rep, err, ran := p.s.Audit.Last()
	data := ledgerPage{Ran: ran}
	switch {
	case !ran:
	case err != nil:
		data.Err = l.T("ledger.failed", err.Error())
	default:
		data.At = l.T("ledger.at", p.k.When(rep.At))
		data.Clean = rep.Clean()
		if data.Clean {
			data.Summary = l.T("ledger.clean", rep.Accounts, rep.Entries, rep.Movements)
		} else {
			data.Summary = l.T("ledger.anomalies", len(rep.Anomalies))
			for _, a := range rep.Anomalies {
				data.Anomalies = append(data.Anomalies, a.String())
			}
		}
	}
	return data
}

func (p *walletPages) ledger(c *fiber.Ctx) error {
	return p.k.Render(c, fiber.StatusOK, web.PageArgs{Name: "wallet_ledger", Title: "ledger.title", Data: p.ledgerData(p.k.Lang(c))})
}

func (p *walletPages) reconcile(c *fiber.Ctx) error {
	// The result, or the failure, is what the page shows next.
	_, _ = p.s.Audit.Run(c.UserContext())
	return c.Redirect("/admin/points/ledger", fiber.StatusSeeOther)
}
