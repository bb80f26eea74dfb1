package council

import (
	"embed"
	"errors"
	"io"
	"mime/multipart"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nuanxin/nuanxin/council/vote"
	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/web"
)

// MountPages adds the council's pages to the page kit: the riders' (stations,
// check-in, the feedback pool, proposals and their ballots) and the station
// admins' and admins' (a station's council desk, the stations admin page).
func MountPages(k *web.Pages, h *Hub) error {
	if err := web.Require("council: pages", map[string]bool{"Pages": k == nil, "Hub": h == nil}); err != nil {
		return err
	}
	if err := mountRiderPages(k, h); err != nil {
		return err
	}
	return mountAdminPages(k, h)
}

// What both page groups use: their templates, the hub's services they
// need, who is asking, the station of the path, words for codes, photos.

// pageTemplates holds both page groups' templates; each group adds its own.
//
//go:embed templates/*.html
var pageTemplates embed.FS

// requireHub refuses to mount a page group (what) without the page kit or
// one of the hub's services the pages use.
func requireHub(what string, k *web.Pages, h *Hub) error {
	if err := web.Require(what, map[string]bool{"Pages": k == nil, "Hub": h == nil}); err != nil {
		return err
	}
	return web.Require(what, map[string]bool{
		"Stations": h.Stations == nil, "Members": h.Members == nil, "Feedback": h.Feedback == nil, "Votes": h.Votes == nil,
		"Visits": h.Visits == nil, "Proposals": h.Proposals == nil, "Photos": h.Photos == nil, "Names": h.Names == nil,
	})
}

// userID is the signed-in caller's account id ("" for nobody).
func userID(c *fiber.Ctx) string {
	me, _ := policy.PrincipalFrom(c.UserContext())
	return me.UserID
}

// holds reports whether the caller holds perm in the station's own domain:
// the gate's check on a route proves only that it is held somewhere.
func holds(k *web.Pages, c *fiber.Ctx, perm policy.Permission, station string) bool {
	return k.Gate().Check(c.UserContext(), perm, policy.StationDomain(station)) == nil
}

// pathStation reads the station id (the path's): an unknown one is a 404
// page that says notFound.
func pathStation(c *fiber.Ctx, h *Hub, id, notFound string) (Station, error) {
	st, err := h.Stations.Get(c.UserContext(), id)
	if errors.Is(err, ErrNotFound) {
		return Station{}, fiber.NewError(fiber.StatusNotFound, notFound)
	}
	return st, err
}

// seeOther sends the browser on after a form (303, so it reads the page
// with GET).
func seeOther(c *fiber.Ctx, to string) error { return c.Redirect(to, fiber.StatusSeeOther) }

// openCount is how many of the proposals are open.
func openCount(props []vote.Proposal) int {
	n := 0
	for _, pr := range props {
		if pr.State == vote.StateOpen {
			n++
		}
	}
	return n
}

// label names a code in the reader's language (the code itself when the
// list does not know it).
func label(l web.Lang, ls []Label, code string) string {
	for _, x := range ls {
		if x.Code == code {
			if l.Tag() == web.EN {
				return x.En
			}
			return x.Zh
		}
	}
	return code
}

func labels(l web.Lang, ls []Label, codes []string) []string {
	out := make([]string, 0, len(codes))
	for _, c := range codes {
		out = append(out, label(l, ls, c))
	}
	return out
}

// hoursText writes one weekday's hours entry in words.
func hoursText(l web.Lang, spec string) string {
	switch spec {
	case "":
		return l.T("council.r.hours.closed")
	case "24h":
		return l.T("council.r.hours.all_day")
	}
	return strings.ReplaceAll(spec, ",", ", ")
}

// waited writes how long an item has waited: minutes, hours or days.
func waited(l web.Lang, d time.Duration) string {
	switch {
	case d <= 0:
		return ""
	case d < time.Hour:
		return l.T("council.r.waited.min", max(1, int(d.Minutes())))
	case d < 24*time.Hour:
		return l.T("council.r.waited.hours", int(d.Hours()))
	}
	return l.T("council.r.waited.days", int(d.Hours()/24))
}

// photoURL is the address a council photo is served at: each segment of the
// object key escaped, so that any key reaches the photo route intact.
func photoURL(key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return "/council/photos/" + strings.Join(segs, "/")
}

// errPhotoTooLarge is an upload over MaxPhotoBytes.
var errPhotoTooLarge = errors.New("council: the photo is over MaxPhotoBytes")

// readPhoto reads an uploaded photo, or says errPhotoTooLarge: first by the
// size the browser declares, so that a large one is not read, then by what
// it sends, since the declared size is only the client's word.
func readPhoto(fh *multipart.FileHeader) ([]byte, error) {
	if fh.Size > MaxPhotoBytes {
		return nil, errPhotoTooLarge
	}
	r, err := fh.Open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, MaxPhotoBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxPhotoBytes {
		return nil, errPhotoTooLarge
	}
	return b, nil
}
