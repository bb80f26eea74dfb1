package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nuanxin/nuanxin/inbox"
	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/reports"
)

// PermLive lets a logged-in user follow their live updates.
const PermLive policy.Permission = "live:read"

// LiveDeps is what the live stream needs.
type LiveDeps struct {
	Gate    *policy.Gate
	Reports *reports.Service
	Inbox   *inbox.Service
	Log     *slog.Logger
	// Every is how often the stream looks for changes; 1 s by default.
	Every time.Duration
}

// liveReport is what a page needs to update a report it shows.
type liveReport struct {
	ID        string         `json:"id"`
	Status    reports.Status `json:"status"`
	Seq       int            `json:"seq"`
	Cell      string         `json:"cell"`
	Category  string         `json:"category"`
	NextDue   time.Time      `json:"next_due"`
	Escalated bool           `json:"escalated"`
	UpdatedAt time.Time      `json:"updated_at"`
}

// MountLive adds GET /api/v1/live, a Server-Sent Events stream of the
// caller's changes: "report" events for their own reports (riders) or the
// reports in their cells (officers; everything for admins), and "notification"
// events from their inbox. The stream reads the document store, not process
// memory, so a change made through any server instance reaches every
// browser. Last-Event-ID resumes after a dropped connection.
func MountLive(s *Server, d LiveDeps) {
	if d.Every <= 0 {
		d.Every = time.Second
	}
	d.Gate.Handle(s.App, fiber.MethodGet, "/api/v1/live", PermLive, func(c *fiber.Ctx) error {
		p, _ := policy.PrincipalFrom(c.UserContext())
		scope, reporter := liveScope(d.Gate, p)
		since := time.Now().UTC()
		if id := c.Get("Last-Event-ID"); id != "" {
			if t, err := time.Parse(time.RFC3339Nano, id); err == nil && time.Since(t) < 24*time.Hour {
				since = t
			}
		}
		c.Set(fiber.HeaderContentType, "text/event-stream")
		c.Set(fiber.HeaderCacheControl, "no-cache")
		c.Set("X-Accel-Buffering", "no")
		done := s.closing
		c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() {
				select {
				case <-done:
					cancel()
				case <-ctx.Done():
				}
			}()
			streamLive(ctx, w, d, p.UserID, scope, reporter, since)
		})
		return nil
	})
}

// liveScope picks what the caller follows: the cells they act in, or
// their own reports.
func liveScope(g *policy.Gate, p policy.Principal) (reports.Scope, string) {
	en := g.Enforcer()
	if en.Allowed(p.Subject(), true, reports.PermQueue, policy.DomainAll) {
		return reports.Scope{All: true}, ""
	}
	var cells []string
	for _, d := range en.Domains(p.Subject(), policy.RoleOfficer) {
		if c, ok := strings.CutPrefix(d, "cell:"); ok {
			cells = append(cells, c)
		}
	}
	if len(cells) > 0 {
		return reports.Scope{Cells: cells}, ""
	}
	return reports.Scope{}, p.UserID
}

func streamLive(ctx context.Context, w *bufio.Writer, d LiveDeps, userID string, scope reports.Scope, reporter string, since time.Time) {
	fmt.Fprintf(w, "retry: 2000\n: connected\n\n")
	if w.Flush() != nil {
		return
	}
	t := time.NewTicker(d.Every)
	defer t.Stop()
	noteSince, lastWrite := since, time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changed, err := d.Reports.Changed(ctx, scope, reporter, since, 100)
		if err != nil {
			d.Log.Warn("live: read changes", "err", err)
			continue
		}
		for _, r := range changed {
			b, _ := json.Marshal(liveReport{ID: r.ID, Status: r.Status, Seq: r.Seq, Cell: r.Cell, Category: r.Category,
				NextDue: r.NextDue, Escalated: r.EscalatedAck || r.EscalatedDue, UpdatedAt: r.UpdatedAt})
			fmt.Fprintf(w, "id: %s\nevent: report\ndata: %s\n\n", r.UpdatedAt.Format(time.RFC3339Nano), b)
			since = r.UpdatedAt
		}
		notes, err := d.Inbox.Since(ctx, userID, noteSince)
		if err != nil {
			d.Log.Warn("live: read notifications", "err", err)
			continue
		}
		for _, n := range notes {
			b, _ := json.Marshal(n)
			fmt.Fprintf(w, "event: notification\ndata: %s\n\n", b)
			noteSince = n.At
		}
		if len(changed) == 0 && len(notes) == 0 {
			if time.Since(lastWrite) < 15*time.Second {
				continue
			}
			fmt.Fprintf(w, ": keep-alive\n\n") // proxies drop silent connections
		}
		lastWrite = time.Now()
		if err := w.Flush(); err != nil {
			return // the browser went away
		}
	}
}
