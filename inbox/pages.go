package inbox

import (
	"embed"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/nuanxin/nuanxin/grid"
	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/reports"
	"github.com/nuanxin/nuanxin/web"
)

// The inbox page's template, and live.js, the script of the live stream
// (MountLive) that the inbox and the report pages load.
var (
	//go:embed templates/*.html
	pageTemplates embed.FS
	//go:embed static
	pageStatic embed.FS
)

// MountPages adds the inbox page to the kit: the caller's notifications in
// words, and marking one read. It shows statuses, categories and cells as
// the report pages do, so it needs reports.MountPages mounted too. It
// returns an error naming any missing dependency.
func MountPages(k *web.Pages, svc *Service, reps *reports.Service, cells *grid.Service) error {
	if err := web.Require("inbox: pages", map[string]bool{"Pages": k == nil, "Service": svc == nil, "Reports": reps == nil, "Grid": cells == nil}); err != nil {
		return err
	}
	p := &pages{k: k, svc: svc, reports: reps, cells: cells}
	k.AddMessages(pageMessages)
	k.AddTemplates(pageTemplates, "templates/inbox.html")
	k.AddStatic(pageStatic, "static")
	k.AddNav(web.NavLink{Href: "/inbox", Label: "nav.inbox", Perm: PermRead, Order: 90, Inbox: true})
	k.AddHomePanel(20, p.homePanel)
	k.Handle(fiber.MethodGet, "/inbox", PermRead, p.inbox)
	k.Handle(fiber.MethodPost, "/inbox/:id/read", PermRead, p.markRead)
	return nil
}

// pages serves the inbox page.
type pages struct {
	k       *web.Pages
	svc     *Service
	reports *reports.Service
	cells   *grid.Service
}

type inboxPage struct {
	Items  []inboxItem
	Unread int64
}

type inboxItem struct {
	ID, Text, Cell, When, Href, StatusLabel, Status string
	Ticket                                          string
	Note                                            string // an admin's word on an upheld resolution
	Read                                            bool
}

// noteText is a notification in words, from what happened and why the
// reader was told.
func (p *pages) noteText(l web.Lang, n Notification) string {
	key := "note." + string(n.Kind)
	if n.Link != "" {
		if l.Has(key) {
			return l.T(key, n.Subject)
		}
		return l.T("note.notice", n.Subject)
	}
	cat := reports.CategoryLabel(l, p.reports.Categories(), n.Category)
	if n.Kind == reports.ActHandover && n.Why != "reporter" {
		key = "note.handover_in"
	}
	if l.Has(key) {
		return l.T(key, cat)
	}
	return l.T("note.other", cat)
}

func (p *pages) inbox(c *fiber.Ctx) error {
	l := p.k.Lang(c)
	me, _ := policy.PrincipalFrom(c.UserContext())
	ns, unread, err := p.svc.List(c.UserContext(), me.UserID, 100)
	if err != nil {
		return err
	}
	names := reports.CellNames(p.cells)
	data := inboxPage{Unread: unread}
	for _, n := range ns {
		it := inboxItem{ID: url.PathEscape(n.ID), Text: p.noteText(l, n), When: p.k.When(n.At),
			Href: "/reports/" + n.ReportID, Status: string(n.Status), StatusLabel: reports.StatusLabel(l, n.Status), Read: n.Read,
			Ticket: n.Ticket, Note: n.Note}
		if n.Link != "" {
			it.Href, it.Status, it.StatusLabel = n.Link, "", ""
		}
		if n.Cell != "" {
			it.Cell = reports.CellLabel(l, names, n.Cell)
		}
		data.Items = append(data.Items, it)
	}
	return p.k.Render(c, fiber.StatusOK, web.PageArgs{Name: "inbox", Title: "inbox.title", Data: data})
}

func (p *pages) markRead(c *fiber.Ctx) error {
	l := p.k.Lang(c)
	id, err := url.PathUnescape(c.Params("id"))
	if err != nil {
		return fiber.NewError(fiber.StatusNotFound, l.T("err.no_note"))
	}
	me, _ := policy.PrincipalFrom(c.UserContext())
	err = p.svc.MarkRead(c.UserContext(), me.UserID, strings.Clone(id))
	if errors.Is(err, ErrNotFound) {
		return fiber.NewError(fiber.StatusNotFound, l.T("err.no_note"))
	}
	if err != nil {
		return fmt.Errorf("mark read: %w", err)
	}
	return c.Redirect("/inbox", fiber.StatusSeeOther)
}
