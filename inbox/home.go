package inbox

import (
	"net/url"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/web"
)

// homeUnread is how many unread messages the home page shows.
const homeUnread = 3

// homePanel shows the visitor's unread messages on the home page, newest
// first, so that what changed since the last visit is the first thing seen.
func (p *pages) homePanel(c *fiber.Ctx, l web.Lang) (*web.HomePanel, error) {
	me, ok := policy.PrincipalFrom(c.UserContext())
	if !ok || !p.k.CanSomewhere(c, PermRead) {
		return nil, nil
	}
	ns, unread, err := p.svc.List(c.UserContext(), me.UserID, 20)
	if err != nil {
		return nil, err
	}
	panel := &web.HomePanel{ID: "home-inbox", Title: l.T("home.inbox", unread), Empty: l.T("home.inbox_empty"),
		More: &web.Link{Href: "/inbox", Label: l.T("home.inbox_all")}}
	for _, n := range ns {
		if n.Read || len(panel.Items) == homeUnread {
			continue
		}
		it := web.HomeItem{Href: "/reports/" + url.PathEscape(n.ReportID), Label: p.noteText(l, n), Detail: p.k.When(n.At)}
		if n.Link != "" {
			it.Href = n.Link
		}
		panel.Items = append(panel.Items, it)
	}
	if unread > int64(len(panel.Items)) && len(panel.Items) > 0 {
		panel.More.Label = l.T("home.inbox_more", strconv.FormatInt(unread-int64(len(panel.Items)), 10))
	}
	return panel, nil
}
