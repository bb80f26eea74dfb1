package grid

import "testing"

// TestMountPagesNamesMissing checks a mount without its dependencies fails
// at start, naming them, rather than at a page view.
func TestMountPagesNamesMissing(t *testing.T) {
	err := MountPages(nil, nil, nil, nil)
	if err == nil || err.Error() != "grid: pages: missing OfficerAccounts, OpenCounts, Pages, Service" {
		t.Errorf("MountPages(nil…) = %v", err)
	}
}
