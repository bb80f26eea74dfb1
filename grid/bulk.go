package grid

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// MaxAssignCells bounds how many cells one bulk assignment may name: the
// page's form of that many codes still fits the default request body.
const MaxAssignCells = 2000

// BulkAssignment gives many cells the same primary officer and, unless
// KeepBackup, the same backup (none when BackupID is empty).
type BulkAssignment struct {
	Cells      []string
	PrimaryID  string
	BackupID   string
	KeepBackup bool // each cell keeps the backup it has
}

// Reasons of a bulk assignment's problems. They are English sentences that
// pages translate (reasonsZH), so they carry no names or numbers.
const (
	reasonNoCells          = "choose at least one cell"
	reasonTooManyCells     = "choose at most 2000 cells at once"
	reasonNoSuchCell       = "there is no cell with this code"
	reasonNoPrimary        = "choose the primary officer"
	reasonKeepAndBackup    = "choose a backup officer or keep each cell's backup, not both"
	reasonBackupIsPrimary  = "its backup is the officer chosen as primary"
	reasonBackupNotOfficer = "its backup is no longer an enabled officer"
)

// Problem is one thing wrong with a bulk assignment.
type Problem struct {
	Field  string // "cells", "primary_id" or "backup_id"
	Index  int    // the cell's position in BulkAssignment.Cells, or -1
	Cell   string // the cell's code, for a problem of one cell
	Reason string
}

func (p Problem) String() string {
	if p.Cell != "" {
		return fmt.Sprintf("cell %s: %s", p.Cell, p.Reason)
	}
	return p.Field + ": " + p.Reason
}

// BulkError is a bulk assignment refused before anything was written. It
// names every problem found, at most 50 (More counts the rest).
type BulkError struct {
	Problems []Problem
	More     int
}

func (e *BulkError) add(p Problem) {
	if len(e.Problems) < maxProblems {
		e.Problems = append(e.Problems, p)
		return
	}
	e.More++
}

func (e *BulkError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	if e.More > 0 {
		parts = append(parts, fmt.Sprintf("and %d more", e.More))
	}
	return "nothing was assigned: " + strings.Join(parts, "; ")
}

// IncompleteError is a bulk assignment that stopped part-way because the
// store failed. The cells in Assigned have their new officers; those in
// NotAssigned keep the ones they had. Sending the same assignment again
// finishes the job: assigning a cell that already has the officers writes
// the same thing again.
type IncompleteError struct {
	Assigned, NotAssigned []string
	Err                   error
}

func (e *IncompleteError) Error() string {
	return fmt.Sprintf("assigned %d cells (%s); %d not assigned (%s): %v",
		len(e.Assigned), strings.Join(e.Assigned, ", "), len(e.NotAssigned), strings.Join(e.NotAssigned, ", "), e.Err)
}

func (e *IncompleteError) Unwrap() error { return e.Err }

