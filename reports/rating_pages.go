package reports

import (
	"errors"
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/web"
)

// The report page's side of satisfaction (回访): the reporter's rating form
// once the report is resolved, and for admins the decision on a disputed
// resolution (uphold, or reopen); the admins' list of disputes. All work
// without script: a POST, then a redirect back with a flash.

// ratingView is what the report page needs of them.
type ratingView struct {
	// CanRate: the viewer is the reporter, the report is resolved, not
	// rated, and the window is open (RateUntil says until when).
	CanRate     bool
	RateChoices []web.Choice
	RateUntil   string
	RateComment string // what was typed, when a rating was just refused
	// CanDecide: the viewer is an admin and the report is disputed;
	// DisputeReason is the reporter's comment.
	CanDecide     bool
	DisputeReason string
}

// disputesPage is the admins' list of disputes.
type disputesPage struct {
	Rows []disputeRow
}

type disputeRow struct {
	ID, Ticket, Category, Cell, When, Reason string
}

func (p *pages) mountRating(k *web.Pages) {
	k.AddMessages(ratingMessages)
	k.AddTemplates(pageTemplates, "templates/report_disputes.html")
	k.Handle(fiber.MethodPost, "/reports/:id/rate", PermRate, p.rateReport)
	k.Handle(fiber.MethodGet, "/disputes", PermDispute, p.disputes)
}

// ratingRow adds to a timeline row what a rating carries: "评价：满意";
// the comment, and an uphold's note, are the row's note already.
func ratingRow(l web.Lang, e Entry, row *timelineRow) {
	if e.Action == ActRate && e.Reason != "" {
		row.Rating = l.T("rate.timeline", l.T("rate.kind."+e.Reason))
	}
}

// fillRating decides the reporter's rating form and the admin's decision.
func (p *pages) fillRating(c *fiber.Ctx, v *reportViewPage, r Report) error {
	l := p.k.Lang(c)
	ctx := c.UserContext()
	me, _ := policy.PrincipalFrom(ctx)
	if v.Own && me.UserID == r.ReporterID && p.k.Can(c, PermRate) && RateState(r, p.svc.now()) == nil {
		v.CanRate = true
		v.RateUntil = p.k.When(r.ResolvedAt.Add(RatingWindow))
		for _, k := range Ratings {
			v.RateChoices = append(v.RateChoices, web.Choice{Value: k, Label: l.T("rate.kind." + k)})
		}
	}
	if r.Disputed && r.Status == StatusResolved && mayDecide(ctx, p.k.Gate()) == nil {
		reason, err := p.svc.ratingComment(ctx, r)
		if err != nil {
			return err
		}
		v.CanDecide, v.DisputeReason = true, reason
	}
	return nil
}

// rateText tells a refused rating in l.
func (p *pages) rateText(l web.Lang, err error) (int, string, bool) {
	if re, ok := asRateError(err); ok {
		if re.Code == RateWindowPassed {
			return fiber.StatusConflict, l.T(re.Code, p.k.When(re.Until)), true
		}
		return fiber.StatusConflict, l.T(re.Code), true
	}
	var ve *ValidationError
	if errors.As(err, &ve) {
		switch ve.Field {
		case "rating":
			return fiber.StatusUnprocessableEntity, l.T("rate.bad.rating"), true
		case "comment":
			if ve.Reason == reasonRequired {
				return fiber.StatusUnprocessableEntity, l.T("rate.bad.reason"), true
			}
			return fiber.StatusUnprocessableEntity, l.T("rate.bad.comment"), true
		}
	}
	status, _, msg, ok := pageProblem(l, err, nil)
	return status, msg, ok
}

// rateReport records the reporter's rating from the report page.
func (p *pages) rateReport(c *fiber.Ctx) error {
	l := p.k.Lang(c)
	ctx := c.UserContext()
	r, err := p.visibleReport(c)
	if err != nil {
		return err
	}
	comment := web.Form(c, "comment")
	me, _ := policy.PrincipalFrom(ctx)
	if _, err := p.svc.Rate(ctx, me.UserID, r.ID, RatingInput{Rating: web.Form(c, "rating"), Comment: comment}); err != nil {
		if errors.Is(err, ErrNotFound) {
			return fiber.NewError(fiber.StatusNotFound, l.T("err.no_report"))
		}
		status, msg, ok := p.rateText(l, err)
		if !ok {
			return fmt.Errorf("rate: %w", err)
		}
		return p.showReport(c, status, r, msg, string(ActRate), comment)
	}
	web.Flash(c, "flash.rated")
	return c.Redirect("/reports/"+r.ID, fiber.StatusSeeOther)
}

