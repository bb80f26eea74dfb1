package reports

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Actor is who takes an action: their account id and the role they act in.
type Actor struct {
	ID   string
	Role string // RoleOfficer or RoleAdmin (RoleSystem for the SLA worker)
}

// ActionInput is an officer's or admin's action on a report.
type ActionInput struct {
	Action     Action
	Severity   int    // verify: 1 (minor) to 3 (urgent)
	Reason     string // reject: one of RejectReasons; handover: why
	Note       string
	Cell       string // handover: the cell that should take it
	AfterPhoto []byte // resolve: optional photo of the fixed problem
}

// CellExists is what handover needs of the grid.
type CellExists interface {
	Exists(cell string) bool
}

func (s *Service) checkInput(in *ActionInput) error {
	note, err := cleanText("note", in.Note, MaxNote)
	if err != nil {
		return err
	}
	in.Note = note
	switch in.Action {
	case ActVerify:
		if in.Severity < 1 || in.Severity > 3 {
			return &ValidationError{Field: "severity", Reason: "give a severity from 1 (minor) to 3 (urgent)"}
		}
	case ActReject:
		if !slices.Contains(RejectReasons, in.Reason) {
			return &ValidationError{Field: "reason", Reason: "choose one of not_a_problem, duplicate, outside_area, insufficient_evidence, abusive"}
		}
	case ActHandover:
		if in.Cell == "" {
			return &ValidationError{Field: "cell", Reason: "name the cell that should take the report"}
		}
		if in.Note == "" {
			return &ValidationError{Field: "note", Reason: "say why the report belongs to another cell"}
		}
	case ActAskMore:
		if in.Note == "" {
			return &ValidationError{Field: "note", Reason: "say what the reporter should add (1 to 500 characters)"}
		}
	case ActUphold:
		if in.Note == "" {
			return &ValidationError{Field: "note", Reason: "tell the reporter why the resolution stands (1 to 500 characters)"}
		}
	case ActAcknowledge, ActStart, ActResolve, ActReopen, ActConfirmDuplicate, ActUnlinkDuplicate:
	default:
		return &ValidationError{Field: "action", Reason: fmt.Sprintf("unknown action %q", in.Action)}
	}
	if in.AfterPhoto != nil && in.Action != ActResolve {
		return &ValidationError{Field: "after_photo", Reason: "an after-photo goes with resolve only"}
	}
	return nil
}

