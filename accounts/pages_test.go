package accounts

import "testing"

// TestKindAndWorkMessages checks every account kind and work has a name:
// pages look them up by value ("kind." + kind), which the kit's check of
// the templates' literal keys cannot see.
func TestKindAndWorkMessages(t *testing.T) {
	for _, w := range Works {
		if _, ok := pageMessages["work."+string(w)]; !ok {
			t.Errorf("no message for work %q", w)
		}
	}
	for _, k := range append([]Kind{KindRider}, StaffKinds...) {
		if _, ok := pageMessages["kind."+string(k)]; !ok {
			t.Errorf("no message for kind %q", k)
		}
	}
}

// TestMountPagesNamesMissing checks a mount without its dependencies fails
// at start, naming them, rather than at a page view.
func TestMountPagesNamesMissing(t *testing.T) {
	err := MountPages(nil, nil, nil)
	if err == nil || err.Error() != "accounts: pages: missing Log, Pages, Service" {
		t.Errorf("MountPages(nil…) = %v", err)
	}
}
