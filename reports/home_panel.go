package reports

import (
	"net/url"

	"github.com/gofiber/fiber/v2"

	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/web"
)

// homeOpen is how many open reports a rider's home page lists.
const homeOpen = 5

// homePanel is the first thing a rider sees: one large button to report a
// problem, then their reports still in progress with where each stands.
func (p *pages) homePanel(c *fiber.Ctx, l web.Lang) (*web.HomePanel, error) {
	me, ok := policy.PrincipalFrom(c.UserContext())
	if !ok || me.Kind != "rider" {
		return nil, nil
	}
	// The newest 50 are enough to find the few still open: a rider's older
	// reports are closed long since.
	rs, err := p.svc.mine(c.UserContext(), me.UserID, 50)
	if err != nil {
		return nil, err
	}
	panel := &web.HomePanel{ID: "home-reports",
		Primary: &web.Link{Href: "/report", Label: l.T("home.report")},
		Title:   l.T("home.open_reports"), Empty: l.T("home.no_open_reports"),
		More: &web.Link{Href: "/reports", Label: l.T("home.all_reports")}}
	names, now := CellNames(p.cells), p.svc.now()
	for _, r := range rs {
		if len(panel.Items) == homeOpen {
			break
		}
		if r.Status == StatusResolved {
			// Resolved and not rated yet, within the window: the loop
			// waits for the rider's word (回访, rating.go).
			if RateState(r, now) != nil {
				continue
			}
			row := p.reportRow(l, names, r, now)
			label := row.Category
			if row.Ticket != "" {
				label = row.Ticket + " · " + row.Category
			}
			panel.Items = append(panel.Items, web.HomeItem{Href: "/reports/" + url.PathEscape(r.ID) + "#rate", Label: label,
				Status: l.T("home.to_rate"), Detail: l.T("home.rate_by", p.clock(r.ResolvedAt.Add(RatingWindow), now))})
			continue
		}
		if !r.Status.Open() {
			continue
		}
		row := p.reportRow(l, names, r, now)
		label := row.Category
		if row.Ticket != "" {
			label = row.Ticket + " · " + row.Category
		}
		detail := row.Promise
		if detail == "" {
			detail = row.Created
		}
		panel.Items = append(panel.Items, web.HomeItem{Href: "/reports/" + url.PathEscape(r.ID), Label: label, Status: row.StatusLabel, Detail: detail})
	}
	return panel, nil
}
