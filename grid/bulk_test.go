package grid

import (
	"context"
	"errors"
	"reflect"
	"sort"
	"testing"

	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/storage/storagetest"
)

// stored reads the assignments from the store itself, as another instance
// starting now would see them.
func stored(t *testing.T, s *Service) map[string]Assignment {
	t.Helper()
	as, err := s.store.assignmentsAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return as
}

// primaries lists "cell=primary/backup" for every stored assignment.
func primaries(t *testing.T, s *Service) []string {
	t.Helper()
	var out []string
	for code, a := range stored(t, s) {
		v := code + "=" + a.Primary.ID
		if a.Backup != nil {
			v += "/" + a.Backup.ID
		}
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

func TestAssignMany(t *testing.T) {
	ctx := context.Background()
	s, en := mustService(t)
	mustImport(t, s, GridCells("A", "d", 112.9, 28.1, 0.01, 3, 1), Replace)

	done, err := s.AssignMany(ctx, BulkAssignment{Cells: []string{"A-0001", " A-0003 ", "A-0001", ""}, PrimaryID: "o1", BackupID: "o2"})
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != 2 || done[0].Code != "A-0001" || done[1].Code != "A-0003" || done[1].Primary.Name != "王芳" || done[1].Backup.ID != "o2" {
		t.Errorf("assigned %+v, want A-0001 and A-0003 (repeats and blanks dropped) with o1 and o2", done)
	}
	if got, want := primaries(t, s), []string{"A-0001=o1/o2", "A-0003=o1/o2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("stored %v, want %v", got, want)
	}
	if got := s.CellsOf("o2"); !reflect.DeepEqual(got, []string{"A-0001", "A-0003"}) {
		t.Errorf("CellsOf(o2) = %v: the service's map was not reloaded", got)
	}
	for _, code := range []string{"A-0001", "A-0003"} {
		if !en.Allowed(policy.Subject("o1"), true, "grid:read", policy.CellDomain(code)) {
			t.Errorf("o1 cannot act in %s", code)
		}
	}

	// Keeping each cell's backup: A-0001 keeps o2, A-0002 has none.
	if _, err := s.AssignMany(ctx, BulkAssignment{Cells: []string{"A-0001", "A-0002"}, PrimaryID: "o3", KeepBackup: true}); err != nil {
		t.Fatal(err)
	}
	if got, want := primaries(t, s), []string{"A-0001=o3/o2", "A-0002=o3", "A-0003=o1/o2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("after keeping backups: stored %v, want %v", got, want)
	}
	if en.Allowed(policy.Subject("o1"), true, "grid:read", policy.CellDomain("A-0001")) {
		t.Error("the replaced primary keeps the officer role")
	}

	// "No backup" takes the backup away.
	if _, err := s.AssignMany(ctx, BulkAssignment{Cells: []string{"A-0001"}, PrimaryID: "o3"}); err != nil {
		t.Fatal(err)
	}
	if a := stored(t, s)["A-0001"]; a.Backup != nil {
		t.Errorf("A-0001 keeps backup %+v after an assignment with no backup", a.Backup)
	}
	if en.Allowed(policy.Subject("o2"), true, "grid:read", policy.CellDomain("A-0001")) {
		t.Error("the removed backup keeps the officer role")
	}
}

// Every problem of a bulk assignment is named at once and nothing is
// written, not even for the cells that were fine.
func TestAssignManyRefusesWholly(t *testing.T) {
	ctx := context.Background()
	s, en := mustService(t)
	mustImport(t, s, GridCells("A", "d", 112.9, 28.1, 0.01, 3, 1), Replace)
	if _, err := s.AssignMany(ctx, BulkAssignment{Cells: []string{"A-0002"}, PrimaryID: "o1", BackupID: "o2"}); err != nil {
		t.Fatal(err)
	}
	before := primaries(t, s)

	type want struct {
		field string
		index int
		cell  string
	}
	for _, c := range []struct {
		name string
		b    BulkAssignment
		want []want
	}{
		{"nothing chosen", BulkAssignment{}, []want{{"cells", -1, ""}, {"primary_id", -1, ""}}},
		{"unknown cells and a disabled primary", BulkAssignment{Cells: []string{"A-0001", "Z-1", "A-0003", "Z-2"}, PrimaryID: "off"},
			[]want{{"cells", 1, "Z-1"}, {"cells", 3, "Z-2"}, {"primary_id", -1, ""}}},
		{"same officer twice", BulkAssignment{Cells: []string{"A-0001"}, PrimaryID: "o1", BackupID: "o1"}, []want{{"backup_id", -1, ""}}},
		{"unknown backup", BulkAssignment{Cells: []string{"A-0001"}, PrimaryID: "o1", BackupID: "ghost"}, []want{{"backup_id", -1, ""}}},
		{"backup and keep", BulkAssignment{Cells: []string{"A-0001"}, PrimaryID: "o1", BackupID: "o3", KeepBackup: true}, []want{{"backup_id", -1, ""}}},
		// A-0002's backup is o2, who would be its primary too.
		{"kept backup is the primary", BulkAssignment{Cells: []string{"A-0001", "A-0002"}, PrimaryID: "o2", KeepBackup: true}, []want{{"cells", 1, "A-0002"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.AssignMany(ctx, c.b)
			var be *BulkError
			if !errors.As(err, &be) {
				t.Fatalf("err = %v, want a *BulkError", err)
			}
			var got []want
			for _, p := range be.Problems {
				got = append(got, want{p.Field, p.Index, p.Cell})
				if p.Reason == "" {
					t.Errorf("problem %+v has no reason", p)
				}
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("problems %+v, want %+v", be.Problems, c.want)
			}
			if after := primaries(t, s); !reflect.DeepEqual(after, before) {
				t.Errorf("stored %v after a refused assignment, want %v", after, before)
			}
			if en.Allowed(policy.Subject("o3"), true, "grid:read", policy.CellDomain("A-0001")) {
				t.Error("a refused assignment granted a role")
			}
		})
	}

	t.Run("kept backup no longer an officer", func(t *testing.T) {
		officers["gone"] = Officer{ID: "gone", Name: "离职", Eligible: true}
		t.Cleanup(func() { delete(officers, "gone") })
		if _, err := s.AssignMany(ctx, BulkAssignment{Cells: []string{"A-0003"}, PrimaryID: "o1", BackupID: "gone"}); err != nil {
			t.Fatal(err)
		}
		officers["gone"] = Officer{ID: "gone", Name: "离职", Eligible: false}
		before := primaries(t, s)
		_, err := s.AssignMany(ctx, BulkAssignment{Cells: []string{"A-0001", "A-0003"}, PrimaryID: "o3", KeepBackup: true})
		var be *BulkError
		if !errors.As(err, &be) || len(be.Problems) != 1 || be.Problems[0].Cell != "A-0003" || be.Problems[0].Reason != reasonBackupNotOfficer {
			t.Fatalf("err = %v, want one problem: A-0003's backup is no longer an officer", err)
		}
		if after := primaries(t, s); !reflect.DeepEqual(after, before) {
			t.Errorf("stored %v after a refused assignment, want %v", after, before)
		}
	})
}

// failingRoles is the real policy store, except that granting the role in
// one cell ends the caller's context once the grant is made, so the
// assignment's own write that follows really fails in the store driver, as
// when the store goes away in the middle of a bulk assignment.
type failingRoles struct {
	Roles
	failIn string // a cell's policy domain
	cancel context.CancelFunc
}

func (f *failingRoles) Grant(ctx context.Context, subject, role, domain string) error {
	err := f.Roles.Grant(ctx, subject, role, domain)
	if domain == f.failIn && f.cancel != nil {
		f.cancel()
	}
	return err
}

// A bulk assignment that the store stops part-way says which cells were
// assigned and which were not, the assigned ones are in force, and the same
// request again finishes the job.
func TestAssignManyStoreFailsPartWay(t *testing.T) {
	s, en := mustService(t)
	mustImport(t, s, GridCells("A", "d", 112.9, 28.1, 0.01, 5, 1), Replace)
	cells := []string{"A-0001", "A-0002", "A-0003", "A-0004", "A-0005"}
	req := BulkAssignment{Cells: cells, PrimaryID: "o1", BackupID: "o2"}

	ctx, cancel := context.WithCancel(context.Background())
	s.roles = &failingRoles{Roles: en, failIn: policy.CellDomain("A-0003"), cancel: cancel}
	done, err := s.AssignMany(ctx, req)
	var inc *IncompleteError
	if !errors.As(err, &inc) {
		t.Fatalf("err = %v, want an *IncompleteError", err)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want it to wrap the store's error", err)
	}
	if want := []string{"A-0001", "A-0002"}; !reflect.DeepEqual(inc.Assigned, want) || len(done) != 2 {
		t.Errorf("assigned %v (%d returned), want %v", inc.Assigned, len(done), want)
	}
	if want := []string{"A-0003", "A-0004", "A-0005"}; !reflect.DeepEqual(inc.NotAssigned, want) {
		t.Errorf("not assigned %v, want %v", inc.NotAssigned, want)
	}
	// What the error says is what the store holds, and what this instance
	// and a new one route by.
	if got, want := primaries(t, s), []string{"A-0001=o1/o2", "A-0002=o1/o2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("stored %v, want %v", got, want)
	}
	if got := s.CellsOf("o1"); !reflect.DeepEqual(got, []string{"A-0001", "A-0002"}) {
		t.Errorf("this instance has o1 in %v, want A-0001 and A-0002", got)
	}
	other := NewService(s.store.cells.Database(), en, lookup, storagetest.Logger())
	if err := other.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := other.CellsOf("o1"); !reflect.DeepEqual(got, []string{"A-0001", "A-0002"}) {
		t.Errorf("another instance has o1 in %v, want A-0001 and A-0002", got)
	}

	// The same request again, with the store back.
	s.roles = en
	done, err = s.AssignMany(context.Background(), req)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if len(done) != 5 {
		t.Errorf("retry assigned %d cells, want 5", len(done))
	}
	want := []string{"A-0001=o1/o2", "A-0002=o1/o2", "A-0003=o1/o2", "A-0004=o1/o2", "A-0005=o1/o2"}
	if got := primaries(t, s); !reflect.DeepEqual(got, want) {
		t.Errorf("after the retry stored %v, want %v", got, want)
	}
	for _, code := range cells {
		for _, id := range []string{"o1", "o2"} {
			if !en.Allowed(policy.Subject(id), true, "grid:read", policy.CellDomain(code)) {
				t.Errorf("after the retry %s cannot act in %s", id, code)
			}
		}
	}
	if err := other.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := other.CellsOf("o2"); !reflect.DeepEqual(got, cells) {
		t.Errorf("after the retry another instance has o2 in %v, want all five", got)
	}
}