// Act applies an action to the report with this id or ticket number. It
// answers *TransitionError (with the allowed actions) when the report's
// status does not allow it, *ValidationError for bad input (a malformed
// ticket number too), ErrNotFound, ErrConflict when others keep changing
// the report, ErrUnavailable when a store fails. Permission to act in the
// report's cell is the caller's to check, before calling.
func (s *Service) Act(ctx context.Context, actor Actor, id string, in ActionInput) (Report, error) {
	if err := s.checkInput(&in); err != nil {
		return Report{}, err
	}
	if _, ok, _ := ParseTicket(id); ok {
		// A ticket number names the report as well as its id does.
		r, err := s.Get(ctx, id)
		if err != nil {
			return Report{}, err
		}
		id = r.ID
	}
	var after *Photo
	if in.AfterPhoto != nil {
		p, err := s.processPhoto(ctx, in.AfterPhoto)
		if err != nil {
			return Report{}, fmt.Errorf("after photo: %w", err)
		}
		photo := photoFor(fmt.Sprintf("%s%s/%s-%s", photoPrefix, id, randomHex(6), "after"), p)
		keys := []string{photo.Key, photo.ThumbKey}
		if err := s.putPhoto(ctx, photo, p); err != nil {
			s.removeObjects(ctx, keys)
			return Report{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		after = &photo
		defer func() {
			if after != nil { // not attached: remove it
				s.removeObjects(ctx, keys)
			}
		}()
	}
	r, err := s.transition(ctx, id, actor, in.Action, func(r Report, st *State) error {
		return s.applyAction(ctx, r, st, in)
	}, in.Note, in.Reason)
	if err != nil {
		return Report{}, err
	}
	if after != nil {
		if err := s.store.setAfterPhoto(ctx, id, *after); err != nil {
			return Report{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		r.AfterPhoto, after = after, nil
	}
	return r, nil
}

func (s *Service) applyAction(ctx context.Context, r Report, st *State, in ActionInput) error {
	now := st.UpdatedAt
	switch in.Action {
	case ActAcknowledge:
		st.AckedAt = now
	case ActVerify:
		if st.AckedAt.IsZero() {
			st.AckedAt = now
		}
		st.DecidedAt, st.Severity = now, in.Severity
	case ActReject:
		if st.AckedAt.IsZero() {
			st.AckedAt = now
		}
		st.DecidedAt, st.RejectReason = now, in.Reason
	case ActResolve:
		st.ResolvedAt = now
	case ActReopen:
		st.ResolvedAt, st.RejectReason = timeZero, ""
		st.DecidedAt = timeZero
		st.DecideDue, st.EscalatedDue = now.Add(s.cfg.DecideWithin), false
		// The next resolution is rated afresh; reopening decides a dispute.
		st.Rating, st.RatedAt, st.Disputed = "", timeZero, false
	case ActUphold:
		if !st.Disputed {
			return &TransitionError{Action: ActUphold, Status: st.Status, Allowed: Allowed(st.Status)}
		}
		st.Disputed = false
	case ActHandover:
		if in.Cell == r.Cell {
			return &ValidationError{Field: "cell", Reason: "the report is in that cell already"}
		}
		ce, ok := s.grid.(CellExists)
		if ok && !ce.Exists(in.Cell) {
			return &ValidationError{Field: "cell", Reason: fmt.Sprintf("there is no cell %q on the map", in.Cell)}
		}
		next, err := s.routeTo(ctx, in.Cell, r.Lat, r.Lng)
		if err != nil {
			return err
		}
		st.Cell, st.OfficerID, st.BackupID, st.NearBorder = next.Cell, next.OfficerID, next.BackupID, false
		// The new officer gets a full acknowledgement window; the rider's
		// 24-hour promise is not reset by moving the report between cells.
		st.AckedAt, st.AckDue, st.EscalatedAck = timeZero, now.Add(s.cfg.AcknowledgeWithin), false
	case ActConfirmDuplicate:
		if st.DuplicateOf == "" {
			return &ValidationError{Field: "action", Reason: "the report is not linked to another as a duplicate"}
		}
		st.DuplicateState = "confirmed"
	case ActUnlinkDuplicate:
		if st.DuplicateOf == "" {
			return &ValidationError{Field: "action", Reason: "the report is not linked to another as a duplicate"}
		}
		st.DuplicateOf, st.DuplicateState = "", ""
	}
	return nil
}

// routeTo routes a handed-over report to cell: its officers, as at submission.
func (s *Service) routeTo(ctx context.Context, cell string, lat, lng float64) (State, error) {
	st := State{Cell: cell}
	primary, backup := s.grid.Officers(cell)
	for _, id := range []string{primary, backup} {
		if id == "" {
			continue
		}
		active, err := s.accounts.Active(ctx, id)
		if err != nil {
			return st, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		if active {
			st.OfficerID = id
			break
		}
	}
	if st.OfficerID != backup {
		st.BackupID = backup
	}
	return st, nil
}

// transition appends one entry to the report's timeline and projects it onto
// the report. The unique (report, seq) index decides between concurrent
// writers: the loser re-reads and tries again against the new state, which
// may no longer allow its action. A report whose projection lags its
// timeline (a writer stopped between the two writes) is repaired first.
func (s *Service) transition(ctx context.Context, id string, actor Actor, action Action, change func(Report, *State) error, note, reason string) (Report, error) {
	r, _, err := s.transitionEntry(ctx, id, actor, action, change, Entry{Note: note, Reason: reason})
	return r, err
}

// transitionEntry is transition for an entry that carries more than a note
// and a reason (a message's photos, a claim's key: the fields of with that
// the change does not decide), and returns the entry written.
func (s *Service) transitionEntry(ctx context.Context, id string, actor Actor, action Action, change func(Report, *State) error, with Entry) (Report, Entry, error) {
	note, reason := with.Note, with.Reason
	const attempts = 5
	for range attempts {
		r, err := s.store.report(ctx, id)
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				return Report{}, Entry{}, err
			}
			return Report{}, Entry{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		if r.Seq == 1 {
			// A submission stopped between its report and its first entry:
			// write that entry before the second.
			if _, err := s.ensureSubmitEntry(ctx, r); err != nil {
				return Report{}, Entry{}, err
			}
		}
		rule, manual := transitions[action]
		if manual && !slices.Contains(rule.from, r.Status) {
			return Report{}, Entry{}, &TransitionError{Action: action, Status: r.Status, Allowed: Allowed(r.Status)}
		}
		st := r.State
		st.Seq++
		st.UpdatedAt = s.now()
		if manual && rule.to != "" {
			st.Status = rule.to
		}
		if err := change(r, &st); err != nil {
			if errors.Is(err, errSkip) {
				return r, Entry{}, err
			}
			return Report{}, Entry{}, err
		}
		st.NextDue = nextDue(st)
		e := Entry{ID: entryID(id, st.Seq), ReportID: id, Seq: st.Seq, Action: action, From: r.Status,
			ActorRole: actor.Role, ActorID: actor.ID, Cell: st.Cell, Note: note, Reason: reason, At: st.UpdatedAt, After: st,
			Photos: with.Photos, Key: with.Key}
		err = s.store.insertEntry(ctx, e)
		if errors.Is(err, errDuplicate) {
			if err := s.repair(ctx, id, st.Seq); err != nil {
				return Report{}, Entry{}, err
			}
			continue
		}
		if err != nil {
			return Report{}, Entry{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		if err := s.store.setState(ctx, id, st); err != nil {
			// The entry stands; the next reader repairs the projection.
			s.log.Warn("project timeline entry", "report", id, "seq", st.Seq, "err", err)
		}
		r.State = st
		s.publish(ctx, r, e, false)
		return r, e, nil
	}
	return Report{}, Entry{}, ErrConflict
}

// errSkip tells transition that the change is not needed (the SLA worker
// found the escalation done already).
var errSkip = errors.New("nothing to do")

var timeZero time.Time

// repair writes the timeline's last entry onto the report, knowing that
// entry seq exists (the one a transition lost the race for).
func (s *Service) repair(ctx context.Context, id string, seq int) error {
	e, err := s.store.lastEntry(ctx, id, seq)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if err := s.store.setState(ctx, id, e.After); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// publish brings the open set up to date with the report and hands the
// entry's event to every consumer, the reporter's list included, each on its
// own and at once (the Last ones after the others): a consumer that fails
// does not keep the event from the others. Once all have it the entry is
// marked published; until then Repair calls publish again (again), which
// skips the consumers recorded as having it. Failures are logged, not
// returned: the change itself is stored and stands.
//
// Deliveries are recorded only when one failed, for those that did not: a
// first delivery that reaches everyone needs no record, as the entry is
// marked published. If this instance stops before marking it, Repair hands
// the event to every consumer again, which each absorbs (Events says how):
// a record per consumer on every event would cost each submission four
// writes to spare a rare redelivery.
func (s *Service) publish(ctx context.Context, r Report, e Entry, again bool) {
	if s.deliverAll(ctx, r, e, again) {
		s.markPublished(ctx, e)
	}
}

// markPublished marks e published: Repair will not hand its event out again.
func (s *Service) markPublished(ctx context.Context, e Entry) {
	if err := s.store.markPublished(ctx, e.ID); err != nil {
		s.log.Warn("mark event published; it may be delivered again", "event", e.ID, "err", err)
	}
}

// deliverAll is publish without the mark: it reports whether every consumer
// and the open set have the event, so that the caller marks it published.
func (s *Service) deliverAll(ctx context.Context, r Report, e Entry, again bool) (all bool) {
	ev := Event{ID: e.ID, Action: e.Action, ReportID: r.ID, Ticket: r.Ticket, ReportSeq: e.Seq, ReporterID: r.ReporterID, Category: r.Category,
		Status: e.After.Status, Severity: e.After.Severity, Duplicate: e.After.DuplicateOf != "",
		Cell: e.After.Cell, OfficerID: e.After.OfficerID, BackupID: e.After.BackupID,
		NextDue: e.After.NextDue, Escalated: e.After.EscalatedAck || e.After.EscalatedDue, At: e.At,
		Created: r.CreatedAt, AckDue: e.After.AckDue, Rating: e.After.Rating, ResolvedAt: e.After.ResolvedAt,
		MeTooBy: e.After.MeTooBy, Again: again}
	if e.Action == ActUphold {
		ev.Note = e.Note // the admin's word to the reporter (inbox)
	}
	var (
		wg     sync.WaitGroup
		openOK bool
		took   = make([]bool, len(s.consumers))
	)
	wg.Go(func() {
		if err := s.syncOpen(ctx, r, e.Seq == 1 && !again); err != nil {
			s.log.Warn("update the open reports; will retry", "event", e.ID, "err", err)
			return
		}
		openOK = true
	})
	for i, c := range s.consumers {
		if !c.Last {
			wg.Go(func() { took[i] = s.deliver(ctx, c, ev, again) })
		}
	}
	wg.Wait()
	for i, c := range s.consumers {
		if c.Last {
			wg.Go(func() { took[i] = s.deliver(ctx, c, ev, again) })
		}
	}
	wg.Wait()
	// The points a test may stop at (as a kill would) come after all of
	// them ran: a kill while they run leaves some delivered and the entry
	// unpublished, which is what stopping at any of these leaves.
	s.at("open")
	for i, c := range s.consumers {
		if took[i] {
			s.at("delivered:" + c.Name)
		}
	}
	if openOK && !slices.Contains(took, false) {
		return true
	}
	for i, c := range s.consumers {
		if took[i] && (c.Name != listConsumer || ev.Action == ActSubmit) {
			if err := s.store.recordDelivery(ctx, deliveryID(ev.ID, c.Name), s.now()); err != nil {
				s.log.Warn("record a report event's delivery; it may be delivered again", "event", ev.ID, "consumer", c.Name, "err", err)
			}
		}
	}
	return false
}

// deliver hands the event to one consumer unless (on redelivery) it is
// recorded as having it already. It reports whether the consumer has the
// event; publish records it when that matters.
func (s *Service) deliver(ctx context.Context, c Consumer, ev Event, again bool) bool {
	if c.Name == listConsumer && ev.Action != ActSubmit {
		return true // the list takes submissions only: no record for the rest
	}
	id := deliveryID(ev.ID, c.Name)
	if again {
		has, err := s.store.delivered(ctx, id)
		if err != nil {
			s.log.Warn("check a report event's delivery; will retry", "event", ev.ID, "consumer", c.Name, "err", err)
			return false
		}
		if has {
			return true
		}
	}
	if err := c.Events.Publish(ctx, ev); err != nil {
		s.log.Warn("deliver report event; will redeliver", "event", ev.ID, "consumer", c.Name, "err", err)
		return false
	}
	return true
}
