package policy_test

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/storage"
	"github.com/nuanxin/nuanxin/storage/storagetest"
)

func mustEnforcer(t *testing.T, db *mongo.Database) *policy.Enforcer {
	t.Helper()
	if err := storage.EnsureIndexes(context.Background(), db, policy.Indexes()); err != nil {
		t.Fatal(err)
	}
	en, err := policy.NewEnforcer(context.Background(), db, storagetest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	return en
}

func TestAllowedByRoleAndDomain(t *testing.T) {
	ctx := context.Background()
	en := mustEnforcer(t, storagetest.Docs(t))
	officer, rider, admin := policy.Subject("o1"), policy.Subject("r1"), policy.Subject("a1")
	for _, g := range [][3]string{
		{officer, policy.RoleOfficer, policy.CellDomain("CS-1")},
		{rider, policy.RoleRider, policy.DomainAll},
		{admin, policy.RoleAdmin, policy.DomainAll},
	} {
		if err := en.Grant(ctx, g[0], g[1], g[2]); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name   string
		sub    string
		authed bool
		perm   policy.Permission
		domain string
		want   bool
	}{
		{"officer in own cell", officer, true, "grid:read", policy.CellDomain("CS-1"), true},
		{"officer in another cell", officer, true, "grid:read", policy.CellDomain("CS-2"), false},
		{"officer everywhere", officer, true, "grid:read", policy.DomainAll, false},
		{"officer cannot import", officer, true, "grid:import", policy.CellDomain("CS-1"), false},
		{"admin anywhere", admin, true, "grid:import", policy.CellDomain("CS-9"), true},
		{"rider cannot read grid", rider, true, "grid:read", policy.DomainAll, false},
		{"anyone may log in", "", false, "auth:login", policy.DomainAll, true},
		{"anonymous cannot log out", "", false, "auth:logout", policy.DomainAll, false},
		{"authenticated may log out", rider, true, "auth:logout", policy.DomainAll, true},
		{"unknown permission", admin, true, "nothing", policy.DomainAll, true}, // admin is *:*
		{"rider unknown permission", rider, true, "nothing:at-all", policy.DomainAll, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := en.Allowed(c.sub, c.authed, c.perm, c.domain); got != c.want {
				t.Errorf("Allowed(%s, %s, %s) = %v, want %v", c.sub, c.perm, c.domain, got, c.want)
			}
		})
	}
	if !en.AllowedSomewhere(officer, true, "grid:read") {
		t.Error("officer holds grid:read in a cell, AllowedSomewhere = false")
	}
	if got := en.Domains(officer, policy.RoleOfficer); len(got) != 1 || got[0] != policy.CellDomain("CS-1") {
		t.Errorf("Domains = %v, want [cell:CS-1]", got)
	}
	if err := en.Revoke(ctx, officer, policy.RoleOfficer, policy.CellDomain("CS-1")); err != nil {
		t.Fatal(err)
	}
	if en.Allowed(officer, true, "grid:read", policy.CellDomain("CS-1")) {
		t.Error("revoked officer still allowed")
	}
}

func TestGrantTwiceIsOneRule(t *testing.T) {
	ctx := context.Background()
	db := storagetest.Docs(t)
	en := mustEnforcer(t, db)
	for range 2 {
		if err := en.Grant(ctx, "user:x", policy.RoleRider, policy.DomainAll); err != nil {
			t.Fatal(err)
		}
	}
	n, err := db.Collection("policy_rules").CountDocuments(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("stored rules = %d, want 1", n)
	}
}

// Two instances on the same store: a change on one reaches the other within
// the 5-second promise through Watch.
func TestChangeReachesOtherInstance(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db := storagetest.Docs(t)
	a, b := mustEnforcer(t, db), mustEnforcer(t, db)
	go b.Watch(ctx, 200*time.Millisecond)

	sub, dom := policy.Subject("o7"), policy.CellDomain("CS-7")
	if b.Allowed(sub, true, "grid:read", dom) {
		t.Fatal("allowed before the grant")
	}
	if err := a.Grant(ctx, sub, policy.RoleOfficer, dom); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "grant to reach instance b", func() bool { return b.Allowed(sub, true, "grid:read", dom) })
	if err := a.Revoke(ctx, sub, policy.RoleOfficer, dom); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "revoke to reach instance b", func() bool { return !b.Allowed(sub, true, "grid:read", dom) })
}

// A reload that fails keeps the last good policy in force.
func TestFailedReloadKeepsLastGoodPolicy(t *testing.T) {
	ctx := context.Background()
	db := storagetest.Docs(t)
	a, b := mustEnforcer(t, db), mustEnforcer(t, db)
	sub := policy.Subject("adm")
	if err := a.Grant(ctx, sub, policy.RoleAdmin, policy.DomainAll); err != nil {
		t.Fatal(err)
	}
	if err := b.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	// A stored rule that cannot be decoded, and a new revision, make the
	// next reload fail.
	if _, err := db.Collection("policy_rules").InsertOne(ctx, bson.D{{Key: "_id", Value: "bad"}, {Key: "ptype", Value: "g"}, {Key: "v0", Value: bson.A{1, 2}}}); err != nil {
		t.Fatal(err)
	}
	if err := a.Grant(ctx, "user:other", policy.RoleRider, policy.DomainAll); err != nil {
		t.Fatal(err)
	}
	if err := b.Reload(ctx); err == nil {
		t.Fatal("reload of a broken rule succeeded; the test no longer exercises a failed reload")
	}
	if !b.Allowed(sub, true, "grid:import", policy.DomainAll) {
		t.Error("after a failed reload the admin lost their rights; want the last good policy kept")
	}
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
