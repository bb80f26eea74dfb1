package accounts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// midWindow is a fixed clock 7m30s into a throttle window, so that a test's
// attempts cannot straddle the end of a window.
var midWindow = time.Date(2026, 3, 2, 10, 7, 30, 0, time.UTC)

func pinClock(s *Service, at time.Time) { s.now = func() time.Time { return at } }

// countChecks counts the password checks Login makes, over one or more
// services. Each distinct hash and password is still checked by the real
// argon2, once: the answer cannot change, and fifty identical runs of it
// under the race detector take most of a minute on a small machine.
func countChecks(services ...*Service) *atomic.Int64 {
	var n atomic.Int64
	var mu sync.Mutex
	memo := map[[2]string]func() (bool, error){}
	for _, s := range services {
		verify := s.verify
		s.verify = func(hash, pw string) (bool, error) {
			n.Add(1)
			mu.Lock()
			check, ok := memo[[2]string{hash, pw}]
			if !ok {
				check = sync.OnceValues(func() (bool, error) { return verify(hash, pw) })
				memo[[2]string{hash, pw}] = check
			}
			mu.Unlock()
			return check()
		}
	}
	return &n
}

// secondInstance is another service on the same database, as a second
// instance of the server would be: it shares nothing in memory with s.
func secondInstance(s *Service) *Service {
	s2 := NewService(s.store.users.Database(), s.roles, s.log)
	s2.now = s.now
	return s2
}

// loginAll runs the logins at once (released together), alternating
// between the given services, and returns their errors in order.
func loginAll(services []*Service, n int, try func(i int) (login, password, addr string)) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			login, pw, addr := try(i)
			<-start
			_, errs[i] = services[i%len(services)].Login(context.Background(), login, pw, addr)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// tally counts bad-credential answers and throttled answers of one scope,
// and fails on anything else.
func tally(t *testing.T, errs []error, scope ThrottleScope, retryAfter time.Duration) (bad, throttled int) {
	t.Helper()
	for i, err := range errs {
		var te *ThrottledError
		switch {
		case errors.Is(err, ErrBadCredentials):
			bad++
		case errors.As(err, &te):
			throttled++
			if te.Scope != scope || te.PerAddress != (scope == ScopeAddress) || te.RetryAfter != retryAfter {
				t.Errorf("attempt %d: %+v, want scope %s, retry after %s", i, te, scope, retryAfter)
			}
		default:
			t.Errorf("attempt %d: err = %v, want bad credentials or throttled", i, err)
		}
	}
	return bad, throttled
}

func wantThrottled(t *testing.T, err error, scope ThrottleScope) *ThrottledError {
	t.Helper()
	var te *ThrottledError
	if !errors.As(err, &te) || te.Scope != scope {
		t.Fatalf("err = %v, want a ThrottledError of scope %s", err, scope)
	}
	return te
}

// Fifty simultaneous wrong passwords for one account from one address, sent
// to two instances: the attempts are claimed before the passwords are
// checked, so only the limit of them are checked, and the attacker's address
// alone is locked out.
func TestConcurrentGuessesOneAccountOneAddress(t *testing.T) {
	ctx := context.Background()
	s, _ := mustService(t)
	mustRegister(t, s, "13600136003")
	pinClock(s, midWindow)
	s2 := secondInstance(s)
	checks := countChecks(s, s2)

	errs := loginAll([]*Service{s, s2}, 50, func(int) (string, string, string) { return "13600136003", "wrong password", "10.0.0.66" })
	bad, throttled := tally(t, errs, ScopeAccountAddress, 7*time.Minute+30*time.Second)
	if got := checks.Load(); got != MaxFailuresPerAccountAddress {
		t.Errorf("%d passwords checked for 50 simultaneous attempts, want the limit %d", got, MaxFailuresPerAccountAddress)
	}
	if bad != MaxFailuresPerAccountAddress || throttled != 50-MaxFailuresPerAccountAddress {
		t.Errorf("%d wrong-password and %d throttled answers, want %d and %d", bad, throttled, MaxFailuresPerAccountAddress, 50-MaxFailuresPerAccountAddress)
	}

	// Even the right password is refused from the attacker's address...
	_, err := s.Login(ctx, "13600136003", "correct horse", "10.0.0.66")
	te := wantThrottled(t, err, ScopeAccountAddress)
	if msg := te.Error(); !strings.Contains(msg, "try again in 8 minute(s)") {
		t.Errorf("message %q does not say when to try again (8 minutes)", msg)
	}
	// ...but the owner, elsewhere, logs in.
	if _, err := s.Login(ctx, "13600136003", "correct horse", "10.0.0.7"); err != nil {
		t.Errorf("the owner on another address: %v", err)
	}
	// And once the window is over, the attacker's address may try again.
	pinClock(s, midWindow.Add(FailureWindow))
	if _, err := s.Login(ctx, "13600136003", "wrong again", "10.0.0.66"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("next window: err = %v, want a checked wrong password", err)
	}
}

