package accounts

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/storage"
	"github.com/nuanxin/nuanxin/storage/storagetest"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// failingRoles is a policy store that is down: the one case the real
// enforcer cannot be made to produce on demand.
type failingRoles struct{}

func (failingRoles) Grant(context.Context, string, string, string) error {
	return errors.New("policy store down")
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
	return NewService(db, en, storagetest.Logger()), en
}

// roles lists "role domain" pairs the user holds.
func roles(en *policy.Enforcer, userID string) []string {
	var out []string
	for _, r := range []string{policy.RoleRider, policy.RoleOfficer, policy.RoleStationAdmin, policy.RoleAdmin} {
		for _, d := range en.Domains(policy.Subject(userID), r) {
			out = append(out, r+" "+d)
		}
	}
	return out
}

func mustRegister(t *testing.T, s *Service, phone string) User {
	t.Helper()
	u, err := s.Register(context.Background(), RegisterInput{Phone: phone, DisplayName: "骑手", Password: "correct horse", Work: "courier", AcceptPrivacy: true})
	if err != nil {
		t.Fatalf("register %s: %v", phone, err)
	}
	return u
}

func TestRegister(t *testing.T) {
	s, g := mustService(t)
	u := mustRegister(t, s, "+86 138-0013-8000")
	if u.Login != "13800138000" || u.Kind != KindRider || u.Work != WorkCourier {
		t.Errorf("user = %+v", u)
	}
	if got := roles(g, u.ID); len(got) != 1 || got[0] != "rider *" {
		t.Errorf("roles = %v, want [rider *]", got)
	}
	_, err := s.Register(context.Background(), RegisterInput{Phone: "13800138000", DisplayName: "x", Password: "another pass", Work: "other", AcceptPrivacy: true})
	if !errors.Is(err, ErrLoginTaken) {
		t.Errorf("second registration: err = %v, want ErrLoginTaken", err)
	}
}

func TestRegisterRejects(t *testing.T) {
	s, _ := mustService(t)
	ok := RegisterInput{Phone: "13900139000", DisplayName: "小王", Password: "long enough", Work: "food_delivery", AcceptPrivacy: true}
	cases := []struct {
		name  string
		edit  func(*RegisterInput)
		field string
	}{
		{"landline", func(in *RegisterInput) { in.Phone = "073188888888" }, "phone"},
		{"too short", func(in *RegisterInput) { in.Phone = "1390013900" }, "phone"},
		{"starts 12", func(in *RegisterInput) { in.Phone = "12900139000" }, "phone"},
		{"empty name", func(in *RegisterInput) { in.DisplayName = "   " }, "display_name"},
		{"long name", func(in *RegisterInput) { in.DisplayName = strings.Repeat("名", 33) }, "display_name"},
		{"control char", func(in *RegisterInput) { in.DisplayName = "a\x00b" }, "display_name"},
		{"short password", func(in *RegisterInput) { in.Password = "1234567" }, "password"},
		{"password is phone", func(in *RegisterInput) { in.Password = "13900139000" }, "password"},
		{"unknown work", func(in *RegisterInput) { in.Work = "pilot" }, "work"},
		{"no consent", func(in *RegisterInput) { in.AcceptPrivacy = false }, "accept_privacy"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := ok
			c.edit(&in)
			_, err := s.Register(context.Background(), in)
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != c.field {
				t.Fatalf("err = %v, want a ValidationError on %s", err, c.field)
			}
			if ve.Reason == "" {
				t.Error("empty reason")
			}
		})
	}
	if _, err := s.ByLogin(context.Background(), ok.Phone); !errors.Is(err, ErrNotFound) {
		t.Errorf("a rejected registration left an account: %v", err)
	}
}

// A form with every field wrong gets every field's reason at once, in the
// form's order, and nothing is stored.
func TestRegisterNamesEveryWrongField(t *testing.T) {
	s, _ := mustService(t)
	_, err := s.Register(context.Background(), RegisterInput{Phone: "12345", DisplayName: " ", Password: "short", Work: "pilot"})
	var all ValidationErrors
	if !errors.As(err, &all) {
		t.Fatalf("err = %v (%T), want ValidationErrors", err, err)
	}
	var fields []string
	for _, v := range all {
		fields = append(fields, v.Field)
	}
	want := []string{"phone", "display_name", "password", "work", "accept_privacy"}
	if !slices.Equal(fields, want) {
		t.Errorf("fields %v, want %v", fields, want)
	}
	if _, err := s.ByLogin(context.Background(), "12345"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a rejected registration left an account: %v", err)
	}
}

