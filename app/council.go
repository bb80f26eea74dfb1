package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nuanxin/nuanxin/accounts"
	"github.com/nuanxin/nuanxin/council"
	"github.com/nuanxin/nuanxin/council/vote"
	"github.com/nuanxin/nuanxin/inbox"
	"github.com/nuanxin/nuanxin/points"
)

// adoptedFeedbackPoints is what a member's feedback item earns its author
// when the station adopts it: as much as a verified report of middling
// severity (points.DefaultRules), since an adopted item changes a station
// for everyone who rests there.
const adoptedFeedbackPoints = 10

// newCouncil builds the councils on the stations, the points and the inbox.
func newCouncil(a *App, log *slog.Logger) *council.Hub {
	db := a.Stores.DB
	names := councilNames{a.Accounts}
	members := council.NewMembers(db, a.Stations, names, log)
	feedback := council.NewFeedback(db, members, feedbackAwarder{a.Points.Earner}, adoptedFeedbackPoints, log)
	votes := vote.NewService(db, log)
	votes.SetNotifier(voteNotifier{a.Inbox})
	return council.NewHub(council.HubDeps{DB: db, Blobs: a.Stores.Blobs, Stations: a.Stations, Members: members,
		Feedback: feedback, Votes: votes, Names: names, Notify: councilNotifier{a.Inbox}, Log: log})
}

// councilNames gives rosters a member's display name; one that looks like
// a phone number (riders choose their own) is masked, so a roster never
// shows a phone number.
type councilNames struct{ acc *accounts.Service }

func (n councilNames) DisplayName(ctx context.Context, id string) (string, error) {
	u, err := n.acc.Get(ctx, id)
	if errors.Is(err, accounts.ErrNotFound) {
		return points.MaskName(""), nil
	}
	if err != nil {
		return "", err
	}
	if points.LooksLikePhone(u.DisplayName) {
		return points.MaskName(u.DisplayName), nil
	}
	return u.DisplayName, nil
}

// feedbackAwarder pays an adopted item's author through the points
// earner, under the item's key: a second call with the same key is the
// first award again, not a new one.
type feedbackAwarder struct{ e *points.Earner }

func (f feedbackAwarder) Award(ctx context.Context, key, userID string, pts int64, note string) error {
	_, err := f.e.Award(ctx, points.AwardRequest{Key: key, UserID: userID, Points: pts, Note: note,
		Ref: strings.Replace(key, "council:feedback:", "feedback:", 1)})
	return err
}

// voteNotifier tells a proposal's roll in the inbox when voting opens, a
// day before it closes and of the result.
type voteNotifier struct{ in *inbox.Service }

func (v voteNotifier) Notify(ctx context.Context, n vote.Notice) error {
	return v.in.Tell(ctx, inbox.Notice{ID: "vote:" + n.Proposal.ID + ":" + string(n.Kind), Kind: "council_" + string(n.Kind),
		Subject: n.Proposal.Title, Link: "/proposals/" + n.Proposal.ID, Users: n.Roll})
}

// councilNotifier tells a station's members of a proposal's outcomes.
type councilNotifier struct{ in *inbox.Service }

func (c councilNotifier) Notify(ctx context.Context, n council.Notice) error {
	return c.in.Tell(ctx, inbox.Notice{ID: n.ID, Kind: n.Kind, Subject: n.Title, Link: "/proposals/" + n.Proposal, Users: n.Users})
}

// runCouncilJobs starts the councils' background work. None of it is
// needed for a vote to be right: a proposal closes and is counted when it
// is read. The sweep reads every station's proposals, which counts those
// past their close (and so tells members the result) and reminds members
// a day before a close; the repairs finish what a stopped writer left.
func (a *App) runCouncilJobs(ctx context.Context, wg *sync.WaitGroup) {
	log := a.Log
	wg.Go(func() { every(ctx, 5*time.Minute, log, "council: sweep proposals", a.sweepProposals) })
	wg.Go(func() {
		every(ctx, time.Hour, log, "council: repair rosters and awards", func(ctx context.Context) error {
			_, rerr := a.Council.Members.RepairRoster(ctx)
			_, aerr := a.Council.Feedback.RepairAwards(ctx)
			return errors.Join(rerr, aerr)
		})
	})
}