// Thirty simultaneous wrong passwords from one address for thirty accounts
// (known and unknown): only the address limit of them are checked.
func TestConcurrentGuessesOneAddressManyAccounts(t *testing.T) {
	ctx := context.Background()
	s, _ := mustService(t)
	mustRegister(t, s, "13600136004")
	for i := range 5 {
		mustRegister(t, s, fmt.Sprintf("1370000%04d", i))
	}
	pinClock(s, midWindow)
	checks := countChecks(s)

	errs := loginAll([]*Service{s}, 30, func(i int) (string, string, string) {
		return fmt.Sprintf("1370000%04d", i), "wrong password", "10.0.0.99"
	})
	bad, throttled := tally(t, errs, ScopeAddress, 7*time.Minute+30*time.Second)
	if got := checks.Load(); got != MaxFailuresPerAddress {
		t.Errorf("%d passwords checked for 30 simultaneous attempts, want the address limit %d", got, MaxFailuresPerAddress)
	}
	if bad != MaxFailuresPerAddress || throttled != 30-MaxFailuresPerAddress {
		t.Errorf("%d wrong-password and %d throttled answers, want %d and %d", bad, throttled, MaxFailuresPerAddress, 30-MaxFailuresPerAddress)
	}
	_, err := s.Login(ctx, "13600136004", "correct horse", "10.0.0.99")
	if te := wantThrottled(t, err, ScopeAddress); !strings.Contains(te.Error(), "your network address") {
		t.Errorf("message %q does not say the address is the problem", te.Error())
	}
	if _, err := s.Login(ctx, "13600136004", "correct horse", "10.0.0.100"); err != nil {
		t.Errorf("from another address: %v", err)
	}
}

// Guesses from many addresses, each under its own limit, add up against the
// account: past MaxFailuresPerAccount in a window the account refuses
// everyone, the owner too, until the window ends.
func TestDistributedGuessesLockTheAccount(t *testing.T) {
	ctx := context.Background()
	s, _ := mustService(t)
	mustRegister(t, s, "13600136005")
	pinClock(s, midWindow)
	checks := countChecks(s)

	const n = MaxFailuresPerAccount + 10
	errs := loginAll([]*Service{s}, n, func(i int) (string, string, string) {
		return "13600136005", "wrong password", fmt.Sprintf("192.0.2.%d", i)
	})
	bad, throttled := tally(t, errs, ScopeAccount, 7*time.Minute+30*time.Second)
	if got := checks.Load(); got != MaxFailuresPerAccount {
		t.Errorf("%d passwords checked for %d attempts from %d addresses, want the account limit %d", got, n, n, MaxFailuresPerAccount)
	}
	if bad != MaxFailuresPerAccount || throttled != n-MaxFailuresPerAccount {
		t.Errorf("%d wrong-password and %d throttled answers, want %d and %d", bad, throttled, MaxFailuresPerAccount, n-MaxFailuresPerAccount)
	}

	_, err := s.Login(ctx, "13600136005", "correct horse", "198.51.100.1")
	if te := wantThrottled(t, err, ScopeAccount); !strings.Contains(te.Error(), "many network addresses") {
		t.Errorf("message %q does not say the account is under attack", te.Error())
	}
	// A refused attempt gave back what it had claimed: that address has not
	// used up its own allowance.
	if _, err := s.Login(ctx, "13600136006", "whatever1", "198.51.100.1"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("another account from the refused address: err = %v, want a checked wrong password", err)
	}

	pinClock(s, midWindow.Add(FailureWindow))
	if _, err := s.Login(ctx, "13600136005", "correct horse", "198.51.100.1"); err != nil {
		t.Errorf("the owner after the window: %v", err)
	}
}

