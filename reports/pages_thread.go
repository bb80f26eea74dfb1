package reports

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/web"
)

// The report page's side of messages and urging: the reporter's message
// form and urge button (the officer's "ask for more" is an action form,
// posted to /reports/:id/act like the others). Both work without script:
// a multipart POST, then a redirect back with a flash.

// threadView is what the report page needs of them.
type threadView struct {
	// CanMessage: the viewer is the reporter and the report is open.
	CanMessage bool
	MessageKey string // the form's Idempotency-Key
	Asked      bool   // the latest ask for more is not answered yet
	MaxPhotos  int
	// CanUrge: the viewer is the reporter, a deadline was missed, and it
	// was not urged yet. UrgeKind names the missed deadline.
	CanUrge  bool
	UrgeKind string
}

func (p *pages) mountThread(k *web.Pages) {
	k.Handle(fiber.MethodPost, "/reports/:id/messages", PermMessage, p.messageReport)
	k.Handle(fiber.MethodPost, "/reports/:id/urge", PermUrge, p.urgeReport)
}

// threadRow adds to a timeline row what a message or an urge carries.
func threadRow(l web.Lang, r Report, e Entry, row *timelineRow) {
	switch e.Action {
	case ActMessage:
		for i := range e.Photos {
			base := "/api/v1/reports/" + url.PathEscape(r.ID) + "/messages/" + strconv.Itoa(e.Seq) + "/photos/" + strconv.Itoa(i+1)
			row.Photos = append(row.Photos, photoLink{Thumb: base + "?thumb=true", Full: base, Alt: l.T("thread.photo_n", i+1)})
		}
	case ActUrge:
		if e.Reason != "" {
			row.Reason = l.T("urge.reason", l.T("urge.kind."+e.Reason))
		}
	}
}

// fillThread decides the reporter's forms from the report and its
// timeline (entries).
func (p *pages) fillThread(c *fiber.Ctx, v *reportViewPage, r Report, entries []Entry) {
	me, _ := policy.PrincipalFrom(c.UserContext())
	if !v.Own || !r.Status.Open() || !p.k.Can(c, PermMessage) {
		return
	}
	v.CanMessage, v.MessageKey, v.MaxPhotos = true, web.NewToken(), MaxPhotos
	for _, e := range entries {
		switch e.Action {
		case ActAskMore:
			v.Asked = true
		case ActMessage:
			v.Asked = false
		}
	}
	pr, uerr := UrgeState(r, p.svc.now())
	if uerr != nil || !p.k.Can(c, PermUrge) || me.UserID != r.ReporterID {
		return
	}
	key := urgeKey(r.ID, pr)
	for _, e := range entries {
		if e.Action == ActUrge && e.Key == key {
			return
		}
	}
	v.CanUrge, v.UrgeKind = true, pr.Kind
}

// threadText tells a refused message or urge in l.
func (p *pages) threadText(c *fiber.Ctx, l web.Lang, err error) (int, string, bool) {
	if ue, ok := asUrgeError(err); ok {
		if ue.Code == UrgeTooEarly {
			return fiber.StatusConflict, l.T(ue.Code, p.clock(ue.From, p.svc.now())), true
		}
		return fiber.StatusConflict, l.T(ue.Code), true
	}
	var te *TransitionError
	if errors.As(err, &te) && te.Action == ActMessage {
		return fiber.StatusConflict, l.T("thread.closed"), true
	}
	status, _, msg, ok := pageProblem(l, err, nil)
	return status, msg, ok
}

// messageReport sends the reporter's message from the report page.
func (p *pages) messageReport(c *fiber.Ctx) error {
	l := p.k.Lang(c)
	ctx := c.UserContext()
	r, err := p.visibleReport(c)
	if err != nil {
		return err
	}
	text := web.Form(c, "text")
	refuse := func(status int, msg string) error {
		return p.showReport(c, status, r, msg, string(ActMessage), text)
	}
	var photos [][]byte
	if mf, err := c.MultipartForm(); err == nil {
		files := mf.File["photos"]
		if len(files) > MaxPhotos {
			return refuse(fiber.StatusUnprocessableEntity, l.T("thread.bad.photos"))
		}
		if photos, err = readUploads(files); err != nil {
			return refuse(fiber.StatusUnprocessableEntity, l.T("photo.not_an_image"))
		}
		if len(photos) > MaxPhotos {
			return refuse(fiber.StatusUnprocessableEntity, l.T("thread.bad.photos"))
		}
	}
	me, _ := policy.PrincipalFrom(ctx)
	if _, _, err := p.svc.Message(ctx, me.UserID, r.ID, MessageInput{Key: web.Form(c, "key"), Text: text, Photos: photos}); err != nil {
		if errors.Is(err, ErrNotFound) {
			return fiber.NewError(fiber.StatusNotFound, l.T("err.no_report"))
		}
		status, msg, ok := p.threadText(c, l, err)
		if !ok {
			return fmt.Errorf("message: %w", err)
		}
		return refuse(status, msg)
	}
	web.Flash(c, "flash.message_sent")
	return c.Redirect("/reports/"+r.ID, fiber.StatusSeeOther)
}

// urgeReport urges the reporter's report from the report page.
func (p *pages) urgeReport(c *fiber.Ctx) error {
	l := p.k.Lang(c)
	ctx := c.UserContext()
	r, err := p.visibleReport(c)
	if err != nil {
		return err
	}
	me, _ := policy.PrincipalFrom(ctx)
	if _, err := p.svc.Urge(ctx, me.UserID, r.ID); err != nil {
		if errors.Is(err, ErrNotFound) {
			return fiber.NewError(fiber.StatusNotFound, l.T("err.no_report"))
		}
		status, msg, ok := p.threadText(c, l, err)
		if !ok {
			return fmt.Errorf("urge: %w", err)
		}
		return p.showReport(c, status, r, msg, string(ActUrge), "")
	}
	web.Flash(c, "flash.urged")
	return c.Redirect("/reports/"+r.ID, fiber.StatusSeeOther)
}
