package council

// The councils' JSON API: check-ins, membership, the feedback pool,
// proposals, votes and outcomes, all under /api/v1 and all through the Hub,
// so the pages and the API call the same rules.
//
// Two checks guard every station-admin action. The route's permission
// (checked by the gate) proves only that the caller is an admin of some
// station; the handler then checks the same permission in the domain of
// the station the target belongs to (a proposal's or an item's station).
// Membership and the voter roll are data, decided by the services.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/nuanxin/nuanxin/council/vote"
	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/problem"
)

// MaxFeedbackBody is the body limit of a feedback post with its photo: the
// photo and the form around it. The app gives it to POST
// /api/v1/stations/:id/feedback with AllowBody.
const MaxFeedbackBody = MaxPhotoBytes + 64<<10

// HubRoutes mounts the councils' JSON API.
func HubRoutes(api huma.API, gate *policy.Gate, h *Hub, log *slog.Logger) {
	a := &hubAPI{h: h, gate: gate, log: log}
	// Check-ins and visit figures.
	policy.Register(api, gate, PermCheckIn, huma.Operation{
		OperationID: "station-checkin", Method: http.MethodPost, Path: "/api/v1/stations/{id}/checkin", Tags: hubTags,
		Summary:     "Check in at a station (the poster's QR code leads here)",
		Description: "One check-in counts per rider, station and day (UTC+8): `first` is false when the rider had checked in here today already. `member` says whether this station is the rider's home council, so a client can offer to join.",
		Errors:      []int{404},
	}, a.checkIn)
	policy.Register(api, gate, PermFigures, huma.Operation{
		OperationID: "station-visits", Method: http.MethodGet, Path: "/api/v1/stations/{id}/visits", Tags: hubTags,
		Summary: "Visitors per day at a station (its admins)", Errors: []int{403, 404, 422},
	}, a.visits)

	// Membership.
	policy.Register(api, gate, PermCouncilRead, huma.Operation{
		OperationID: "station-council", Method: http.MethodGet, Path: "/api/v1/stations/{id}/council", Tags: hubTags,
		Summary:     "A station's council: member count, roster (display names only) and the caller's membership",
		Description: "The roster carries member ids only for the station's own admins, who may remove members.",
		Errors:      []int{404},
	}, a.council)
	policy.Register(api, gate, PermJoin, huma.Operation{
		OperationID: "join-council", Method: http.MethodPost, Path: "/api/v1/stations/{id}/council/join", Tags: hubTags,
		Summary:     "Make this station my home council",
		Description: "A rider belongs to one council at a time: joining leaves the previous one. Joining one's home again changes nothing.",
		Errors:      []int{404, 503},
	}, a.join)
	policy.Register(api, gate, PermJoin, huma.Operation{
		OperationID: "leave-council", Method: http.MethodPost, Path: "/api/v1/council/leave", Tags: hubTags,
		Summary: "Leave my home council", DefaultStatus: http.StatusNoContent, Errors: []int{409, 503},
	}, a.leave)
	policy.Register(api, gate, PermMembers, huma.Operation{
		OperationID: "remove-council-member", Method: http.MethodDelete, Path: "/api/v1/stations/{id}/council/members/{rider}", Tags: hubTags,
		Summary: "Remove a member from the station's council, with a reason (its admins)", DefaultStatus: http.StatusNoContent,
		Errors: []int{403, 404, 422, 503},
	}, a.remove)
	policy.Register(api, gate, PermCouncilRead, huma.Operation{
		OperationID: "my-council", Method: http.MethodGet, Path: "/api/v1/me/council", Tags: hubTags,
		Summary:     "My home council",
		Description: "`station_id` is empty when the caller has no home council; `last_change` says how the membership came to be (a removal carries its reason).",
	}, a.myCouncil)

	// The feedback pool.
	policy.Register(api, gate, PermCouncilRead, huma.Operation{
		OperationID: "list-feedback", Method: http.MethodGet, Path: "/api/v1/stations/{id}/feedback", Tags: hubTags,
		Summary:     "A station's feedback pool, newest first",
		Description: "Pages of `limit` items (1–100, default 20); pass `next` as `before` for the next page.",
		Errors:      []int{404, 422},
	}, a.listFeedback)
	policy.Register(api, gate, PermPost, huma.Operation{
		OperationID: "post-feedback", Method: http.MethodPost, Path: "/api/v1/stations/{id}/feedback", Tags: hubTags,
		Summary: "Post a feedback item in my home council, with an optional photo",
		Description: "multipart/form-data: `category` (facilities, safety, rights, services, other), `text` (1–2000 characters) and optional `photo` " +
			"(JPEG, PNG or WebP, at most 10 MB; its metadata is stripped). Only members of the station's council may post.",
		RequestBody:  feedbackBody(),
		MaxBodyBytes: MaxFeedbackBody, DefaultStatus: http.StatusCreated, Errors: []int{403, 404, 413, 422},
	}, a.postFeedback)
	policy.Register(api, gate, PermCouncilRead, huma.Operation{
		OperationID: "get-feedback", Method: http.MethodGet, Path: "/api/v1/feedback/{item}", Tags: hubTags,
		Summary: "One feedback item with its timeline and whether I supported it", Errors: []int{404},
	}, a.getFeedback)
	policy.Register(api, gate, PermCouncilRead, huma.Operation{
		OperationID: "get-feedback-photo", Method: http.MethodGet, Path: "/api/v1/feedback/{item}/photo", Tags: hubTags,
		Summary: "A feedback item's photo", Errors: []int{404},
	}, a.feedbackPhoto)
	policy.Register(api, gate, PermSupport, huma.Operation{
		OperationID: "support-feedback", Method: http.MethodPost, Path: "/api/v1/feedback/{item}/support", Tags: hubTags,
		Summary:     "Support another member's item (once)",
		Description: "Members of the item's station support others' open or under-review items, once each.",
		Errors:      []int{403, 404, 409, 422, 503},
	}, a.support)
	policy.Register(api, gate, PermAnswer, huma.Operation{
		OperationID: "transition-feedback", Method: http.MethodPost, Path: "/api/v1/feedback/{item}/transition", Tags: hubTags,
		Summary: "Review, answer, decline or adopt an item (the station's admins)",
		Description: "open → under_review → adopted, answered or declined. `text` is the public answer (answered) or the reason (declined), both required, " +
			"and an optional note otherwise. `adopted` here is \"adopt as an action\"; to adopt an item into a proposal, put a proposal with `from_item`. " +
			"An adopted item earns its author points once.",
		Errors: []int{403, 404, 409, 422, 503},
	}, a.transition)
	policy.Register(api, gate, PermCouncilRead, huma.Operation{
		OperationID: "get-station-photo", Method: http.MethodGet, Path: "/api/v1/stations/{id}/photos/{n}", Tags: hubTags,
		Summary: "A station's photo, n from 1", Errors: []int{404},
	}, a.stationPhoto)

	// Proposals and votes.
	policy.Register(api, gate, PermCouncilRead, huma.Operation{
		OperationID: "list-proposals", Method: http.MethodGet, Path: "/api/v1/stations/{id}/proposals", Tags: hubTags,
		Summary:     "A station's proposals: open first, then closed, then drafts",
		Description: "Drafts are listed only for the station's admins. Tallies appear only once voting has closed.",
		Errors:      []int{404},
	}, a.listProposals)
	policy.Register(api, gate, PermProposals, huma.Operation{
		OperationID: "put-proposal", Method: http.MethodPost, Path: "/api/v1/stations/{id}/proposals", Tags: hubTags,
		Summary: "Put a draft proposal (the station's admins)",
		Description: "The ballot kind is yes_no_abstain, one_of or approval (with `max_approvals`). Times are RFC 3339; the window closes after it opens and lasts at most 60 days. " +
			"`quorum_pct` is the share of the roll that must vote (0–100), `pass_pct` the share of votes cast to pass (50–100, default 50). " +
			"`from_item` adopts that feedback item of this station into the proposal (one proposal per item), which earns its author points.",
		DefaultStatus: http.StatusCreated, Errors: []int{403, 404, 409, 422, 503},
	}, a.putProposal)
	policy.Register(api, gate, PermProposals, huma.Operation{
		OperationID: "edit-proposal", Method: http.MethodPatch, Path: "/api/v1/proposals/{pid}", Tags: hubTags,
		Summary: "Change a draft proposal (the station's admins); the fields sent replace the draft's", Errors: []int{403, 404, 409, 422},
	}, a.editProposal)
	policy.Register(api, gate, PermProposals, huma.Operation{
		OperationID: "open-proposal", Method: http.MethodPost, Path: "/api/v1/proposals/{pid}/open", Tags: hubTags,
		Summary:     "Open voting (the station's admins)",
		Description: "The voter roll is the council's membership at this moment, frozen: members who join later do not vote on this proposal. Members on the roll are told in the inbox.",
		Errors:      []int{403, 404, 409},
	}, a.openProposal)
	policy.Register(api, gate, PermCouncilRead, huma.Operation{
		OperationID: "get-proposal", Method: http.MethodGet, Path: "/api/v1/proposals/{pid}", Tags: hubTags,
		Summary: "A proposal with its outcomes and, for the caller, the roll and their votes",
		Description: "The tally appears once voting has closed (the first read after the close counts and freezes it). `on_roll` is absent when it cannot be known (before voting opens or after it closes). " +
			"`my_votes` lists the caller's votes on an open ballot, oldest first; the last one counts. A secret ballot keeps no link from voter to vote: its receipt is shown once, when voting.",
		Errors: []int{404},
	}, a.getProposal)
	policy.Register(api, gate, PermVote, huma.Operation{
		OperationID: "cast-vote", Method: http.MethodPost, Path: "/api/v1/proposals/{pid}/votes", Tags: hubTags,
		Summary: "Vote (members on the roll); the answer is the receipt",
		Description: "`choice` holds the chosen labels: one of yes/no/abstain, one option, or 1 to `max_approvals` options. " +
			"201 with a new receipt; 200 with the first receipt when the same vote is sent again. On an open ballot a different vote before the close replaces the current one; on a secret ballot the first vote is final.",
		DefaultStatus: http.StatusCreated, Errors: []int{403, 404, 409, 422, 503},
	}, a.castVote)
	policy.Register(api, gate, PermCouncilRead, huma.Operation{
		OperationID: "proposal-results", Method: http.MethodGet, Path: "/api/v1/proposals/{pid}/results", Tags: hubTags,
		Summary:     "The frozen result with every receipt and its choice, after close",
		Description: "409 before voting has closed. `mine` lists the receipt codes of the caller's counted vote on an open ballot.",
		Errors:      []int{404, 409},
	}, a.results)
	policy.Register(api, gate, PermProposals, huma.Operation{
		OperationID: "record-outcome", Method: http.MethodPost, Path: "/api/v1/proposals/{pid}/outcomes", Tags: hubTags,
		Summary:     "Record what the station did after the vote (the station's admins)",
		Description: "First the decision, then progress updates, then done. Members are told in the inbox. Sending the same entry again returns the first.",
		Errors:      []int{403, 404, 409, 422},
	}, a.recordOutcome)
}

