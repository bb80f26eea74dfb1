package reports

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/nuanxin/nuanxin/storage"
)

// Decoding a photo's pixels is most of what a submission costs (about
// 36 ms for 1600×1200 here, against a few ms for every store write of it),
// and nothing in the answer depends on it once the structural checks have
// passed (uprightJPEG). So the thumbnails of upright JPEGs are made after
// the answer: by this instance at once, from the bytes it holds, or by
// Repair from the stored photo when this instance stopped first or had too
// much waiting already. The submission's pending note stays until they are
// made, which is how Repair finds them without a search.
//
// A photo whose pixels turn out damaged keeps its place, is flagged on the
// report by a timeline entry (ActPhotoUnreadable, State.UnreadablePhotos),
// and the rider is told through the inbox like any other entry.

// maxLaterBytes bounds the photos held in memory waiting for their
// thumbnails. Past it, a submission's thumbnails are left to Repair, which
// reads the photo back from the object store: a burst of uploads costs
// delay, not memory.
const maxLaterBytes = 64 << 20

// thumbsLater makes the thumbnails of the photos in bodies (index in
// r.Photos → stored bytes) after the caller has answered, then removes the
// submission's pending note.
func (s *Service) thumbsLater(ctx context.Context, r Report, note pending, bodies map[int][]byte) {
	size := int64(0)
	for _, b := range bodies {
		size += int64(len(b))
	}
	if s.laterBytes.Add(size) > maxLaterBytes {
		s.laterBytes.Add(-size)
		s.log.Info("thumbnails left to the repair job: too many photos waiting", "report", r.ID)
		return
	}
	ctx = context.WithoutCancel(ctx)
	s.later.Go(func() {
		defer s.laterBytes.Add(-size)
		select {
		case s.thumbSlots <- struct{}{}:
		case <-s.stopping:
			return // Repair makes them after the restart
		}
		err := s.makeThumbs(ctx, r, bodies)
		<-s.thumbSlots
		if err != nil {
			s.log.Warn("make thumbnails; the repair job will", "report", r.ID, "err", err)
			return
		}
		if err := s.store.deletePending(ctx, note.ID); err != nil {
			s.log.Warn("remove the pending note of a stored report; Repair will", "report", r.ID, "err", err)
		}
	})
}

// Wait returns when the work this instance took on after answering (the
// thumbnails, the published marks) is done or, once stop is closed, abandoned to Repair. The app
// calls it before closing the stores; tests call it to look at the result.
func (s *Service) Wait() { s.later.Wait() }

// StopLater makes work waiting for a photo slot give up, so that Wait
// returns quickly at shutdown. Idempotent.
func (s *Service) StopLater() { s.stopOnce.Do(func() { close(s.stopping) }) }

// makeThumbs decodes each photo, stores its thumbnail, and flags those
// whose pixels are damaged.
func (s *Service) makeThumbs(ctx context.Context, r Report, bodies map[int][]byte) error {
	var unreadable []int
	for _, i := range slices.Sorted(maps.Keys(bodies)) {
		thumb, _, _, err := Thumbnail(bodies[i])
		var perr *PhotoError
		if errors.As(err, &perr) {
			unreadable = append(unreadable, i)
			continue
		}
		if err != nil {
			return err
		}
		if err := s.blobs.Put(ctx, r.Photos[i].ThumbKey, bytes.NewReader(thumb), int64(len(thumb)), "image/jpeg", nil); err != nil {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	s.at("thumbs")
	if len(unreadable) == 0 {
		return nil
	}
	return s.flagUnreadable(ctx, r.ID, unreadable)
}

// flagUnreadable appends the entry that flags photos (indexes in
// r.Photos) as damaged, unless they are flagged already: Repair and this
// instance may both get there.
func (s *Service) flagUnreadable(ctx context.Context, id string, photos []int) error {
	names := make([]string, len(photos))
	for i, p := range photos {
		names[i] = strconv.Itoa(p + 1)
	}
	_, err := s.transition(ctx, id, Actor{Role: RoleSystem}, ActPhotoUnreadable, func(_ Report, st *State) error {
		add := slices.DeleteFunc(slices.Clone(photos), func(p int) bool { return slices.Contains(st.UnreadablePhotos, p) })
		if len(add) == 0 {
			return errSkip
		}
		st.UnreadablePhotos = slices.Sorted(slices.Values(append(slices.Clone(st.UnreadablePhotos), add...)))
		return nil
	}, "photo "+strings.Join(names, ", "), "")
	if errors.Is(err, errSkip) {
		return nil
	}
	return err
}

// repairThumbs makes the thumbnails a submission's photos still lack,
// reading each photo back from the object store: the work thumbsLater
// would have done, for an instance that stopped or had too much waiting.
// Only photos of this attempt (note.Keys) are looked at.
func (s *Service) repairThumbs(ctx context.Context, r Report, note pending) error {
	var missing []int
	for i, p := range r.Photos {
		if !slices.Contains(note.Keys, p.Key) || slices.Contains(r.UnreadablePhotos, i) {
			continue
		}
		if _, err := s.blobs.Stat(ctx, p.ThumbKey); err == nil {
			continue
		} else if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		missing = append(missing, i)
	}
	if len(missing) == 0 {
		return nil
	}
	select {
	case s.thumbSlots <- struct{}{}:
	default:
		// Every slot is making thumbnails after answers: this one waits for
		// the next run rather than hold up the repair job, and the SLA
		// worker after it.
		return errThumbsBusy
	}
	defer func() { <-s.thumbSlots }()
	bodies := map[int][]byte{}
	for _, i := range missing {
		body, err := s.readObject(ctx, r.Photos[i].Key)
		if err != nil {
			return err
		}
		bodies[i] = body
	}
	return s.makeThumbs(ctx, r, bodies)
}

// errThumbsBusy says repairThumbs left its work for the next repair run.
var errThumbsBusy = errors.New("every thumbnail slot is busy")

func (s *Service) readObject(ctx context.Context, key string) ([]byte, error) {
	rc, _, err := s.blobs.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, MaxPhotoBytes+1))
}
