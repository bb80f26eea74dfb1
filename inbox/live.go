package inbox

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/reports"
	"github.com/nuanxin/nuanxin/web"
)

// PermLive lets a logged-in user follow their live updates.
const PermLive policy.Permission = "live:read"

// live is what the live stream needs.
type live struct {
	gate  *policy.Gate
	auth  policy.Authenticator // rechecks the stream's session while it lasts
	feed  *reports.Feed
	inbox *Service
	log   *slog.Logger
}

// liveRecheck is how often an open stream checks that its session still
// stands (not logged out, not expired, account not disabled) and what the
// caller may follow: a stream ends within this much of a logout or a
// disable made through any instance, as the check reads the stores.
const liveRecheck = 500 * time.Millisecond

// liveReport is what a page needs to update a report it shows.
type liveReport struct {
	ID        string         `json:"id"`
	Action    reports.Action `json:"action"`
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
// reports in their cells (officers; everything for admins), and
// "notification" events for what lands in their inbox. It follows the
// reports feed, which every instance reads, so a change made through any
// server reaches every browser. Last-Event-ID (a feed position) resumes after
// a dropped connection without losing changes.
func MountLive(s *web.Server, gate *policy.Gate, auth policy.Authenticator, feed *reports.Feed, svc *Service, log *slog.Logger) error {
	if err := web.Require("inbox: live stream", map[string]bool{"Server": s == nil, "Gate": gate == nil, "Auth": auth == nil, "Feed": feed == nil, "Inbox": svc == nil, "Log": log == nil}); err != nil {
		return err
	}
	d := live{gate: gate, auth: auth, feed: feed, inbox: svc, log: log}
	gate.Handle(s.App, fiber.MethodGet, "/api/v1/live", PermLive, func(c *fiber.Ctx) error {
		p, _ := policy.PrincipalFrom(c.UserContext())
		scope := liveScope(d.gate, p)
		token := policy.RequestToken(c) // checked again while the stream lasts
		after := d.feed.Last()
		if v, err := strconv.ParseInt(c.Get("Last-Event-ID"), 10, 64); err == nil && v >= 0 && v <= after {
			after = v
		}
		c.Set(fiber.HeaderContentType, "text/event-stream")
		c.Set(fiber.HeaderCacheControl, "no-cache")
		c.Set("X-Accel-Buffering", "no")
		done := s.Closing()
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
			streamLive(ctx, w, d, p, token, scope, after)
		})
		return nil
	})
	return nil
}

// liveScope is what the caller follows (reports.Access.Scope, the rule of
// the queue too).
func liveScope(g *policy.Gate, p policy.Principal) reports.Scope {
	return reports.NewAccess(g).Scope(policy.WithPrincipal(context.Background(), p))
}

func streamLive(ctx context.Context, w *bufio.Writer, d live, p policy.Principal, token string, scope reports.Scope, after int64) {
	changes, stop := d.feed.Subscribe()
	defer stop()
	fmt.Fprintf(w, "retry: 2000\n: connected\n\n")
	if w.Flush() != nil {
		return
	}
	// Changes since the browser's last event, read before following live.
	backlog, err := d.feed.Read(ctx, after, 500)
	if err != nil {
		d.log.Warn("live: read the feed", "err", err)
	}
	for _, c := range backlog {
		writeChange(w, d, p, scope, c)
		after = c.Seq
	}
	if w.Flush() != nil {
		return
	}
	keepAlive := time.NewTicker(15 * time.Second)
	defer keepAlive.Stop()
	recheck := time.NewTicker(liveRecheck)
	defer recheck.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-recheck.C:
			_, err := d.auth.Authenticate(ctx, token)
			if errors.Is(err, policy.ErrUnauthenticated) {
				// Logged out, expired or disabled: the browser's
				// EventSource reconnects and the gate refuses it.
				fmt.Fprintf(w, "event: ended\ndata: {}\n\n")
				_ = w.Flush()
				return
			}
			if err != nil && ctx.Err() == nil {
				d.log.Warn("live: recheck the session", "err", err)
			}
			scope = liveScope(d.gate, p) // roles may have changed
			continue
		case <-keepAlive.C:
			fmt.Fprintf(w, ": keep-alive\n\n") // proxies drop silent connections
		case c := <-changes:
			if c.Seq <= after {
				continue // sent from the backlog already
			}
			after = c.Seq
			writeChange(w, d, p, scope, c)
		}
		if err := w.Flush(); err != nil {
			return // the browser went away
		}
	}
}

// writeChange sends what of a change concerns the user.
func writeChange(w *bufio.Writer, d live, p policy.Principal, scope reports.Scope, c reports.Change) {
	e := c.Event
	if reports.NewAccess(d.gate).Follows(p, scope, e) {
		b, _ := json.Marshal(liveReport{ID: e.ReportID, Action: e.Action, Status: e.Status, Seq: e.ReportSeq, Cell: e.Cell,
			Category: e.Category, NextDue: e.NextDue, Escalated: e.Escalated, UpdatedAt: e.At})
		fmt.Fprintf(w, "id: %d\nevent: report\ndata: %s\n\n", c.Seq, b)
	}
	if why, ok := d.inbox.Notifies(e, p.UserID); ok {
		b, _ := json.Marshal(d.inbox.Notification(e, p.UserID, why))
		fmt.Fprintf(w, "id: %d\nevent: notification\ndata: %s\n\n", c.Seq, b)
	}
}
