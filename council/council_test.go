package council

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/storage"
	"github.com/nuanxin/nuanxin/storage/storagetest"
)

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
	isAdmin := func(_ context.Context, id string) (bool, error) { return id == "sa1" || id == "sa2", nil }
	return NewService(db, en, isAdmin, storagetest.Logger()), en
}

func TestCreateAndList(t *testing.T) {
	ctx := context.Background()
	s, _ := mustService(t)
	st, err := s.Create(ctx, NewStation{Name: " 五一广场暖新驿站 ", Address: "芙蓉区", Lat: 28.196, Lng: 112.977})
	if err != nil {
		t.Fatal(err)
	}
	if st.Name != "五一广场暖新驿站" {
		t.Errorf("name = %q, want it trimmed", st.Name)
	}
	if _, err := s.Create(ctx, NewStation{Name: "五一广场暖新驿站", Lat: 28, Lng: 112}); !errors.Is(err, ErrNameTaken) {
		t.Errorf("duplicate name: err = %v, want ErrNameTaken", err)
	}
	got, err := s.List(ctx)
	if err != nil || len(got) != 1 || got[0].ID != st.ID {
		t.Errorf("List = %v, %v", got, err)
	}
	if _, err := s.Get(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get unknown: err = %v", err)
	}
}

func TestCreateRejects(t *testing.T) {
	s, _ := mustService(t)
	for _, c := range []struct {
		name  string
		in    NewStation
		field string
	}{
		{"no name", NewStation{Name: "  ", Lat: 28, Lng: 112}, "name"},
		{"long address", NewStation{Name: "a", Address: string(make([]rune, 201)), Lat: 28, Lng: 112}, "address"},
		{"lat out of range", NewStation{Name: "a", Lat: 91, Lng: 112}, "lat"},
		{"lng NaN", NewStation{Name: "a", Lat: 28, Lng: math.NaN()}, "lng"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.Create(context.Background(), c.in)
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != c.field {
				t.Errorf("err = %v, want a ValidationError on %s", err, c.field)
			}
		})
	}
}

func TestAddAdmin(t *testing.T) {
	ctx := context.Background()
	s, en := mustService(t)
	st, err := s.Create(ctx, NewStation{Name: "橘子洲司机之家", Lat: 28.187, Lng: 112.96})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // adding twice is a no-op
		if st, err = s.AddAdmin(ctx, st.ID, "sa1"); err != nil {
			t.Fatal(err)
		}
	}
	if len(st.Admins) != 1 || st.Admins[0] != "sa1" {
		t.Errorf("admins = %v, want [sa1]", st.Admins)
	}
	if got := en.Domains(policy.Subject("sa1"), policy.RoleStationAdmin); len(got) != 1 || got[0] != policy.StationDomain(st.ID) {
		t.Errorf("station admin domains = %v", got)
	}
	var ve *ValidationError
	if _, err := s.AddAdmin(ctx, st.ID, "rider9"); !errors.As(err, &ve) {
		t.Errorf("non station-admin account: err = %v, want ValidationError", err)
	}
	if _, err := s.AddAdmin(ctx, "missing", "sa2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown station: err = %v", err)
	}
}