var hubTags = []string{"councils"}

type hubAPI struct {
	h    *Hub
	gate *policy.Gate
	log  *slog.Logger
}

// me is the caller's account id (every council route needs a signed-in
// caller, so the gate has put one in the context).
func callerID(ctx context.Context) string {
	p, _ := policy.PrincipalFrom(ctx)
	return p.UserID
}

// may reports whether the caller holds perm at the station (admins
// everywhere, station admins at their own station).
func (a *hubAPI) may(ctx context.Context, perm policy.Permission, station string) bool {
	return a.gate.Check(ctx, perm, policy.StationDomain(station)) == nil
}

// inStation refuses the caller unless they hold perm at the station.
func (a *hubAPI) inStation(ctx context.Context, perm policy.Permission, station string) error {
	if a.may(ctx, perm, station) {
		return nil
	}
	return problem.New(http.StatusForbidden, "council.not_station_admin", "Only an admin of this station may do this.")
}

// Check-ins ---------------------------------------------------------------

type stationPath struct {
	ID string `path:"id" maxLength:"64"`
}

// CheckInJSON is a check-in's answer.
type CheckInJSON struct {
	VisitResult
	Member        bool   `json:"member" doc:"Whether this station is the caller's home council"`
	HomeStationID string `json:"home_station_id,omitempty" doc:"The caller's home council, if any"`
}