// sweepProposals reads each station's proposals: closed ones get counted
// (and their result told), open ones within a day of closing get their
// reminder (once, however many instances sweep).
func (a *App) sweepProposals(ctx context.Context) error {
	sts, err := a.Stations.List(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, st := range sts {
		ps, err := a.Council.Proposals.List(ctx, st.ID)
		if err != nil {
			errs = append(errs, fmt.Errorf("station %s: %w", st.ID, err))
			continue
		}
		for _, p := range ps {
			if p.State == vote.StateOpen {
				if _, err := a.Council.Votes.RemindClosing(ctx, p.ID); err != nil {
					errs = append(errs, fmt.Errorf("proposal %s: %w", p.ID, err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// seedDemoCouncil gives the demo's first station a council: three riders
// as members, feedback in several states and a proposal open for voting,
// so each role finds something on the council pages. It runs once: a
// station with feedback already is left alone.
func seedDemoCouncil(ctx context.Context, acc *accounts.Service, h *council.Hub) error {
	sts, err := h.Stations.List(ctx)
	if err != nil || len(sts) == 0 {
		return err
	}
	var home council.Station
	for _, st := range sts {
		if st.Name == "五一广场暖新驿站" {
			home = st
		}
	}
	if home.ID == "" || len(home.Admins) == 0 {
		return nil
	}
	if items, _, err := h.Feedback.List(ctx, home.ID, 0, 1); err != nil || len(items) > 0 {
		return err
	}
	var riders []string
	for _, phone := range []string{"13800138001", "13800138002", "13800138003"} {
		u, err := acc.ByLogin(ctx, phone)
		if err != nil {
			return err
		}
		if _, err := h.Members.Join(ctx, home.ID, u.ID); err != nil {
			return err
		}
		riders = append(riders, u.ID)
	}
	admin := home.Admins[0]
	post := func(author string, cat council.Category, text string) (council.Item, error) {
		return h.Feedback.Post(ctx, council.NewItem{Station: home.ID, Author: author, Category: cat, Text: text})
	}
	water, err := post(riders[0], council.CategoryFacilities, "饮水机夏天出水太慢，高峰时排长队，希望加一台。")
	if err != nil {
		return err
	}
	if _, err := h.Feedback.Support(ctx, water.ID, riders[1]); err != nil {
		return err
	}
	if _, err := post(riders[1], council.CategorySafety, "驿站门口的电动车停放区晚上没有灯，容易摔倒。"); err != nil {
		return err
	}
	wifi, err := post(riders[2], council.CategoryServices, "无线网络密码能不能贴在门口？")
	if err != nil {
		return err
	}
	if _, err := h.Feedback.Transition(ctx, wifi.ID, council.StatusUnderReview, admin, ""); err != nil {
		return err
	}
	if _, err := h.Feedback.Transition(ctx, wifi.ID, council.StatusAnswered, admin, "已贴在门口和休息区墙上，谢谢建议。"); err != nil {
		return err
	}
	now := time.Now()
	p, err := h.Proposals.Put(ctx, vote.Draft{StationID: home.ID, Title: "增加一台饮水机",
		Body: "根据反馈池的建议，拟在休息区增加一台饮水机，费用由驿站运营经费支出。", Kind: vote.YesNoAbstain,
		Opens: now, Closes: now.Add(7 * 24 * time.Hour), QuorumPct: 30, CreatedBy: admin}, water.ID)
	if err != nil {
		return err
	}
	_, err = h.Proposals.Open(ctx, p.ID)
	return err
}

// StationAdminAccounts lists the station-admin accounts, for the admin's
// picker of who keeps a station (council's stations page asks the Names it
// was given for it).
func (n councilNames) StationAdminAccounts(ctx context.Context) ([]council.StationAdminAccount, error) {
	us, err := n.acc.List(ctx, string(accounts.KindStationAdmin))
	out := make([]council.StationAdminAccount, len(us))
	for i, u := range us {
		out[i] = council.StationAdminAccount{ID: u.ID, Name: u.DisplayName, Login: u.Login, Disabled: u.Disabled}
	}
	return out, err
}