// disputes lists the reports awaiting an admin's decision.
func (p *pages) disputes(c *fiber.Ctx) error {
	l := p.k.Lang(c)
	ctx := c.UserContext()
	ds, rs, err := p.svc.Disputes(ctx)
	if err != nil {
		return err
	}
	names := CellNames(p.cells)
	var data disputesPage
	for i, d := range ds {
		reason, err := p.svc.ratingComment(ctx, rs[i])
		if err != nil {
			return err
		}
		data.Rows = append(data.Rows, disputeRow{ID: d.ReportID, Ticket: d.Ticket, Category: p.categoryName(l, rs[i].Category),
			Cell: CellLabel(l, names, rs[i].Cell), When: p.k.When(d.At), Reason: reason})
	}
	return p.k.Render(c, fiber.StatusOK, web.PageArgs{Name: "report_disputes", Title: "dispute.title", Data: data})
}

// ratingMessages are the words of satisfaction and disputes.
var ratingMessages = map[string]web.Msg{
	"action.rate":              {ZH: "评价", EN: "Rated"},
	"action.uphold":            {ZH: "维持办结", EN: "Resolution upheld"},
	"rate.title":               {ZH: "评价处理结果", EN: "Rate the result"},
	"rate.hint":                {ZH: "问题解决了吗？请在 %s 前评价。选“不满意”需写明原因，管理员会复核。", EN: "Was the problem solved? Rate it before %s. “Unsatisfied” needs a reason; an administrator reviews it."},
	"rate.legend":              {ZH: "满意度", EN: "Your rating"},
	"rate.kind.satisfied":      {ZH: "满意", EN: "Satisfied"},
	"rate.kind.basic":          {ZH: "基本满意", EN: "Mostly satisfied"},
	"rate.kind.unsatisfied":    {ZH: "不满意", EN: "Unsatisfied"},
	"rate.comment":             {ZH: "说明（选“不满意”时必填）", EN: "Comment (required for “Unsatisfied”)"},
	"rate.button":              {ZH: "提交评价", EN: "Send rating"},
	"rate.timeline":            {ZH: "评价：%s", EN: "Rating: %s"},
	"rate.not_resolved":        {ZH: "这条上报还没有解决，解决后才能评价。", EN: "The report is not resolved yet; you can rate it once it is."},
	"rate.done":                {ZH: "这次处理已经评价过了；如果重新办理后再次解决，可以再评价。", EN: "You rated this resolution already; if it is reopened and resolved again, you can rate that."},
	"rate.window_passed":       {ZH: "评价期（解决后 7 天）已过，截止于 %s。", EN: "The rating period (7 days after the resolution) ended at %s."},
	"rate.bad.rating":          {ZH: "请选择满意、基本满意或不满意。", EN: "Choose Satisfied, Mostly satisfied or Unsatisfied."},
	"rate.bad.reason":          {ZH: "选“不满意”时请写明哪里还没解决，管理员会据此复核。", EN: "Say what is still wrong, so that an administrator can review it."},
	"rate.bad.comment":         {ZH: "说明最多 500 字，且不能包含无法显示的字符。", EN: "The comment holds at most 500 characters, all of them printable."},
	"flash.rated":              {ZH: "感谢评价！", EN: "Thank you for rating."},
	"dispute.title":            {ZH: "不满意待复核", EN: "Disputed resolutions"},
	"dispute.lead":             {ZH: "报告人评价为“不满意”的已解决上报，等待管理员维持办结或重新办理。", EN: "Resolved reports rated unsatisfied by their reporter, awaiting an administrator: uphold or reopen."},
	"dispute.none":             {ZH: "没有待复核的不满意评价。", EN: "No disputed resolution awaits a decision."},
	"dispute.link":             {ZH: "不满意待复核", EN: "Disputed resolutions"},
	"dispute.reason":           {ZH: "报告人的理由", EN: "The reporter's reason"},
	"dispute.decide":           {ZH: "复核不满意评价", EN: "Decide the dispute"},
	"dispute.uphold":           {ZH: "维持办结", EN: "Uphold the resolution"},
	"dispute.uphold_note":      {ZH: "给报告人的说明（必填）", EN: "Note to the reporter (required)"},
	"dispute.reopen":           {ZH: "重新办理", EN: "Reopen the report"},
	"dispute.reopen_note":      {ZH: "说明", EN: "Note"},
	"dispute.badge":            {ZH: "不满意待复核", EN: "Disputed"},
	"dispute.admins_only":      {ZH: "只有管理员可以复核不满意评价。", EN: "Only an administrator decides a disputed resolution."},
	"fig.col.satisfied":        {ZH: "满意", EN: "Satisfied"},
	"fig.col.basic":            {ZH: "基本满意", EN: "Mostly satisfied"},
	"fig.col.unsatisfied":      {ZH: "不满意", EN: "Unsatisfied"},
	"fig.col.unrated":          {ZH: "未评价", EN: "Unrated"},
	"fig.col.satisfaction":     {ZH: "满意率", EN: "Satisfaction"},
	"fig.satisfaction_legend":  {ZH: "满意率 =（满意 + 基本满意）÷（已评价 + 未评价）；评价按评价当天计，解决后 7 天内未评价的计为未评价（不计为满意）。", EN: "Satisfaction = (satisfied + mostly satisfied) ÷ (rated + unrated); ratings count on the day made; a resolution not rated within 7 days counts as unrated, never as satisfied."},
	"fig.satisfaction_no_data": {ZH: "—", EN: "—"},
}