type checkInOutput struct{ Body CheckInJSON }

func (a *hubAPI) checkIn(ctx context.Context, in *stationPath) (*checkInOutput, error) {
	r, err := a.h.Visits.CheckIn(ctx, in.ID, callerID(ctx))
	if err != nil {
		return nil, a.problem(err, apiCheckIn)
	}
	home, err := a.h.Members.Home(ctx, callerID(ctx))
	if err != nil {
		return nil, a.problem(err, apiCheckIn)
	}
	return &checkInOutput{Body: CheckInJSON{VisitResult: r, Member: home.Station == in.ID, HomeStationID: home.Station}}, nil
}

type visitsInput struct {
	ID   string `path:"id" maxLength:"64"`
	Days int    `query:"days" minimum:"1" maximum:"90" default:"30" doc:"How many days back, today included"`
}

type visitsOutput struct {
	Body struct {
		StationID string      `json:"station_id"`
		Days      []DayVisits `json:"days" doc:"Oldest first; days in UTC+8"`
	}
}

func (a *hubAPI) visits(ctx context.Context, in *visitsInput) (*visitsOutput, error) {
	if err := a.inStation(ctx, PermFigures, in.ID); err != nil {
		return nil, err
	}
	days, err := a.h.Visits.Figures(ctx, in.ID, in.Days)
	if err != nil {
		return nil, a.problem(err, apiRead)
	}
	out := &visitsOutput{}
	out.Body.StationID, out.Body.Days = in.ID, days
	return out, nil
}

// Membership --------------------------------------------------------------

// RosterJSON is one member on a council's roster: a display name, never a
// phone number.
type RosterJSON struct {
	RiderID string    `json:"rider_id,omitempty" doc:"Only for the station's admins"`
	Name    string    `json:"name"`
	Since   time.Time `json:"since"`
}

// CouncilJSON is a station's council as the API shows it.
type CouncilJSON struct {
	StationID     string       `json:"station_id"`
	StationName   string       `json:"station_name"`
	Members       int          `json:"members"`
	Roster        []RosterJSON `json:"roster"`
	Member        bool         `json:"member" doc:"Whether the caller is a member"`
	HomeStationID string       `json:"home_station_id,omitempty" doc:"The caller's home council, if any"`
}

type councilOutput struct{ Body CouncilJSON }

func (a *hubAPI) council(ctx context.Context, in *stationPath) (*councilOutput, error) {
	st, err := a.h.Stations.Get(ctx, in.ID)
	if err != nil {
		return nil, a.problem(err, apiRead)
	}
	roster, err := a.h.Members.Roster(ctx, st.ID)
	if err != nil {
		return nil, a.problem(err, apiRead)
	}
	home, err := a.h.Members.Home(ctx, callerID(ctx))
	if err != nil {
		return nil, a.problem(err, apiRead)
	}
	manager := a.may(ctx, PermMembers, st.ID)
	v := CouncilJSON{StationID: st.ID, StationName: st.Name, Members: len(roster), Roster: make([]RosterJSON, len(roster)),
		Member: home.Station == st.ID, HomeStationID: home.Station}
	for i, m := range roster {
		v.Roster[i] = RosterJSON{Name: m.Name, Since: m.Since}
		if manager {
			v.Roster[i].RiderID = m.RiderID
		}
	}
	return &councilOutput{Body: v}, nil
}

type membershipOutput struct{ Body Membership }

func (a *hubAPI) join(ctx context.Context, in *stationPath) (*membershipOutput, error) {
	m, err := a.h.Members.Join(ctx, in.ID, callerID(ctx))
	if err != nil {
		return nil, a.problem(err, apiJoin)
	}
	return &membershipOutput{Body: m}, nil
}

func (a *hubAPI) leave(ctx context.Context, _ *struct{}) (*struct{}, error) {
	if err := a.h.Members.Leave(ctx, callerID(ctx)); err != nil {
		return nil, a.problem(err, apiLeave)
	}
	return &struct{}{}, nil
}

type removeInput struct {
	ID    string `path:"id" maxLength:"64"`
	Rider string `path:"rider" maxLength:"100"`
	Body  struct {
		Reason string `json:"reason" maxLength:"2000" doc:"Why, 1 to 500 characters; the rider can read it"`
	}
}

func (a *hubAPI) remove(ctx context.Context, in *removeInput) (*struct{}, error) {
	if err := a.inStation(ctx, PermMembers, in.ID); err != nil {
		return nil, err
	}
	if err := a.h.Members.Remove(ctx, in.ID, in.Rider, callerID(ctx), in.Body.Reason); err != nil {
		return nil, a.problem(err, apiRemove)
	}
	return &struct{}{}, nil
}

// HomeJSON is the caller's home council.
type HomeJSON struct {
	StationID   string      `json:"station_id" doc:"Empty: no home council"`
	StationName string      `json:"station_name,omitempty"`
	LastChange  *Membership `json:"last_change,omitempty" doc:"The last change of the caller's membership: join, leave or removed (with the reason)"`
}

type homeOutput struct{ Body HomeJSON }

func (a *hubAPI) myCouncil(ctx context.Context, _ *struct{}) (*homeOutput, error) {
	home, err := a.h.Members.Home(ctx, callerID(ctx))
	if err != nil {
		return nil, a.problem(err, apiRead)
	}
	v := HomeJSON{StationID: home.Station}
	if home.Seq > 0 {
		v.LastChange = &home
	}
	if home.Station != "" {
		st, err := a.h.Stations.Get(ctx, home.Station)
		if err != nil {
			return nil, a.problem(err, apiRead)
		}
		v.StationName = st.Name
	}
	return &homeOutput{Body: v}, nil
}

// Feedback ----------------------------------------------------------------