// AssignMany gives every cell of b the same officers, as Assign would one by
// one. Everything is checked first: at least one cell, every cell on the
// map, the officers enabled officer accounts, the primary not also the
// backup (nor, with KeepBackup, any cell's backup, which must still be an
// enabled officer). Any problem answers *BulkError naming all of them, and
// nothing is written. Then the cells are written in order; if the store
// fails, the cells written so far are announced, the failure is logged
// here, and *IncompleteError says which cells were assigned and which were
// not (with the ones assigned also returned).
//
// A cell's kept backup is read before the writes begin, so an Assign to
// the same cell at the same moment may be overwritten; the last writer
// wins, as with two Assigns.
func (s *Service) AssignMany(ctx context.Context, b BulkAssignment) ([]Assignment, error) {
	var bad BulkError
	cells, index := dedupe(b.Cells)
	switch {
	case len(cells) == 0:
		bad.add(Problem{Field: "cells", Index: -1, Reason: reasonNoCells})
	case len(cells) > MaxAssignCells:
		bad.add(Problem{Field: "cells", Index: -1, Reason: reasonTooManyCells})
		cells = nil
	}
	sn := s.snap.Load()
	for _, code := range cells {
		if _, ok := sn.index.Cell(code); !ok {
			bad.add(Problem{Field: "cells", Index: index[code], Cell: code, Reason: reasonNoSuchCell})
		}
	}
	// Officers are looked up once each, however many cells name them.
	seen := map[string]*OfficerRef{}
	officer := func(id string) (*OfficerRef, error) {
		if o, ok := seen[id]; ok {
			return o, nil
		}
		o, found, err := s.officer(ctx, id)
		if err != nil {
			return nil, err
		}
		var ref *OfficerRef
		if found && o.Eligible {
			ref = &OfficerRef{ID: o.ID, Name: o.Name}
		}
		seen[id] = ref
		return ref, nil
	}
	var primary, backup *OfficerRef
	var err error
	if b.PrimaryID == "" {
		bad.add(Problem{Field: "primary_id", Index: -1, Reason: reasonNoPrimary})
	} else if primary, err = officer(b.PrimaryID); err != nil {
		return nil, err
	} else if primary == nil {
		bad.add(Problem{Field: "primary_id", Index: -1, Reason: ErrNotOfficer.Error()})
	}
	switch {
	case b.BackupID != "" && b.KeepBackup:
		bad.add(Problem{Field: "backup_id", Index: -1, Reason: reasonKeepAndBackup})
	case b.BackupID != "" && b.BackupID == b.PrimaryID:
		bad.add(Problem{Field: "backup_id", Index: -1, Reason: ErrSameOfficer.Error()})
	case b.BackupID != "":
		if backup, err = officer(b.BackupID); err != nil {
			return nil, err
		} else if backup == nil {
			bad.add(Problem{Field: "backup_id", Index: -1, Reason: ErrNotOfficer.Error()})
		}
	}
	// Each cell's backup, as it will be written.
	backups := make(map[string]*OfficerRef, len(cells))
	for _, code := range cells {
		backups[code] = backup
		if !b.KeepBackup {
			continue
		}
		kept := sn.assignments[code].Backup
		if kept == nil {
			continue
		}
		if kept.ID == b.PrimaryID {
			bad.add(Problem{Field: "cells", Index: index[code], Cell: code, Reason: reasonBackupIsPrimary})
			continue
		}
		o, err := officer(kept.ID)
		if err != nil {
			return nil, err
		}
		if o == nil {
			bad.add(Problem{Field: "cells", Index: index[code], Cell: code, Reason: reasonBackupNotOfficer})
		}
		backups[code] = o
	}
	if len(bad.Problems) > 0 {
		return nil, &bad
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	// An import may have removed a cell while the officers were looked up.
	sn = s.snap.Load()
	for _, code := range cells {
		if _, ok := sn.index.Cell(code); !ok {
			bad.add(Problem{Field: "cells", Index: index[code], Cell: code, Reason: reasonNoSuchCell})
		}
	}
	if len(bad.Problems) > 0 {
		return nil, &bad
	}
	now := s.now()
	done := make([]Assignment, 0, len(cells))
	var failed error
	for _, code := range cells {
		a := Assignment{Code: code, Primary: primary, Backup: backups[code], UpdatedAt: now}
		if err := s.write(ctx, a); err != nil {
			failed = err
			break
		}
		done = append(done, a)
	}
	if len(done) > 0 {
		// What was written is announced even if the caller has gone: an
		// assignment stored but not announced would reach other instances
		// only with the next change.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err := s.announce(actx, now)
		cancel()
		if err != nil {
			s.log.Error("bulk assignment written but not announced", "cells", len(cells), "err", err)
			// Stored but in force nowhere: as good as not assigned, and
			// the same request again writes and announces them.
			return nil, &IncompleteError{NotAssigned: cells, Err: err}
		}
	}
	if failed != nil {
		s.log.Error("bulk assignment stopped part-way", "assigned", len(done), "not_assigned", len(cells)-len(done), "err", failed)
		ie := &IncompleteError{NotAssigned: cells[len(done):], Err: failed}
		for _, a := range done {
			ie.Assigned = append(ie.Assigned, a.Code)
		}
		return done, ie
	}
	return done, nil
}

// dedupe trims the codes and drops empty and repeated ones, keeping the
// order and each code's first position in the request.
func dedupe(codes []string) ([]string, map[string]int) {
	out := make([]string, 0, len(codes))
	index := make(map[string]int, len(codes))
	for i, c := range codes {
		c = strings.TrimSpace(c)
		if _, dup := index[c]; c == "" || dup {
			continue
		}
		index[c] = i
		out = append(out, c)
	}
	return out, index
}
