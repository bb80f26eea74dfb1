package accounts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/nuanxin/nuanxin/policy"
)

// An admin's reset: the old password and sessions stop working, the
// temporary one works only to choose a new password, and the new one works.
func TestResetThenChangePassword(t *testing.T) {
	ctx := context.Background()
	s, _ := mustService(t)
	u := mustRegister(t, s, "13900139101") // password "correct horse"
	old, err := s.Login(ctx, u.Login, "correct horse", "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}

	if _, _, err := s.ResetPassword(ctx, u.ID, u.ID, ""); !errors.Is(err, ErrSelfReset) {
		t.Fatalf("resetting one's own password: err = %v, want ErrSelfReset", err)
	}
	if _, _, err := s.ResetPassword(ctx, "admin-id", "nobody", ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("resetting an unknown account: err = %v, want ErrNotFound", err)
	}
	got, temp, err := s.ResetPassword(ctx, "admin-id", u.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(temp) != 12 || strings.ContainsAny(temp, "0189") || !got.MustChangePassword {
		t.Fatalf("temporary password %q, must change %v", temp, got.MustChangePassword)
	}
	if _, err := s.Authenticate(ctx, old.Token); !errors.Is(err, policy.ErrUnauthenticated) {
		t.Errorf("a session from before the reset still works: %v", err)
	}
	if _, err := s.Login(ctx, u.Login, "correct horse", "10.0.0.1"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("the old password after the reset: err = %v, want ErrBadCredentials", err)
	}
	sess, err := s.Login(ctx, u.Login, temp, "10.0.0.1")
	if err != nil {
		t.Fatalf("log in with the temporary password: %v", err)
	}
	p, err := s.Authenticate(ctx, sess.Token)
	if err != nil || !p.MustChangePassword {
		t.Fatalf("principal %+v, %v: want MustChangePassword", p, err)
	}

	var ves ValidationErrors
	err = s.ChangePassword(ctx, u.ID, "not it", "brand new pass", sess.Token)
	if !errors.As(err, &ves) || ves[0].Field != "current_password" {
		t.Fatalf("wrong current password: err = %v", err)
	}
	if err := s.ChangePassword(ctx, u.ID, temp, temp, sess.Token); !errors.As(err, &ves) || ves[0].Field != "password" {
		t.Fatalf("the same password again: err = %v", err)
	}
	if err := s.ChangePassword(ctx, u.ID, temp, "short", sess.Token); !errors.As(err, &ves) || ves[0].Field != "password" {
		t.Fatalf("a short password: err = %v", err)
	}
	other, err := s.Login(ctx, u.Login, temp, "10.0.0.2") // another phone
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ChangePassword(ctx, u.ID, temp, "brand new pass", sess.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, other.Token); !errors.Is(err, policy.ErrUnauthenticated) {
		t.Errorf("the other phone's session outlived the password change: %v", err)
	}
	if p, err := s.Authenticate(ctx, sess.Token); err != nil || p.MustChangePassword {
		t.Fatalf("after the change: principal %+v, %v; the session goes on, unrestricted", p, err)
	}
	if _, err := s.Login(ctx, u.Login, temp, "10.0.0.1"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("the temporary password after the change: err = %v", err)
	}
	if _, err := s.Login(ctx, u.Login, "brand new pass", "10.0.0.1"); err != nil {
		t.Errorf("the new password: %v", err)
	}
}

// Logins with the old password racing a reset: whichever way each race
// goes, no session opened with the old password outlives the reset.
func TestResetRacingLogins(t *testing.T) {
	ctx := context.Background()
	s, _ := mustService(t)
	u := mustRegister(t, s, "13900139102")
	for round := range 5 {
		pw := "correct horse"
		if round > 0 {
			pw = fmt.Sprintf("round %d password", round)
			if _, _, err := s.ResetPassword(ctx, "admin-id", u.ID, pw); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		tokens := make(chan string, 8)
		for i := range 8 {
			wg.Go(func() {
				sess, err := s.Login(ctx, u.Login, pw, fmt.Sprintf("10.0.%d.%d", round, i))
				if err == nil {
					tokens <- sess.Token
				}
			})
		}
		wg.Go(func() {
			if _, _, err := s.ResetPassword(ctx, "admin-id", u.ID, fmt.Sprintf("reset %d password", round)); err != nil {
				t.Error(err)
			}
		})
		wg.Wait()
		close(tokens)
		for tok := range tokens {
			if _, err := s.Authenticate(ctx, tok); !errors.Is(err, policy.ErrUnauthenticated) {
				t.Errorf("round %d: a session opened with the old password survived the reset (%v)", round, err)
			}
		}
	}
}

// Search pages through the accounts, matches names and logins in any case,
// takes the text literally, and refuses what it cannot answer.
func TestSearchAccounts(t *testing.T) {
	ctx := context.Background()
	s, _ := mustService(t)
	for i := range 120 {
		name := fmt.Sprintf("骑手%03d", i)
		if i%40 == 7 {
			name = fmt.Sprintf("Zhang.San%d", i)
		}
		if _, err := s.Register(ctx, RegisterInput{Phone: fmt.Sprintf("1390000%04d", i), DisplayName: name, Password: "long enough", Work: "courier", AcceptPrivacy: true}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CreateStaff(ctx, StaffInput{Username: "zhangsan", DisplayName: "张三", Password: "long enough", Kind: "officer"}); err != nil {
		t.Fatal(err)
	}

	seen := map[string]bool{}
	for page, want := range map[int]int{1: 50, 2: 50, 3: 21} {
		res, err := s.Search(ctx, "", "", page)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Users) != want || res.Total != 121 || res.Pages != 3 {
			t.Fatalf("page %d: %d users, total %d, pages %d; want %d, 121, 3", page, len(res.Users), res.Total, res.Pages, want)
		}
		for _, u := range res.Users {
			if seen[u.ID] {
				t.Errorf("%s on two pages", u.Login)
			}
			seen[u.ID] = true
		}
	}
	cases := []struct {
		q, kind string
		want    int
	}{
		{"zhang", "", 4},        // three riders by name, the officer by login
		{"ZHANG.SAN", "", 3},    // any case; "." is a dot, not any character
		{"zhang", "officer", 1}, // one kind
		{"1390000011", "", 10},  // part of a phone number
		{".*", "", 0},           // no regular expressions
		{"骑手11", "", 10},
	}
	for _, c := range cases {
		res, err := s.Search(ctx, c.q, c.kind, 1)
		if err != nil {
			t.Fatal(err)
		}
		if res.Total != c.want {
			t.Errorf("q=%q kind=%q: %d accounts, want %d", c.q, c.kind, res.Total, c.want)
		}
	}
	for _, bad := range []struct {
		q, kind string
		page    int
		field   string
	}{
		{strings.Repeat("长", 65), "", 1, "q"},
		{"", "pilot", 1, "kind"},
		{"", "", 0, "page"},
	} {
		var ve *ValidationError
		if _, err := s.Search(ctx, bad.q, bad.kind, bad.page); !errors.As(err, &ve) || ve.Field != bad.field {
			t.Errorf("Search(%q, %q, %d): err = %v, want a ValidationError on %s", bad.q, bad.kind, bad.page, err, bad.field)
		}
	}
}