// FeedbackJSON is a feedback item as the API shows it. Its fields are
// listed, not embedded from Item, so that storage details (the photo's
// object key) stay out of the API.
type FeedbackJSON struct {
	ID             string         `json:"id"`
	StationID      string         `json:"station_id"`
	AuthorID       string         `json:"author_id"`
	AuthorName     string         `json:"author_name"`
	Category       Category       `json:"category"`
	Text           string         `json:"text"`
	PhotoURL       string         `json:"photo_url,omitempty"`
	Status         FeedbackStatus `json:"status"`
	Answer         string         `json:"answer,omitempty" doc:"The station's public answer or note"`
	Reason         string         `json:"reason,omitempty" doc:"Why it was declined"`
	Supports       int            `json:"supports"`
	Supported      bool           `json:"supported" doc:"Whether the caller has supported it"`
	WaitingSeconds int64          `json:"waiting_seconds" doc:"How long an open or under-review item has waited for a decision; 0 once decided"`
	ProposalID     string         `json:"proposal_id,omitempty" doc:"The proposal it was adopted into, if any"`
	CreatedAt      time.Time      `json:"created_at"`
	UpdatedAt      time.Time      `json:"updated_at"`
}

func (a *hubAPI) feedbackJSON(ctx context.Context, it Item, now time.Time) (FeedbackJSON, error) {
	v := FeedbackJSON{ID: it.ID, StationID: it.Station, AuthorID: it.Author, Category: it.Category, Text: it.Text,
		Status: it.Status, Answer: it.Answer, Reason: it.Reason, Supports: it.Supports,
		WaitingSeconds: int64(it.Waiting(now) / time.Second), CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt}
	var err error
	if v.AuthorName, err = a.h.Names.DisplayName(ctx, it.Author); err != nil {
		return FeedbackJSON{}, fmt.Errorf("council: name of %s: %w", it.Author, err)
	}
	if it.PhotoKey != "" {
		v.PhotoURL = "/api/v1/feedback/" + it.ID + "/photo"
	}
	if v.Supported, err = a.h.Feedback.Supported(ctx, it.ID, callerID(ctx)); err != nil {
		return FeedbackJSON{}, err
	}
	if it.Status == StatusAdopted {
		pid, ok, err := a.h.Proposals.ForItem(ctx, it.ID)
		if err != nil {
			return FeedbackJSON{}, err
		}
		if ok {
			v.ProposalID = pid
		}
	}
	return v, nil
}

