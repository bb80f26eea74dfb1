package accounts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nuanxin/nuanxin/policy"
)

// Two mechanisms make "disabling ends every session at once" true: the flag
// Authenticate reads on every request, and the deletion of the sessions.
// Each would hide the other's removal from a test of disabling alone, so
// each is tested here where the other cannot help.

// deadCollection is a collection on a client that has been disconnected:
// every operation on it fails, as when the store is unreachable.
func deadCollection(t *testing.T) *mongo.Collection {
	t.Helper()
	client, err := mongo.Connect(options.Client().ApplyURI("mongodb://127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Disconnect(context.Background()); err != nil {
		t.Fatal(err)
	}
	return client.Database("gone").Collection(sessionsCollection)
}

func mustLogin(t *testing.T, s *Service, login, addr string) Session {
	t.Helper()
	sess, err := s.Login(context.Background(), login, "correct horse", addr)
	if err != nil {
		t.Fatalf("login %s: %v", login, err)
	}
	return sess
}

func wantRefused(t *testing.T, s *Service, token, why string) {
	t.Helper()
	if p, err := s.Authenticate(context.Background(), token); !errors.Is(err, policy.ErrUnauthenticated) {
		t.Errorf("%s: Authenticate = %+v, %v; want ErrUnauthenticated", why, p, err)
	}
}

func sessionsOf(t *testing.T, s *Service, userID string) int64 {
	t.Helper()
	n, err := s.store.sessions.CountDocuments(context.Background(), bson.D{{Key: "user_id", Value: userID}})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// The flag alone: the sessions could not be deleted, so they are still
// stored, and still refused. Disabling says it failed, so the admin knows to
// try again; enabling the account later does not bring the sessions back.
func TestDisabledFlagRefusesSessionsNotDeleted(t *testing.T) {
	ctx := context.Background()
	s, _ := mustService(t)
	u := mustRegister(t, s, "13600136010")
	sess := mustLogin(t, s, "13600136010", "10.0.0.1")

	live := s.store.sessions
	s.store.sessions = deadCollection(t)
	_, err := s.SetDisabled(ctx, "admin-id", u.ID, true)
	s.store.sessions = live
	if err == nil || !strings.Contains(err.Error(), "sessions could not be ended") {
		t.Fatalf("SetDisabled with the sessions unreachable: err = %v, want an error saying the sessions were not ended", err)
	}
	if got, err := s.Get(ctx, u.ID); err != nil || !got.Disabled {
		t.Fatalf("after the failed deletion: account %+v, %v; want it disabled", got, err)
	}
	if _, err := s.store.session(ctx, tokenID(sess.Token)); err != nil {
		t.Fatalf("the session was deleted after all (%v): this test needs it stored", err)
	}
	wantRefused(t, s, sess.Token, "a stored session of a disabled account")
	if _, err := s.Login(ctx, "13600136010", "correct horse", "10.0.0.1"); !errors.Is(err, ErrDisabled) {
		t.Errorf("login to the disabled account: err = %v, want ErrDisabled", err)
	}

	// Enabling the account ends the leftover session before it could count.
	if _, err := s.SetDisabled(ctx, "admin-id", u.ID, false); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, s, sess.Token, "a session from before the disable, once the account is enabled again")
	mustLogin(t, s, "13600136010", "10.0.0.1")
}

// Enabling with the sessions unreachable leaves the account disabled: it
// must not come back with its old sessions.
func TestEnableKeepsAccountDisabledWhenSessionsRemain(t *testing.T) {
	ctx := context.Background()
	s, _ := mustService(t)
	u := mustRegister(t, s, "13600136011")
	if _, err := s.SetDisabled(ctx, "admin-id", u.ID, true); err != nil {
		t.Fatal(err)
	}
	live := s.store.sessions
	s.store.sessions = deadCollection(t)
	_, err := s.SetDisabled(ctx, "admin-id", u.ID, false)
	s.store.sessions = live
	if err == nil {
		t.Fatal("enabling succeeded though the old sessions could not be ended")
	}
	if got, err := s.Get(ctx, u.ID); err != nil || !got.Disabled {
		t.Errorf("after the failed enable: account %+v, %v; want it still disabled", got, err)
	}
}

// The deletion alone: after disabling, the sessions are gone from the store,
// so they are refused whatever the flag says (Authenticate finds no session
// before it reads the account), and everything that looks at sessions alone
// sees them ended.
func TestDisableDeletesEverySession(t *testing.T) {
	ctx := context.Background()
	s, _ := mustService(t)
	u := mustRegister(t, s, "13600136012")
	other := mustRegister(t, s, "13600136013")
	tokens := []string{mustLogin(t, s, "13600136012", "10.0.0.1").Token, mustLogin(t, s, "13600136012", "10.0.0.2").Token}
	keep := mustLogin(t, s, "13600136013", "10.0.0.1").Token

	if _, err := s.SetDisabled(ctx, "admin-id", u.ID, true); err != nil {
		t.Fatal(err)
	}
	for i, tok := range tokens {
		if _, err := s.store.session(ctx, tokenID(tok)); !errors.Is(err, ErrNotFound) {
			t.Errorf("session %d of the disabled account: err = %v, want it deleted", i, err)
		}
	}
	if n := sessionsOf(t, s, u.ID); n != 0 {
		t.Errorf("%d sessions of the disabled account stored, want 0", n)
	}
	if p, err := s.Authenticate(ctx, keep); err != nil || p.UserID != other.ID {
		t.Errorf("another account's session: %+v, %v; want it untouched", p, err)
	}
}

// Enabling an account that is not disabled changes nothing: its sessions
// go on.
func TestEnableEnabledAccountKeepsSessions(t *testing.T) {
	ctx := context.Background()
	s, _ := mustService(t)
	u := mustRegister(t, s, "13600136014")
	sess := mustLogin(t, s, "13600136014", "10.0.0.1")
	if got, err := s.SetDisabled(ctx, "admin-id", u.ID, false); err != nil || got.Disabled {
		t.Fatalf("enable an enabled account: %+v, %v", got, err)
	}
	if _, err := s.Authenticate(ctx, sess.Token); err != nil {
		t.Errorf("session after a no-op enable: %v", err)
	}
	if _, err := s.SetDisabled(ctx, "admin-id", "nobody", false); !errors.Is(err, ErrNotFound) {
		t.Errorf("enable an unknown account: err = %v, want ErrNotFound", err)
	}
}

// Logins race a disable. Some are held after reading the account (still
// enabled) until the disable has finished, so the disable's deletion runs
// before their session exists; others run free. Afterwards no session of the
// account is stored, none authenticates, and none comes back when the
// account is enabled again.
func TestLoginRacingDisable(t *testing.T) {
	ctx := context.Background()
	s, _ := mustService(t)
	u := mustRegister(t, s, "13600136015")
	const held, free = 6, 6
	// The held logins wait inside the password check: give them room so
	// the free ones are not queued behind them.
	s.hashSlots = make(chan struct{}, held+free)
	checks := countChecks(s)
	var calls atomic.Int64
	gate := make(chan struct{})
	var entered sync.WaitGroup
	entered.Add(held)
	verify := s.verify
	s.verify = func(hash, pw string) (bool, error) {
		if calls.Add(1) <= held {
			entered.Done()
			<-gate
		}
		return verify(hash, pw)
	}

	type result struct {
		sess Session
		err  error
	}
	results := make([]result, held+free)
	var wg sync.WaitGroup
	login := func(i int) {
		defer wg.Done()
		sess, err := s.Login(ctx, "13600136015", "correct horse", fmt.Sprintf("10.5.0.%d", i))
		results[i] = result{sess, err}
	}
	for i := range held {
		wg.Add(1)
		go login(i)
	}
	entered.Wait() // every held login has read the account as enabled

	start := make(chan struct{})
	var disableErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-start
		_, disableErr = s.SetDisabled(ctx, "admin-id", u.ID, true)
		close(gate)
	}()
	for i := held; i < held+free; i++ {
		wg.Add(1)
		go func() { <-start; login(i) }()
	}
	close(start)
	wg.Wait()
	if disableErr != nil {
		t.Fatal(disableErr)
	}
	if got := checks.Load(); got != held+free {
		t.Errorf("%d passwords checked, want all %d logins to have raced", got, held+free)
	}

	for i, r := range results {
		switch {
		case r.err == nil:
		case errors.Is(r.err, ErrDisabled):
		default:
			t.Errorf("login %d: err = %v, want a session or ErrDisabled", i, r.err)
		}
		if i < held && !errors.Is(r.err, ErrDisabled) {
			t.Errorf("held login %d finished after the disable: err = %v, want ErrDisabled", i, r.err)
		}
	}
	if n := sessionsOf(t, s, u.ID); n != 0 {
		t.Errorf("%d sessions of the disabled account stored after the race, want 0", n)
	}
	for i, r := range results {
		if r.err == nil {
			wantRefused(t, s, r.sess.Token, fmt.Sprintf("session of login %d after the disable", i))
		}
	}
	if _, err := s.SetDisabled(ctx, "admin-id", u.ID, false); err != nil {
		t.Fatal(err)
	}
	for i, r := range results {
		if r.err == nil {
			wantRefused(t, s, r.sess.Token, fmt.Sprintf("session of login %d after the account is enabled again", i))
		}
	}
}
