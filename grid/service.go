package grid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nuanxin/nuanxin/policy"
)

// Errors.
var (
	ErrCellNotFound = errors.New("no grid cell with that code")
	ErrNotOfficer   = errors.New("the account is not an enabled officer")
	ErrSameOfficer  = errors.New("the primary and the backup officer must be different people")
)

// Mode says how an import treats the cells already on the map.
type Mode string

// Import modes.
const (
	Replace Mode = "replace" // the file becomes the whole map
	Merge   Mode = "merge"   // cells in the file are added or replace those with the same code
)

// Roles is what the grid needs from the policy store: an officer holds the
// officer role in the domain of each cell they answer for.
type Roles interface {
	Grant(ctx context.Context, subject, role, domain string) error
	Revoke(ctx context.Context, subject, role, domain string) error
}

// Officer is what the grid needs to know of an account it assigns.
type Officer struct {
	ID       string
	Name     string
	Eligible bool // an enabled officer account
}

// OfficerLookup finds an account by id; it returns an error wrapping
// ErrNotOfficer-like conditions as Eligible=false rather than an error.
type OfficerLookup func(ctx context.Context, id string) (Officer, bool, error)

// snapshot is one consistent view of the map and its assignments.
type snapshot struct {
	version     string
	index       *Index
	assignments map[string]Assignment
}

// Service keeps the grid map: imports, officer assignments and Locate. Every
// instance holds the current map in memory and follows changes made by any
// instance (Watch), so all instances route the same way within seconds.
type Service struct {
	store   *store
	roles   Roles
	officer OfficerLookup
	log     *slog.Logger
	now     func() time.Time

	snap atomic.Pointer[snapshot]
	mu   sync.Mutex // serialises this instance's writes and reloads
}

// NewService builds the service; call Load before use.
func NewService(db *mongo.Database, roles Roles, officer OfficerLookup, log *slog.Logger) *Service {
	s := &Service{store: newStore(db), roles: roles, officer: officer, log: log, now: func() time.Time { return time.Now().UTC() }}
	s.snap.Store(&snapshot{index: NewIndex(nil), assignments: map[string]Assignment{}})
	return s
}

// Load reads the current map and assignments from the store.
func (s *Service) Load(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.load(ctx, false)
}

func (s *Service) load(ctx context.Context, onlyIfChanged bool) error {
	meta, err := s.store.current(ctx)
	if err != nil {
		return err
	}
	old := s.snap.Load()
	if onlyIfChanged && meta.Version == old.version {
		return nil
	}
	cells, err := s.store.cellsOf(ctx, meta.Rev)
	if err != nil {
		return err
	}
	as, err := s.store.assignmentsAll(ctx)
	if err != nil {
		return err
	}
	s.snap.Store(&snapshot{version: meta.Version, index: NewIndex(cells), assignments: as})
	return nil
}

// Watch reloads the map when another instance changed it, every interval,
// until ctx ends. A failed reload keeps the map in use.
func (s *Service) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.mu.Lock()
			err := s.load(ctx, true)
			s.mu.Unlock()
			if err != nil && ctx.Err() == nil {
				s.log.Warn("grid reload failed; keeping the map in use", "err", err)
			}
		}
	}
}

// Locate returns the cell containing the point; false means "unassigned".
func (s *Service) Locate(lat, lng float64) (Cell, bool) {
	return s.snap.Load().index.Locate(lat, lng)
}

// Index returns the map in use.
func (s *Service) Index() *Index { return s.snap.Load().index }

// CellView is a cell with who answers for it.
type CellView struct {
	Cell
	Assignment Assignment
}

// Cells lists the map's cells with their officers, by code.
func (s *Service) Cells() []CellView {
	sn := s.snap.Load()
	cells := sn.index.Cells()
	out := make([]CellView, len(cells))
	for i, c := range cells {
		a := sn.assignments[c.Code]
		a.Code = c.Code
		out[i] = CellView{Cell: c, Assignment: a}
	}
	return out
}