type listFeedbackInput struct {
	ID     string `path:"id" maxLength:"64"`
	Before int    `query:"before" minimum:"0" doc:"The next of the previous page; 0 or absent: from the newest"`
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"20"`
}

type listFeedbackOutput struct {
	Body struct {
		Items []FeedbackJSON `json:"items"`
		Next  int            `json:"next,omitempty" doc:"Pass as before for the next page; absent on the last"`
	}
}

func (a *hubAPI) listFeedback(ctx context.Context, in *listFeedbackInput) (*listFeedbackOutput, error) {
	if _, err := a.h.Stations.Get(ctx, in.ID); err != nil {
		return nil, a.problem(err, apiRead)
	}
	items, next, err := a.h.Feedback.List(ctx, in.ID, in.Before, in.Limit)
	if err != nil {
		return nil, a.problem(err, apiRead)
	}
	out := &listFeedbackOutput{}
	out.Body.Items, out.Body.Next = make([]FeedbackJSON, 0, len(items)), next
	now := time.Now()
	for _, it := range items {
		v, err := a.feedbackJSON(ctx, it, now)
		if err != nil {
			return nil, a.problem(err, apiRead)
		}
		out.Body.Items = append(out.Body.Items, v)
	}
	return out, nil
}

// feedbackBody describes the feedback form field by field, so that a client
// generated from the OpenAPI document sends what the handler reads.
func feedbackBody() *huma.RequestBody {
	maxText := MaxFeedbackText
	return &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{"multipart/form-data": {
		Schema: &huma.Schema{Type: "object", Required: []string{"category", "text"}, Properties: map[string]*huma.Schema{
			"category": {Type: "string", Enum: []any{"facilities", "safety", "rights", "services", "other"}},
			"text":     {Type: "string", MaxLength: &maxText, Description: "1 to 2000 characters"},
			"photo":    {Type: "string", Format: "binary", Description: "optional: JPEG, PNG or WebP, at most 10 MB"},
		}},
		Encoding: map[string]*huma.Encoding{"photo": {ContentType: "image/jpeg, image/png, image/webp"}},
	}}}
}

type postFeedbackInput struct {
	ID      string `path:"id" maxLength:"64"`
	RawBody multipart.Form
}

type itemOutput struct {
	Body FeedbackJSON
}

func apiFormValue(f *multipart.Form, k string) string {
	if v := f.Value[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (a *hubAPI) postFeedback(ctx context.Context, in *postFeedbackInput) (*itemOutput, error) {
	if _, err := a.h.Stations.Get(ctx, in.ID); err != nil {
		return nil, a.problem(err, apiPost)
	}
	var photo []byte
	switch files := in.RawBody.File["photo"]; len(files) {
	case 0:
	case 1:
		b, err := apiReadPhoto(files[0])
		if err != nil {
			return nil, err
		}
		photo = b
	default:
		return nil, a.problem(&ValidationError{Field: "photo", Reason: "attach at most one photo"}, apiPost)
	}
	it, err := a.h.PostFeedback(ctx, NewItem{Station: in.ID, Author: callerID(ctx), Category: Category(apiFormValue(&in.RawBody, "category")),
		Text: apiFormValue(&in.RawBody, "text")}, photo)
	if err != nil {
		return nil, a.problem(err, apiPost)
	}
	v, err := a.feedbackJSON(ctx, it, time.Now())
	if err != nil {
		return nil, a.problem(err, apiPost)
	}
	return &itemOutput{Body: v}, nil
}

// readUpload reads an uploaded photo, cut off just past the limit so that a
// huge file costs no more memory than a slightly too large one.
func apiReadPhoto(fh *multipart.FileHeader) ([]byte, error) {
	f, err := fh.Open()
	if err != nil {
		return nil, problem.New(http.StatusUnprocessableEntity, "invalid.photo", "The photo could not be read; send it again.")
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxPhotoBytes+1))
	if err != nil {
		return nil, problem.New(http.StatusUnprocessableEntity, "invalid.photo", "The photo could not be read; send it again.")
	}
	if len(b) > MaxPhotoBytes {
		return nil, problem.New(http.StatusRequestEntityTooLarge, "photo.too_large", "The photo is larger than 10 MB; send a smaller one.")
	}
	return b, nil
}

type itemPath struct {
	Item string `path:"item" maxLength:"64"`
}

// FeedbackDetailJSON is one item with its timeline.
type FeedbackDetailJSON struct {
	FeedbackJSON
	Timeline []FeedbackEntry `json:"timeline" doc:"Changes of state, oldest first, with the station's answers"`
}

type itemDetailOutput struct{ Body FeedbackDetailJSON }

func (a *hubAPI) getFeedback(ctx context.Context, in *itemPath) (*itemDetailOutput, error) {
	it, err := a.h.Feedback.Get(ctx, in.Item)
	if err != nil {
		return nil, a.problem(err, apiRead)
	}
	v, err := a.feedbackJSON(ctx, it, time.Now())
	if err != nil {
		return nil, a.problem(err, apiRead)
	}
	tl, err := a.h.Feedback.Timeline(ctx, it.ID)
	if err != nil {
		return nil, a.problem(err, apiRead)
	}
	return &itemDetailOutput{Body: FeedbackDetailJSON{FeedbackJSON: v, Timeline: tl}}, nil
}

func (a *hubAPI) feedbackPhoto(ctx context.Context, in *itemPath) (*huma.StreamResponse, error) {
	it, err := a.h.Feedback.Get(ctx, in.Item)
	if err != nil {
		return nil, a.problem(err, apiRead)
	}
	if it.PhotoKey == "" {
		return nil, a.problem(ErrPhotoNotFound, apiRead)
	}
	return a.photo(ctx, it.PhotoKey)
}

type stationPhotoInput struct {
	ID string `path:"id" maxLength:"64"`
	N  int    `path:"n" minimum:"1" maximum:"100"`
}

func (a *hubAPI) stationPhoto(ctx context.Context, in *stationPhotoInput) (*huma.StreamResponse, error) {
	st, err := a.h.Stations.Get(ctx, in.ID)
	if err != nil {
		return nil, a.problem(err, apiRead)
	}
	if in.N > len(st.Photos) {
		return nil, a.problem(ErrPhotoNotFound, apiRead)
	}
	return a.photo(ctx, st.Photos[in.N-1])
}

// photo streams a stored council photo. The key comes from a record the
// caller may read, never from the request.
func (a *hubAPI) photo(ctx context.Context, key string) (*huma.StreamResponse, error) {
	rc, ctype, err := a.h.Photos.Open(ctx, key)
	if err != nil {
		return nil, a.problem(err, apiRead)
	}
	if ctype != "image/png" && ctype != "image/webp" {
		ctype = "image/jpeg"
	}
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		defer rc.Close()
		hctx.SetHeader("Content-Type", ctype)
		hctx.SetHeader("Cache-Control", "private, max-age=86400, immutable")
		hctx.SetHeader("Content-Disposition", "inline")
		hctx.SetHeader("X-Content-Type-Options", "nosniff")
		_, _ = io.Copy(hctx.BodyWriter(), rc)
	}}, nil
}

type supportOutput struct {
	Body struct {
		Supports int `json:"supports" doc:"The item's support count, the caller's included"`
	}
}

func (a *hubAPI) support(ctx context.Context, in *itemPath) (*supportOutput, error) {
	n, err := a.h.Feedback.Support(ctx, in.Item, callerID(ctx))
	if err != nil {
		return nil, a.problem(err, apiSupport)
	}
	out := &supportOutput{}
	out.Body.Supports = n
	return out, nil
}

type transitionInput struct {
	Item string `path:"item" maxLength:"64"`
	Body struct {
		To   FeedbackStatus `json:"to" enum:"under_review,adopted,answered,declined"`
		Text string         `json:"text,omitempty" maxLength:"4000" doc:"The public answer (answered), the reason (declined), or a note"`
	}
}

func (a *hubAPI) transition(ctx context.Context, in *transitionInput) (*itemOutput, error) {
	it, err := a.h.Feedback.Get(ctx, in.Item)
	if err != nil {
		return nil, a.problem(err, apiAnswer)
	}
	if err := a.inStation(ctx, PermAnswer, it.Station); err != nil {
		return nil, err
	}
	it, err = a.h.Feedback.Transition(ctx, it.ID, in.Body.To, callerID(ctx), in.Body.Text)
	if err != nil {
		return nil, a.problem(err, apiAnswer)
	}
	v, err := a.feedbackJSON(ctx, it, time.Now())
	if err != nil {
		return nil, a.problem(err, apiAnswer)
	}
	return &itemOutput{Body: v}, nil
}

// Proposals ---------------------------------------------------------------

type proposalsOutput struct {
	Body struct {
		Proposals []vote.Proposal `json:"proposals"`
	}
}

// apiStateOrder lists open proposals first, then closed ones, then drafts.
var apiStateOrder = map[vote.State]int{vote.StateOpen: 0, vote.StateClosed: 1, vote.StateDraft: 2}

func (a *hubAPI) listProposals(ctx context.Context, in *stationPath) (*proposalsOutput, error) {
	if _, err := a.h.Stations.Get(ctx, in.ID); err != nil {
		return nil, a.problem(err, apiRead)
	}
	ps, err := a.h.Proposals.List(ctx, in.ID)
	if err != nil {
		return nil, a.problem(err, apiRead)
	}
	drafts := a.may(ctx, PermProposals, in.ID)
	out := &proposalsOutput{}
	out.Body.Proposals = []vote.Proposal{}
	for _, p := range ps {
		if p.State != vote.StateDraft || drafts {
			out.Body.Proposals = append(out.Body.Proposals, p)
		}
	}
	// Stable: newest first within each state, as List gives them.
	slices.SortStableFunc(out.Body.Proposals, func(x, y vote.Proposal) int { return apiStateOrder[x.State] - apiStateOrder[y.State] })
	return out, nil
}

// DraftJSON is a proposal as a station admin puts it.
type DraftJSON struct {
	Title        string    `json:"title" maxLength:"500"`
	Body         string    `json:"body,omitempty" maxLength:"20000"`
	Kind         vote.Kind `json:"kind" enum:"yes_no_abstain,one_of,approval"`
	Options      []string  `json:"options,omitempty" maxItems:"40" doc:"one_of and approval: 2 to 20 distinct labels"`
	MaxApprovals int       `json:"max_approvals,omitempty" minimum:"0" doc:"approval: 1 to the number of options; 0 or absent: all"`
	Secret       bool      `json:"secret,omitempty" doc:"A secret ballot keeps no link from voter to vote; a secret vote is final"`
	Opens        time.Time `json:"opens"`
	Closes       time.Time `json:"closes"`
	QuorumPct    float64   `json:"quorum_pct" doc:"Share of the roll that must vote, 0 to 100"`
	PassPct      float64   `json:"pass_pct,omitempty" doc:"Share of the votes cast needed to pass, 50 to 100; 0 or absent: more than 50"`
}

type putProposalInput struct {
	ID   string `path:"id" maxLength:"64"`
	Body struct {
		DraftJSON
		FromItem string `json:"from_item,omitempty" maxLength:"64" doc:"The feedback item of this station the proposal comes from"`
	}
}

type proposalOutput struct{ Body ProposalJSON }

func (a *hubAPI) putProposal(ctx context.Context, in *putProposalInput) (*proposalOutput, error) {
	if err := a.inStation(ctx, PermProposals, in.ID); err != nil {
		return nil, err
	}
	b := in.Body.DraftJSON
	d := vote.Draft{StationID: in.ID, Title: b.Title, Body: b.Body, Kind: b.Kind, Options: b.Options, MaxApprovals: b.MaxApprovals,
		Secret: b.Secret, Opens: b.Opens, Closes: b.Closes, QuorumPct: b.QuorumPct, PassPct: b.PassPct, CreatedBy: callerID(ctx)}
	p, err := a.h.Proposals.Put(ctx, d, in.Body.FromItem)
	if err != nil {
		return nil, a.problem(err, apiManage)
	}
	return a.proposalJSON(ctx, p)
}

type editProposalInput struct {
	PID  string `path:"pid" maxLength:"64"`
	Body struct {
		Title        *string    `json:"title,omitempty" maxLength:"500"`
		Body         *string    `json:"body,omitempty" maxLength:"20000"`
		Kind         *vote.Kind `json:"kind,omitempty" enum:"yes_no_abstain,one_of,approval"`
		Options      *[]string  `json:"options,omitempty" maxItems:"40"`
		MaxApprovals *int       `json:"max_approvals,omitempty" minimum:"0"`
		Secret       *bool      `json:"secret,omitempty"`
		Opens        *time.Time `json:"opens,omitempty"`
		Closes       *time.Time `json:"closes,omitempty"`
		QuorumPct    *float64   `json:"quorum_pct,omitempty"`
		PassPct      *float64   `json:"pass_pct,omitempty"`
	}
}

func (a *hubAPI) editProposal(ctx context.Context, in *editProposalInput) (*proposalOutput, error) {
	p, err := a.managed(ctx, in.PID)
	if err != nil {
		return nil, err
	}
	if p.State != vote.StateDraft {
		return nil, a.problem(vote.ErrOpen, apiManage)
	}
	d := vote.Draft{StationID: p.StationID, Title: p.Title, Body: p.Body, Kind: p.Kind, Options: p.Options, MaxApprovals: p.MaxApprovals,
		Secret: p.Secret, Opens: p.Opens, Closes: p.Closes, QuorumPct: p.QuorumPct, PassPct: p.PassPct, CreatedBy: p.CreatedBy}
	b := in.Body
	setIf(&d.Title, b.Title)
	setIf(&d.Body, b.Body)
	setIf(&d.Kind, b.Kind)
	setIf(&d.Options, b.Options)
	setIf(&d.MaxApprovals, b.MaxApprovals)
	setIf(&d.Secret, b.Secret)
	setIf(&d.Opens, b.Opens)
	setIf(&d.Closes, b.Closes)
	setIf(&d.QuorumPct, b.QuorumPct)
	setIf(&d.PassPct, b.PassPct)
	if b.Kind != nil && *b.Kind == vote.YesNoAbstain && b.Options == nil {
		d.Options = nil // a yes/no ballot has no options of its own
	}
	p, err = a.h.Votes.Edit(ctx, p.ID, d)
	if err != nil {
		return nil, a.problem(err, apiManage)
	}
	return a.proposalJSON(ctx, p)
}

func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

type proposalPath struct {
	PID string `path:"pid" maxLength:"64"`
}

// visibleProposal loads a proposal the caller may see: drafts only for the
// station's admins, "not found" to others so ids reveal nothing.
func (a *hubAPI) visibleProposal(ctx context.Context, id string) (vote.Proposal, error) {
	p, err := a.h.Votes.Get(ctx, id)
	if err != nil {
		return vote.Proposal{}, a.problem(err, apiRead)
	}
	if p.State == vote.StateDraft && !a.may(ctx, PermProposals, p.StationID) {
		return vote.Proposal{}, a.problem(vote.ErrNotFound, apiRead)
	}
	return p, nil
}

// managed loads a proposal the caller manages at its station.
func (a *hubAPI) managed(ctx context.Context, id string) (vote.Proposal, error) {
	p, err := a.visibleProposal(ctx, id)
	if err != nil {
		return vote.Proposal{}, err
	}
	if err := a.inStation(ctx, PermProposals, p.StationID); err != nil {
		return vote.Proposal{}, err
	}
	return p, nil
}

func (a *hubAPI) openProposal(ctx context.Context, in *proposalPath) (*proposalOutput, error) {
	p, err := a.managed(ctx, in.PID)
	if err != nil {
		return nil, err
	}
	if p, err = a.h.Proposals.Open(ctx, p.ID); err != nil {
		return nil, a.problem(err, apiOpen)
	}
	return a.proposalJSON(ctx, p)
}

// ProposalJSON is a proposal as the API shows it, with what it came from,
// what was done after it, and the caller's part in it.
type ProposalJSON struct {
	vote.Proposal
	FromItem string         `json:"from_item,omitempty" doc:"The feedback item it was adopted from"`
	Outcomes []Outcome      `json:"outcomes"`
	OnRoll   *bool          `json:"on_roll,omitempty" doc:"Whether the caller may vote; absent when it cannot be known"`
	MyVotes  []vote.Receipt `json:"my_votes,omitempty" doc:"The caller's votes on an open ballot, oldest first; the last counts"`
}

func (a *hubAPI) proposalJSON(ctx context.Context, p vote.Proposal) (*proposalOutput, error) {
	v := ProposalJSON{Proposal: p}
	var err error
	if v.FromItem, err = a.h.Proposals.ItemOf(ctx, p.ID); err != nil {
		return nil, a.problem(err, apiRead)
	}
	if v.Outcomes, err = a.h.Proposals.Outcomes(ctx, p.ID); err != nil {
		return nil, a.problem(err, apiRead)
	}
	if v.Outcomes == nil {
		v.Outcomes = []Outcome{}
	}
	if p.State != vote.StateDraft {
		if v.MyVotes, err = a.h.Votes.History(ctx, p.ID, callerID(ctx)); err != nil {
			return nil, a.problem(err, apiRead)
		}
		if v.OnRoll, err = a.onRoll(ctx, p); err != nil {
			return nil, a.problem(err, apiRead)
		}
	}
	return &proposalOutput{Body: v}, nil
}

// onRoll tells whether the caller is on the proposal's voter roll while
// voting is open (nil otherwise: there is nothing to vote on).
func (a *hubAPI) onRoll(ctx context.Context, p vote.Proposal) (*bool, error) {
	now := time.Now()
	if p.State != vote.StateOpen || now.Before(p.Opens) || !now.Before(p.Closes) {
		return nil, nil
	}
	on, err := a.h.Votes.OnRoll(ctx, p.ID, callerID(ctx))
	if err != nil {
		return nil, err
	}
	return &on, nil
}

func (a *hubAPI) getProposal(ctx context.Context, in *proposalPath) (*proposalOutput, error) {
	p, err := a.visibleProposal(ctx, in.PID)
	if err != nil {
		return nil, err
	}
	return a.proposalJSON(ctx, p)
}

type voteInput struct {
	PID  string `path:"pid" maxLength:"64"`
	Body struct {
		Choice []string `json:"choice" minItems:"1" maxItems:"20" doc:"The chosen labels: yes, no or abstain; or option labels"`
	}
}

type voteOutput struct {
	Status int
	Body   vote.Receipt
}

func (a *hubAPI) castVote(ctx context.Context, in *voteInput) (*voteOutput, error) {
	p, err := a.visibleProposal(ctx, in.PID)
	if err != nil {
		return nil, err
	}
	r, err := a.h.Votes.Cast(ctx, p.ID, callerID(ctx), in.Body.Choice)
	if err != nil {
		return nil, a.problem(err, apiVote)
	}
	status := http.StatusCreated
	if r.Replayed {
		status = http.StatusOK
	}
	return &voteOutput{Status: status, Body: r}, nil
}

// ResultsJSON is a closed proposal's frozen result.
type ResultsJSON struct {
	vote.Tally
	Mine []string `json:"mine" doc:"Receipt codes of the caller's counted vote (open ballots; a secret ballot's receipt was shown once, when voting)"`
}

type resultsOutput struct{ Body ResultsJSON }

func (a *hubAPI) results(ctx context.Context, in *proposalPath) (*resultsOutput, error) {
	p, err := a.visibleProposal(ctx, in.PID)
	if err != nil {
		return nil, err
	}
	if p.State != vote.StateClosed {
		return nil, apiNotClosed(p)
	}
	t, err := a.h.Votes.Results(ctx, p.ID)
	if errors.Is(err, vote.ErrNotClosed) {
		return nil, apiNotClosed(p)
	}
	if err != nil {
		return nil, a.problem(err, apiRead)
	}
	v := ResultsJSON{Tally: t, Mine: []string{}}
	hist, err := a.h.Votes.History(ctx, p.ID, callerID(ctx))
	if err != nil {
		return nil, a.problem(err, apiRead)
	}
	if len(hist) > 0 {
		// Only the last vote counts, so only its code is in the list.
		v.Mine = append(v.Mine, hist[len(hist)-1].Code)
	}
	return &resultsOutput{Body: v}, nil
}

// notClosed says when the results of p will be shown.
func apiNotClosed(p vote.Proposal) error {
	var detail string
	switch {
	case p.State == vote.StateDraft:
		detail = "Voting on this proposal has not opened; results are shown after voting closes."
	case time.Now().Before(p.Closes):
		detail = "Results are shown after voting closes at " + apiTime(p.Closes) + "."
	default:
		detail = "Voting closed at " + apiTime(p.Closes) + "; the votes are being counted and the results are shown in a few seconds."
	}
	return problem.New(http.StatusConflict, "council.results_hidden", detail)
}

// when formats a time for an API message: RFC 3339 in UTC+8, the time riders
// live in, with the offset so a machine reads it exactly.
func apiTime(t time.Time) string { return t.In(Shanghai).Format(time.RFC3339) }

type outcomeInput struct {
	PID  string `path:"pid" maxLength:"64"`
	Body struct {
		Kind OutcomeKind `json:"kind" enum:"decision,progress,done"`
		Text string      `json:"text" maxLength:"4000" doc:"1 to 2000 characters"`
	}
}

type outcomeOutput struct{ Body Outcome }

func (a *hubAPI) recordOutcome(ctx context.Context, in *outcomeInput) (*outcomeOutput, error) {
	p, err := a.managed(ctx, in.PID)
	if err != nil {
		return nil, err
	}
	o, err := a.h.Proposals.Record(ctx, p.ID, callerID(ctx), in.Body.Kind, in.Body.Text)
	if err != nil {
		return nil, a.problem(err, apiOutcome)
	}
	return &outcomeOutput{Body: o}, nil
}

// Errors ------------------------------------------------------------------

// apiAct is what the caller was doing, for the sentence that tells them what
// to do about an error.
type apiAct int

const (
	apiRead apiAct = iota
	apiCheckIn
	apiJoin
	apiLeave
	apiRemove
	apiPost
	apiSupport
	apiAnswer
	apiManage
	apiOpen
	apiVote
	apiOutcome
)

// retryLater is a 503 whose client may simply try again.
func apiRetryLater(detail string) error {
	return huma.ErrorWithHeaders(problem.New(http.StatusServiceUnavailable, "council.busy", detail), http.Header{"Retry-After": {"1"}})
}

// problem is the one place the councils' errors become HTTP statuses, for
// every council route of the API.
func (a *hubAPI) problem(err error, doing apiAct) error {
	var ve *ValidationError
	var fe *vote.FieldError
	var te *FeedbackTransitionError
	var ce *vote.ClosedError
	switch {
	case errors.As(err, &ve):
		return apiFieldProblem(ve.Field, ve.Reason, ve.Error())
	case errors.As(err, &fe):
		return apiFieldProblem(fe.Field, fe.Reason, fe.Error())
	case errors.Is(err, ErrNotMember):
		switch doing {
		case apiLeave:
			return problem.New(http.StatusConflict, "council.no_home", "You are not a member of any station's council, so there is nothing to leave.")
		case apiRemove:
			return problem.New(http.StatusNotFound, "council.not_member", "That rider is not a member of this station's council.")
		case apiSupport:
			return problem.New(http.StatusForbidden, "council.not_member", "Only members of this station's council may support its items: join the council first.")
		}
		return problem.New(http.StatusForbidden, "council.not_member", "Join this station's council to post feedback.")
	case errors.Is(err, vote.ErrNotOnRoll):
		return problem.New(http.StatusForbidden, "vote.not_on_roll",
			"You are not on this proposal's voter roll: only those who were members of the council when voting opened may vote. You will vote on the proposals opened from now on.")
	case errors.Is(err, ErrOwnItem):
		return problem.New(http.StatusUnprocessableEntity, "feedback.own_item", "You cannot support your own item; ask other members to support it.")
	case errors.Is(err, ErrAlreadySupported):
		return problem.New(http.StatusConflict, "feedback.already_supported", "You have supported this item already; one support per member is counted.")
	case errors.Is(err, ErrFeedbackClosed):
		return problem.New(http.StatusConflict, "feedback.closed", "This item has been decided and takes no more supports.")
	case errors.As(err, &te):
		allowed := make([]error, len(te.Allowed))
		for i, s := range te.Allowed {
			allowed[i] = &huma.ErrorDetail{Location: "body.to", Value: s, Message: string(s)}
		}
		detail := fmt.Sprintf("An item that is %s cannot become %s.", te.From, te.To)
		if len(te.Allowed) == 0 {
			detail = fmt.Sprintf("An item that is %s has been decided and cannot change.", te.From)
		}
		return problem.New(http.StatusConflict, "feedback.transition", detail, allowed...)
	case errors.As(err, &ce):
		if doing == apiOpen {
			return problem.New(http.StatusConflict, "vote.closed",
				"The voting window ended at "+apiTime(ce.At)+"; give the draft a later window before opening it.")
		}
		return problem.New(http.StatusConflict, "vote.closed", "Voting on this proposal closed at "+apiTime(ce.At)+"; your vote was not recorded.")
	case errors.Is(err, vote.ErrFinal):
		return problem.New(http.StatusConflict, "vote.final", "Your vote on this secret ballot is already counted and cannot be changed.")
	case errors.Is(err, vote.ErrNotOpen):
		return problem.New(http.StatusConflict, "vote.not_open", apiSentence(err.Error())+".")
	case errors.Is(err, vote.ErrOpen):
		return problem.New(http.StatusConflict, "proposal.open", "Voting on this proposal has opened, so it can no longer be edited.")
	case errors.Is(err, vote.ErrNotClosed):
		if doing == apiOutcome {
			return problem.New(http.StatusConflict, "proposal.not_closed", "Outcomes are recorded after voting has closed.")
		}
		return problem.New(http.StatusConflict, "proposal.not_closed", "Results are shown after voting has closed.")
	case errors.Is(err, vote.ErrBadChoice):
		return problem.New(http.StatusUnprocessableEntity, "invalid.choice", apiSentence(err.Error())+".",
			&huma.ErrorDetail{Location: "body.choice", Message: err.Error()})
	case errors.Is(err, vote.ErrBusy):
		return apiRetryLater("Your vote is being recorded; try again in a moment.")
	case errors.Is(err, ErrContended):
		return apiRetryLater("Too many changes at once; please try again.")
	case errors.Is(err, ErrNotFound):
		return problem.New(http.StatusNotFound, "station.not_found", "There is no station with that id.")
	case errors.Is(err, ErrFeedbackNotFound):
		return problem.New(http.StatusNotFound, "feedback.not_found", "There is no feedback item with that id.")
	case errors.Is(err, vote.ErrNotFound):
		return problem.New(http.StatusNotFound, "proposal.not_found", "There is no proposal with that id.")
	case errors.Is(err, ErrPhotoNotFound):
		return problem.New(http.StatusNotFound, "photo.not_found", "There is no such photo.")
	case errors.Is(err, ErrItemHasProposal):
		return problem.New(http.StatusConflict, "feedback.has_proposal", "This feedback item has been adopted into a proposal already.")
	case errors.Is(err, vote.ErrExists):
		return problem.New(http.StatusConflict, "proposal.exists", "A proposal with that id exists already.")
	case errors.Is(err, policy.ErrForbidden):
		return problem.New(http.StatusForbidden, "council.not_station_admin", "Only an admin of this station may do this.")
	}
	a.log.Error("council api", "err", err)
	return huma.Error500InternalServerError("Something went wrong on our side; please try again.")
}

// fieldProblem is a 422 naming the input at fault.
func apiFieldProblem(field, reason, detail string) error {
	loc := "body." + field
	if field == "days" || field == "before" || field == "limit" {
		loc = "query." + field
	}
	return problem.New(http.StatusUnprocessableEntity, "invalid."+field, apiSentence(detail),
		&huma.ErrorDetail{Location: loc, Message: reason})
}

func apiSentence(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