// Right passwords are not failures: the owner logs in as often as they like
// from one address, and logging in clears their earlier typos there.
func TestSuccessfulLoginsDoNotCount(t *testing.T) {
	ctx := context.Background()
	s, _ := mustService(t)
	mustRegister(t, s, "13600136007")
	pinClock(s, midWindow)
	checks := countChecks(s)
	for i := range MaxFailuresPerAddress + 1 {
		if _, err := s.Login(ctx, "13600136007", "correct horse", "10.0.0.8"); err != nil {
			t.Fatalf("login %d: %v", i+1, err)
		}
	}
	for round := range 3 {
		for i := range MaxFailuresPerAccountAddress - 1 {
			if _, err := s.Login(ctx, "13600136007", "typo typo", "10.0.0.8"); !errors.Is(err, ErrBadCredentials) {
				t.Fatalf("round %d, typo %d: err = %v", round, i+1, err)
			}
		}
		if _, err := s.Login(ctx, "13600136007", "correct horse", "10.0.0.8"); err != nil {
			t.Fatalf("round %d, after %d typos: %v", round, MaxFailuresPerAccountAddress-1, err)
		}
	}
	if got, want := checks.Load(), int64(MaxFailuresPerAddress+1+3*MaxFailuresPerAccountAddress); got != want {
		t.Errorf("%d passwords checked, want every one of the %d attempts", got, want)
	}
}

// However many logins arrive at once, at most cap(hashSlots) argon2
// computations run together: each takes 19 MiB.
func TestPasswordChecksBounded(t *testing.T) {
	s, _ := mustService(t)
	var inFlight, peak atomic.Int64
	verify := s.verify
	s.verify = func(hash, pw string) (bool, error) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		defer inFlight.Add(-1)
		return verify(hash, pw)
	}
	errs := loginAll([]*Service{s}, 12, func(i int) (string, string, string) {
		return fmt.Sprintf("1580000%04d", i), "whatever1", fmt.Sprintf("10.3.0.%d", i)
	})
	for i, err := range errs {
		if !errors.Is(err, ErrBadCredentials) {
			t.Errorf("login %d: err = %v, want bad credentials", i, err)
		}
	}
	if got, limit := peak.Load(), int64(cap(s.hashSlots)); got > limit {
		t.Errorf("%d password checks ran at once, want at most %d", got, limit)
	}
}

func TestPruneRemovesPastAttempts(t *testing.T) {
	ctx := context.Background()
	s, _ := mustService(t)
	pinClock(s, midWindow)
	for i := range 3 {
		_, _ = s.Login(ctx, "13600136008", "wrong password", fmt.Sprintf("10.4.0.%d", i))
	}
	count := func() int64 {
		n, err := s.store.attempts.CountDocuments(ctx, bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if err := s.PruneSessions(ctx); err != nil {
		t.Fatal(err)
	}
	if got := count(); got != 9 { // three scopes of three attempts
		t.Errorf("%d attempt records kept inside their window, want 9", got)
	}
	pinClock(s, midWindow.Add(FailureWindow))
	if err := s.PruneSessions(ctx); err != nil {
		t.Fatal(err)
	}
	if got := count(); got != 0 {
		t.Errorf("%d attempt records left after their window, want 0", got)
	}
}

func TestThrottledErrorSaysWhen(t *testing.T) {
	tests := []struct {
		after time.Duration
		scope ThrottleScope
		mins  int
		says  string
	}{
		{7*time.Minute + 30*time.Second, ScopeAccountAddress, 8, "for this account from your network address; try again in 8 minute(s)"},
		{15 * time.Minute, ScopeAccount, 15, "from many network addresses, so it is locked for now; try again in 15 minute(s)"},
		{10 * time.Second, ScopeAddress, 1, "from your network address; try again in 1 minute(s)"},
		{time.Minute + time.Nanosecond, ScopeAddress, 2, "try again in 2 minute(s)"},
	}
	for _, tc := range tests {
		t.Run(string(tc.scope)+" "+tc.after.String(), func(t *testing.T) {
			e := &ThrottledError{RetryAfter: tc.after, Scope: tc.scope}
			if got := e.Minutes(); got != tc.mins {
				t.Errorf("Minutes() = %d, want %d", got, tc.mins)
			}
			if got := e.Error(); !strings.Contains(got, tc.says) {
				t.Errorf("Error() = %q, want it to contain %q", got, tc.says)
			}
		})
	}
}
