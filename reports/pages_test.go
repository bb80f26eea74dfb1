package reports

import (
	"strconv"
	"testing"
)

// TestPageLabels checks every value the report pages name by key has a
// message: statuses, actions, reject reasons, severities, roles, position
// sources and problem codes. The pages build these keys from values, which
// the kit's check of the templates' literal keys cannot see.
func TestPageLabels(t *testing.T) {
	var keys []string
	for _, s := range Statuses {
		keys = append(keys, "status."+string(s))
	}
	for _, a := range append([]Action{ActSubmit, ActEscalateAck, ActEscalateDecision, ActPhotoUnreadable}, ManualActions...) {
		keys = append(keys, "action."+string(a))
	}
	for _, r := range RejectReasons {
		keys = append(keys, "reason."+r)
	}
	for s := 1; s <= 3; s++ {
		keys = append(keys, "severity."+strconv.Itoa(s))
	}
	for _, r := range []string{RoleRider, RoleOfficer, RoleAdmin, RoleSystem} {
		keys = append(keys, "role."+r)
	}
	for _, s := range []string{"device", "photo", "manual"} {
		keys = append(keys, "source."+s)
	}
	for _, code := range []string{PhotoTooLarge, PhotoUnsupported, PhotoNotAnImage, PhotoTooManyPixels} {
		keys = append(keys, codePhotoPrefix+code)
	}
	for code, key := range problemKeys {
		if _, ok := pageMessages[key]; !ok {
			t.Errorf("problem code %q names message %q, which is not in the table", code, key)
		}
	}
	for _, k := range keys {
		if _, ok := pageMessages[k]; !ok {
			t.Errorf("no message %q", k)
		}
	}
}

// TestMountPagesNamesMissing checks a mount without its dependencies fails
// at start, naming them, rather than at a page view.
func TestMountPagesNamesMissing(t *testing.T) {
	err := MountPages(nil, nil, nil, nil)
	if err == nil || err.Error() != "reports: pages: missing Grid, NameOf, Pages, Service" {
		t.Errorf("MountPages(nil…) = %v", err)
	}
}