// The account keeps which privacy notice its owner agreed to, and when.
func TestRegisterRecordsConsent(t *testing.T) {
	s, _ := mustService(t)
	u := mustRegister(t, s, "13900139077")
	got, err := s.Get(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Privacy == nil || got.Privacy.Version != PrivacyVersion || got.Privacy.At.IsZero() {
		t.Fatalf("stored consent %+v, want version %s with a time", got.Privacy, PrivacyVersion)
	}
}

func TestRegisterUndoneWhenGrantFails(t *testing.T) {
	s, _ := mustService(t)
	s.roles = failingRoles{}
	_, err := s.Register(context.Background(), RegisterInput{Phone: "13700137000", DisplayName: "x", Password: "long enough", Work: "other", AcceptPrivacy: true})
	if err == nil {
		t.Fatal("registration succeeded though the role could not be granted")
	}
	if _, err := s.ByLogin(context.Background(), "13700137000"); !errors.Is(err, ErrNotFound) {
		t.Errorf("account left without its role: %v", err)
	}
}

func TestLoginAuthenticateLogout(t *testing.T) {
	ctx := context.Background()
	s, _ := mustService(t)
	u := mustRegister(t, s, "13600136000")
	sess, err := s.Login(ctx, "136 0013 6000", "correct horse", "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Authenticate(ctx, sess.Token)
	if err != nil || p.UserID != u.ID || p.Kind != "rider" {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}
	if _, err := s.Authenticate(ctx, sess.Token+"x"); !errors.Is(err, policy.ErrUnauthenticated) {
		t.Errorf("tampered token: err = %v", err)
	}
	if err := s.Logout(ctx, sess.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, sess.Token); !errors.Is(err, policy.ErrUnauthenticated) {
		t.Errorf("after logout: err = %v, want ErrUnauthenticated", err)
	}
	if _, err := s.Login(ctx, "13600136000", "wrong password", "10.0.0.1"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("wrong password: err = %v", err)
	}
	if _, err := s.Login(ctx, "13500135000", "whatever1", "10.0.0.1"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("unknown account: err = %v, want the same error as a wrong password", err)
	}
}

func TestSessionExpires(t *testing.T) {
	ctx := context.Background()
	s, _ := mustService(t)
	mustRegister(t, s, "13600136001")
	sess, err := s.Login(ctx, "13600136001", "correct horse", "")
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return time.Now().UTC().Add(SessionTTL + time.Minute) }
	if _, err := s.Authenticate(ctx, sess.Token); !errors.Is(err, policy.ErrUnauthenticated) {
		t.Errorf("expired session: err = %v", err)
	}
}

func TestDisableEndsSessionsAtOnce(t *testing.T) {
	ctx := context.Background()
	s, _ := mustService(t)
	u := mustRegister(t, s, "13600136002")
	sess, err := s.Login(ctx, "13600136002", "correct horse", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetDisabled(ctx, "admin-id", u.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, sess.Token); !errors.Is(err, policy.ErrUnauthenticated) {
		t.Errorf("disabled account's session still works: %v", err)
	}
	if _, err := s.Login(ctx, "13600136002", "correct horse", ""); !errors.Is(err, ErrDisabled) {
		t.Errorf("disabled login: err = %v, want ErrDisabled", err)
	}
	if _, err := s.SetDisabled(ctx, u.ID, u.ID, true); !errors.Is(err, ErrSelf) {
		t.Errorf("self-disable: err = %v, want ErrSelf", err)
	}
	if _, err := s.SetDisabled(ctx, "admin-id", "nobody", true); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown account: err = %v, want ErrNotFound", err)
	}
}

func TestEnsureAdmin(t *testing.T) {
	ctx := context.Background()
	s, g := mustService(t)
	created, pw, err := s.EnsureAdmin(ctx, "")
	if err != nil || !created || len(pw) < 12 {
		t.Fatalf("first: created=%v pw=%q err=%v", created, pw, err)
	}
	if _, err := s.Login(ctx, "admin", pw, ""); err != nil {
		t.Errorf("generated password does not log in: %v", err)
	}
	created, _, err = s.EnsureAdmin(ctx, "other-password")
	if err != nil || created {
		t.Errorf("second: created=%v err=%v, want no-op", created, err)
	}
	admin, err := s.ByLogin(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if got := roles(g, admin.ID); len(got) != 1 || got[0] != "admin *" {
		t.Errorf("roles = %v, want [admin *]", got)
	}
}

func TestCreateStaff(t *testing.T) {
	s, g := mustService(t)
	u, err := s.CreateStaff(context.Background(), StaffInput{Username: "Officer1", DisplayName: "王芳", Password: "long enough", Kind: "officer"})
	if err != nil {
		t.Fatal(err)
	}
	if u.Login != "officer1" || u.Kind != KindOfficer {
		t.Errorf("user = %+v", u)
	}
	if got := roles(g, u.ID); len(got) != 0 {
		t.Errorf("an officer got roles %v at creation; officers hold roles in the cells they are assigned", got)
	}
	_, err = s.CreateStaff(context.Background(), StaffInput{Username: "13800138000", DisplayName: "x", Password: "long enough", Kind: "officer"})
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Field != "username" {
		t.Errorf("phone-like username: err = %v", err)
	}
	_, err = s.CreateStaff(context.Background(), StaffInput{Username: "sneaky", DisplayName: "x", Password: "long enough", Kind: "rider"})
	if !errors.As(err, &ve) || ve.Field != "kind" {
		t.Errorf("rider via staff: err = %v", err)
	}
}

// FuzzRegistrationInput checks the registration validators never panic and
// that whatever they accept is in canonical, bounded form.
func FuzzRegistrationInput(f *testing.F) {
	f.Add("13800138000", "骑手小赵", "correct horse", "food_delivery")
	f.Add("+86 138 0013 8000", " 名 ", "12345678", "courier")
	f.Add("0086-13800138000", "\x00", "", "ride_hailing")
	f.Add("１３８００１３８０００", strings.Repeat("長", 40), strings.Repeat("p", 200), "other")
	f.Add("", "\xff\xfe", "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8", "")
	f.Fuzz(func(t *testing.T, phone, name, password, work string) {
		if p, err := NormalizePhone(phone); err == nil {
			if !phoneRe.MatchString(p) {
				t.Errorf("NormalizePhone(%q) = %q, not canonical", phone, p)
			}
		}
		if n, err := CleanDisplayName(name); err == nil {
			if c := utf8.RuneCountInString(n); c < 1 || c > 32 || !utf8.ValidString(n) || strings.TrimSpace(n) != n {
				t.Errorf("CleanDisplayName(%q) = %q accepted", name, n)
			}
		}
		if err := CheckPassword(password, phone); err == nil && (utf8.RuneCountInString(password) < 8 || len(password) > 128) {
			t.Errorf("CheckPassword accepted %q", password)
		}
		if w, err := ParseWork(work); err == nil && string(w) != work {
			t.Errorf("ParseWork(%q) = %q", work, w)
		}
	})
}

// TestLoginByRecordedLogin: logging in finds the account through the
// logins record by _id; a missing or stale record (an account made before
// records existed, a record naming another account) still logs the right
// account in, and the record is mended.
func TestLoginByRecordedLogin(t *testing.T) {
	ctx := context.Background()
	s, _ := mustService(t)
	u := mustRegister(t, s, "13800138123")
	other := mustRegister(t, s, "13800138124")
	var rec loginDoc
	if err := s.store.logins.FindOne(ctx, bson.D{{Key: "_id", Value: u.Login}}).Decode(&rec); err != nil || rec.UserID != u.ID {
		t.Fatalf("after registering, the login record is %+v (%v), want the account", rec, err)
	}
	for name, spoil := range map[string]func(){
		"missing": func() { _, _ = s.store.logins.DeleteOne(ctx, bson.D{{Key: "_id", Value: u.Login}}) },
		"stale": func() {
			_, _ = s.store.logins.ReplaceOne(ctx, bson.D{{Key: "_id", Value: u.Login}}, loginDoc{Login: u.Login, UserID: other.ID})
		},
	} {
		spoil()
		sess, err := s.Login(ctx, u.Login, "correct horse", "10.0.0.1")
		if err != nil || sess.User.ID != u.ID {
			t.Fatalf("%s record: login = %+v, %v; want %s", name, sess.User, err, u.ID)
		}
		if err := s.store.logins.FindOne(ctx, bson.D{{Key: "_id", Value: u.Login}}).Decode(&rec); err != nil || rec.UserID != u.ID {
			t.Errorf("%s record: after login it is %+v (%v), want mended", name, rec, err)
		}
	}
	if _, err := s.ByLogin(ctx, "13900000000"); !errors.Is(err, ErrNotFound) {
		t.Errorf("an unknown login: %v, want ErrNotFound", err)
	}
}