// Cell returns one cell with its officers, or ErrCellNotFound.
func (s *Service) Cell(code string) (CellView, error) {
	sn := s.snap.Load()
	c, ok := sn.index.Cell(code)
	if !ok {
		return CellView{}, ErrCellNotFound
	}
	a := sn.assignments[code]
	a.Code = code
	return CellView{Cell: c, Assignment: a}, nil
}

// ImportResult counts what an import changed.
type ImportResult struct {
	Cells   int `json:"cells" doc:"Cells on the map after the import"`
	Added   int `json:"added"`
	Updated int `json:"updated"`
	Removed int `json:"removed"`
}

// Import validates a GeoJSON FeatureCollection and makes it the map (Replace)
// or merges it in (Merge). Invalid input returns *ImportError and changes
// nothing. Officers of cells that a replace removes lose their role there.
//
// Two imports running at the same moment on different instances both write
// complete revisions; the last to switch the pointer wins, and a merge may
// then miss the other's cells. Imports are rare admin actions, so this is
// accepted rather than locked.
func (s *Service) Import(ctx context.Context, data []byte, mode Mode) (ImportResult, error) {
	if mode != Replace && mode != Merge {
		return ImportResult{}, fmt.Errorf("%w: mode must be replace or merge", errBadMode)
	}
	cells, err := ParseFeatureCollection(data)
	if err != nil {
		return ImportResult{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	meta, err := s.store.current(ctx)
	if err != nil {
		return ImportResult{}, err
	}
	existing, err := s.store.cellsOf(ctx, meta.Rev)
	if err != nil {
		return ImportResult{}, err
	}
	old := make(map[string]bool, len(existing))
	for _, c := range existing {
		old[c.Code] = true
	}
	var res ImportResult
	next := make(map[string]Cell, len(cells)+len(existing))
	if mode == Merge {
		for _, c := range existing {
			next[c.Code] = c
		}
	}
	for _, c := range cells {
		if old[c.Code] {
			res.Updated++
		} else {
			res.Added++
		}
		next[c.Code] = c
	}
	var removed []string
	for code := range old {
		if _, ok := next[code]; !ok {
			removed = append(removed, code)
		}
	}
	sort.Strings(removed)
	res.Removed = len(removed)
	if len(next) > MaxCells {
		return ImportResult{}, &ImportError{Problems: []FeatureError{{Index: -1, Reason: fmt.Sprintf("the merged map would have %d cells; at most %d are allowed", len(next), MaxCells)}}}
	}
	all := make([]Cell, 0, len(next))
	for _, c := range next {
		all = append(all, c)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Code < all[j].Code })
	res.Cells = len(all)

	now := s.now()
	rev := bson.NewObjectID().Hex()
	if err := s.store.writeRevision(ctx, rev, all, now); err != nil {
		// The half-written revision is not current; the next import removes it.
		return ImportResult{}, err
	}
	if err := s.store.setCurrent(ctx, rev, newVersion(), now); err != nil {
		return ImportResult{}, err
	}
	// From here the import has happened; tidying failures are logged.
	if err := s.store.dropRevisions(ctx, meta.Rev, rev, now.Add(-time.Hour)); err != nil {
		s.log.Warn("remove old grid revision", "err", err)
	}
	as, err := s.store.assignmentsAll(ctx)
	if err != nil {
		s.log.Warn("load assignments", "err", err)
	}
	for _, code := range removed {
		if a, ok := as[code]; ok {
			s.revokeAll(ctx, a)
			if err := s.store.deleteAssignment(ctx, code); err != nil {
				s.log.Warn("remove assignment of removed cell", "cell", code, "err", err)
			}
		}
	}
	if err := s.load(ctx, false); err != nil {
		s.log.Warn("reload grid after import", "err", err)
	}
	return res, nil
}

var errBadMode = errors.New("bad import mode")

func (s *Service) revokeAll(ctx context.Context, a Assignment) {
	for _, o := range []*OfficerRef{a.Primary, a.Backup} {
		if o == nil {
			continue
		}
		if err := s.roles.Revoke(ctx, policy.Subject(o.ID), policy.RoleOfficer, policy.CellDomain(a.Code)); err != nil {
			s.log.Warn("revoke officer role", "cell", a.Code, "officer", o.ID, "err", err)
		}
	}
}

// Assign makes primaryID the cell's primary officer and backupID (optional)
// its backup. Both must be enabled officer accounts. The new officers are
// granted the role before the assignment is written and the replaced ones
// lose it after, so a failure half-way leaves at worst an extra grant that a
// retry removes, never a cell whose officer cannot act.
func (s *Service) Assign(ctx context.Context, code, primaryID, backupID string) (Assignment, error) {
	if _, err := s.Cell(code); err != nil {
		return Assignment{}, err
	}
	if primaryID == "" {
		return Assignment{}, &FieldError{Field: "primary_id", Reason: "choose the primary officer"}
	}
	if primaryID == backupID {
		return Assignment{}, ErrSameOfficer
	}
	a := Assignment{Code: code, UpdatedAt: s.now()}
	var err error
	if a.Primary, err = s.eligible(ctx, "primary_id", primaryID); err != nil {
		return Assignment{}, err
	}
	if backupID != "" {
		if a.Backup, err = s.eligible(ctx, "backup_id", backupID); err != nil {
			return Assignment{}, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.write(ctx, a); err != nil {
		return Assignment{}, err
	}
	if err := s.announce(ctx, a.UpdatedAt); err != nil {
		return Assignment{}, err
	}
	return a, nil
}

// write stores one cell's assignment: the new officers get the role before
// the assignment is written and the replaced ones lose it after. The caller
// holds s.mu, and announces the change (announce) once it has written all
// it meant to: until then other instances, and this one's snapshot, still
// show the old officers.
func (s *Service) write(ctx context.Context, a Assignment) error {
	prev := s.snap.Load().assignments[a.Code]
	for _, o := range []*OfficerRef{a.Primary, a.Backup} {
		if o == nil {
			continue
		}
		if err := s.roles.Grant(ctx, policy.Subject(o.ID), policy.RoleOfficer, policy.CellDomain(a.Code)); err != nil {
			return err
		}
	}
	if err := s.store.putAssignment(ctx, a); err != nil {
		return err
	}
	keep := map[string]bool{a.Primary.ID: true}
	if a.Backup != nil {
		keep[a.Backup.ID] = true
	}
	for _, o := range []*OfficerRef{prev.Primary, prev.Backup} {
		if o != nil && !keep[o.ID] {
			if err := s.roles.Revoke(ctx, policy.Subject(o.ID), policy.RoleOfficer, policy.CellDomain(a.Code)); err != nil {
				s.log.Warn("revoke replaced officer", "cell", a.Code, "officer", o.ID, "err", err)
			}
		}
	}
	return nil
}

// announce tells every instance that assignments changed (a new version)
// and reloads this one's snapshot. The caller holds s.mu.
func (s *Service) announce(ctx context.Context, at time.Time) error {
	if err := s.store.setCurrent(ctx, "", newVersion(), at); err != nil {
		return err
	}
	if err := s.load(ctx, false); err != nil {
		s.log.Warn("reload grid after assignment", "err", err)
	}
	return nil
}

func (s *Service) eligible(ctx context.Context, field, id string) (*OfficerRef, error) {
	o, found, err := s.officer(ctx, id)
	if err != nil {
		return nil, err
	}
	if !found || !o.Eligible {
		return nil, &FieldError{Field: field, Reason: ErrNotOfficer.Error()}
	}
	return &OfficerRef{ID: o.ID, Name: o.Name}, nil
}

// CellsOf lists the codes of the cells where the officer is primary or backup.
func (s *Service) CellsOf(officerID string) []string {
	var out []string
	for code, a := range s.snap.Load().assignments {
		if (a.Primary != nil && a.Primary.ID == officerID) || (a.Backup != nil && a.Backup.ID == officerID) {
			out = append(out, code)
		}
	}
	sort.Strings(out)
	return out
}

// FieldError says which input field is wrong and why.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

func newVersion() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
