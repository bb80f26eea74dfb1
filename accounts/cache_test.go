package accounts

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/storage/storagetest"
)

// twoInstances is two account services over one store, each following the
// other's changes as the app's instances do.
func twoInstances(t *testing.T) (a, b *Service) {
	t.Helper()
	a, en := mustService(t)
	b = NewService(a.store.users.Database(), en, storagetest.Logger())
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go a.Follow(ctx, 20*time.Millisecond)
	go b.Follow(ctx, 20*time.Millisecond)
	for _, s := range []*Service{a, b} {
		if !eventually(func() bool { _, on := s.cache.generation(); return on }) {
			t.Fatal("the cache never started")
		}
	}
	return a, b
}

// eventually polls cond for up to 5 s: far more than the 20 ms interval the
// instances poll at, so that a loaded machine does not fail the test, while
// an instance that never learns of a change does.
func eventually(cond func() bool) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

func refused(s *Service, token string) bool {
	_, err := s.Authenticate(context.Background(), token)
	return errors.Is(err, policy.ErrUnauthenticated)
}

// A followed instance answers from its cache: with the sessions and
// accounts unreachable it still knows a session it has seen.
func TestAuthenticateFromCache(t *testing.T) {
	ctx := context.Background()
	a, _ := twoInstances(t)
	u := mustRegister(t, a, "13600136031")
	sess := mustLogin(t, a, "13600136031", "10.0.0.1")
	if p, err := a.Authenticate(ctx, sess.Token); err != nil || p.UserID != u.ID {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}
	users, sessions := a.store.users, a.store.sessions
	a.store.users, a.store.sessions = deadCollection(t), deadCollection(t)
	p, err := a.Authenticate(ctx, sess.Token)
	a.store.users, a.store.sessions = users, sessions
	if err != nil || p.UserID != u.ID {
		t.Fatalf("Authenticate with the store unreachable, after a first read: %+v, %v; want it answered from the cache", p, err)
	}
}

// A bare service (nobody follows the revision for it) never caches: it
// could not learn of a change made elsewhere.
func TestNoCacheWithoutFollow(t *testing.T) {
	ctx := context.Background()
	s, _ := mustService(t)
	mustRegister(t, s, "13600136032")
	sess := mustLogin(t, s, "13600136032", "10.0.0.1")
	if _, err := s.Authenticate(ctx, sess.Token); err != nil {
		t.Fatal(err)
	}
	live := s.store.sessions
	s.store.sessions = deadCollection(t)
	_, err := s.Authenticate(ctx, sess.Token)
	s.store.sessions = live
	if err == nil {
		t.Fatal("an unfollowed service answered with the sessions unreachable: it cached")
	}
}

// Disabling on one instance refuses the account there at once, and on the
// other as soon as it reads the revision, though both had the session and
// the account cached.
func TestDisableReachesEveryInstanceCache(t *testing.T) {
	ctx := context.Background()
	a, b := twoInstances(t)
	u := mustRegister(t, a, "13600136033")
	sess := mustLogin(t, a, "13600136033", "10.0.0.1")
	for _, s := range []*Service{a, b} {
		if _, err := s.Authenticate(ctx, sess.Token); err != nil {
			t.Fatal(err)
		}
	}
	// b's copy must be a cached one for this test to mean anything.
	if _, ok := b.cache.user(u.ID, b.now()); !ok {
		t.Fatal("instance b did not cache the account")
	}
	if _, err := a.SetDisabled(ctx, "admin-id", u.ID, true); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, a, sess.Token, "the instance that disabled the account, at once")
	if !eventually(func() bool { return refused(b, sess.Token) }) {
		t.Fatal("the other instance still lets the disabled account in")
	}
	// Enabled again, the account logs in anew everywhere; the old session
	// is gone.
	if _, err := a.SetDisabled(ctx, "admin-id", u.ID, false); err != nil {
		t.Fatal(err)
	}
	fresh := mustLogin(t, a, "13600136033", "10.0.0.1")
	if !eventually(func() bool { return !refused(b, fresh.Token) }) {
		t.Fatal("the other instance still refuses the enabled account")
	}
	wantRefused(t, b, sess.Token, "the session from before the disable")
}

// Logging out ends the session on every instance, not only the one that
// served the logout.
func TestLogoutReachesEveryInstanceCache(t *testing.T) {
	ctx := context.Background()
	a, b := twoInstances(t)
	mustRegister(t, a, "13600136034")
	sess := mustLogin(t, a, "13600136034", "10.0.0.1")
	if _, err := b.Authenticate(ctx, sess.Token); err != nil {
		t.Fatal(err)
	}
	if err := a.Logout(ctx, sess.Token); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, a, sess.Token, "the instance that logged out, at once")
	if !eventually(func() bool { return refused(b, sess.Token) }) {
		t.Fatal("the other instance still accepts the ended session")
	}
}

// A read that began before a change must not put what it read back into
// the cache after the change dropped it: the generation check.
func TestReadBeforeChangeNotKept(t *testing.T) {
	ctx := context.Background()
	a, _ := twoInstances(t)
	u := mustRegister(t, a, "13600136035")
	gen, on := a.cache.generation() // a reader starts
	if !on {
		t.Fatal("cache off")
	}
	stale, err := a.store.userBy(ctx, "_id", u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.SetDisabled(ctx, "admin-id", u.ID, true); err != nil { // the change lands meanwhile
		t.Fatal(err)
	}
	a.cache.putUser(gen, stale, a.now()) // the reader finishes
	if got, err := a.userByID(ctx, u.ID); err != nil || !got.Disabled {
		t.Fatalf("after the change: %+v, %v; want the disabled account, not the read from before", got, err)
	}
}
