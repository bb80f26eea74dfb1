package grid

import (
	"context"
	"errors"
	"testing"

	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/storage"
	"github.com/nuanxin/nuanxin/storage/storagetest"
)

// officers is a fixed directory of accounts for the lookup the service needs.
var officers = map[string]Officer{
	"o1":  {ID: "o1", Name: "王芳", Eligible: true},
	"o2":  {ID: "o2", Name: "李强", Eligible: true},
	"o3":  {ID: "o3", Name: "张伟", Eligible: true},
	"off": {ID: "off", Name: "停用", Eligible: false},
}

func lookup(_ context.Context, id string) (Officer, bool, error) {
	o, ok := officers[id]
	return o, ok, nil
}

func mustService(t *testing.T) (*Service, *policy.Enforcer) {
	t.Helper()
	ctx := context.Background()
	db := storagetest.Docs(t)
	if err := storage.EnsureIndexes(ctx, db, append(Indexes(), policy.Indexes()...)); err != nil {
		t.Fatal(err)
	}
	en, err := policy.NewEnforcer(ctx, db, storagetest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	s := NewService(db, en, lookup, storagetest.Logger())
	if err := s.Load(ctx); err != nil {
		t.Fatal(err)
	}
	return s, en
}

func mustImport(t *testing.T, s *Service, cells []Cell, mode Mode) ImportResult {
	t.Helper()
	data, err := MarshalFeatureCollection(cells)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Import(context.Background(), data, mode)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return res
}

func codes(s *Service) []string {
	var out []string
	for _, c := range s.Cells() {
		out = append(out, c.Code)
	}
	return out
}

func TestImportReplaceAndMerge(t *testing.T) {
	s, _ := mustService(t)
	res := mustImport(t, s, GridCells("A", "d", 112.9, 28.1, 0.01, 2, 2), Replace)
	if res != (ImportResult{Cells: 4, Added: 4}) {
		t.Errorf("first import = %+v", res)
	}
	res = mustImport(t, s, GridCells("B", "d", 113.0, 28.1, 0.01, 1, 1), Merge)
	if res != (ImportResult{Cells: 5, Added: 1}) {
		t.Errorf("merge = %+v", res)
	}
	if c, ok := s.Locate(28.105, 113.005); !ok || c.Code != "B-0001" {
		t.Errorf("merged cell not located: %v %v", c.Code, ok)
	}
	res = mustImport(t, s, GridCells("A", "d", 112.9, 28.1, 0.01, 1, 1), Replace)
	if res != (ImportResult{Cells: 1, Updated: 1, Removed: 4}) {
		t.Errorf("replace = %+v", res)
	}
	if got := codes(s); len(got) != 1 || got[0] != "A-0001" {
		t.Errorf("cells after replace = %v", got)
	}
	if _, ok := s.Locate(28.105, 113.005); ok {
		t.Error("a replaced-away cell still locates")
	}
}

func TestInvalidImportChangesNothing(t *testing.T) {
	s, _ := mustService(t)
	mustImport(t, s, GridCells("A", "d", 112.9, 28.1, 0.01, 2, 1), Replace)
	bad := []byte(`{"type":"FeatureCollection","features":[
	 {"type":"Feature","properties":{"code":"N-1","name":"ok"},"geometry":{"type":"Polygon","coordinates":[[[112,28],[112.1,28],[112.1,28.1],[112,28]]]}},
	 {"type":"Feature","properties":{"code":"N-2","name":"open ring"},"geometry":{"type":"Polygon","coordinates":[[[112,28],[112.1,28],[112.1,28.1],[112,28.1]]]}}]}`)
	_, err := s.Import(context.Background(), bad, Replace)
	var ie *ImportError
	if !errors.As(err, &ie) || len(ie.Problems) != 1 || ie.Problems[0].Index != 1 {
		t.Fatalf("err = %v, want one problem at feature 1", err)
	}
	if got := codes(s); len(got) != 2 || got[0] != "A-0001" {
		t.Errorf("cells after a rejected import = %v, want the old map", got)
	}
	if _, err := s.Import(context.Background(), []byte(`{}`), "sideways"); err == nil {
		t.Error("unknown mode accepted")
	}
}

func TestAssign(t *testing.T) {
	ctx := context.Background()
	s, en := mustService(t)
	mustImport(t, s, GridCells("A", "d", 112.9, 28.1, 0.01, 2, 1), Replace)
	a, err := s.Assign(ctx, "A-0001", "o1", "o2")
	if err != nil {
		t.Fatal(err)
	}
	if a.Primary.Name != "王芳" || a.Backup.ID != "o2" {
		t.Errorf("assignment = %+v", a)
	}
	for _, id := range []string{"o1", "o2"} {
		if !en.Allowed(policy.Subject(id), true, "grid:read", policy.CellDomain("A-0001")) {
			t.Errorf("%s cannot act in its cell", id)
		}
		if en.Allowed(policy.Subject(id), true, "grid:read", policy.CellDomain("A-0002")) {
			t.Errorf("%s can act in a cell it was not given", id)
		}
	}
	// Replacing the backup takes the role from the old one.
	if _, err := s.Assign(ctx, "A-0001", "o1", "o3"); err != nil {
		t.Fatal(err)
	}
	if en.Allowed(policy.Subject("o2"), true, "grid:read", policy.CellDomain("A-0001")) {
		t.Error("replaced backup keeps the officer role")
	}
	if got := s.CellsOf("o1"); len(got) != 1 || got[0] != "A-0001" {
		t.Errorf("CellsOf(o1) = %v", got)
	}

	var fe *FieldError
	for _, c := range []struct{ name, code, p, b, field string }{
		{"no primary", "A-0002", "", "o1", "primary_id"},
		{"disabled primary", "A-0002", "off", "", "primary_id"},
		{"unknown backup", "A-0002", "o1", "ghost", "backup_id"},
	} {
		if _, err := s.Assign(ctx, c.code, c.p, c.b); !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%s: err = %v, want a FieldError on %s", c.name, err, c.field)
		}
	}
	if _, err := s.Assign(ctx, "A-0002", "o1", "o1"); !errors.Is(err, ErrSameOfficer) {
		t.Errorf("same officer twice: err = %v", err)
	}
	if _, err := s.Assign(ctx, "Z-9", "o1", ""); !errors.Is(err, ErrCellNotFound) {
		t.Errorf("unknown cell: err = %v", err)
	}

	// A replace that drops the cell removes its officers' role there.
	mustImport(t, s, GridCells("B", "d", 112.9, 28.1, 0.01, 1, 1), Replace)
	if en.Allowed(policy.Subject("o1"), true, "grid:read", policy.CellDomain("A-0001")) {
		t.Error("officer keeps the role in a cell that no longer exists")
	}
	if got := s.CellsOf("o1"); len(got) != 0 {
		t.Errorf("CellsOf(o1) after the cell was removed = %v", got)
	}
}

// A map imported through one service is picked up by another on the same
// store, as a second server instance would.
func TestWatchPicksUpOtherInstance(t *testing.T) {
	ctx := context.Background()
	s, _ := mustService(t)
	other := NewService(s.store.cells.Database(), nil, lookup, storagetest.Logger())
	if err := other.Load(ctx); err != nil {
		t.Fatal(err)
	}
	mustImport(t, s, GridCells("A", "d", 112.9, 28.1, 0.01, 1, 1), Replace)
	if other.Index().Len() != 0 {
		t.Fatal("other instance changed without a reload")
	}
	other.mu.Lock()
	err := other.load(ctx, true)
	other.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := other.Locate(28.105, 112.905); !ok {
		t.Error("other instance does not locate in the new map after its reload")
	}
}
