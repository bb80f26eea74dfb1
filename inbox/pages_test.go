package inbox

import (
	"testing"

	"github.com/nuanxin/nuanxin/reports"
)

// TestNoteMessages checks every kind of notification has its sentence: the
// page names it by kind ("note." + kind), which the kit's check of the
// templates' literal keys cannot see. A kind without one would fall back to
// the vague "a report changed".
func TestNoteMessages(t *testing.T) {
	kinds := append([]reports.Action{reports.ActSubmit, reports.ActEscalateAck, reports.ActEscalateDecision, reports.ActPhotoUnreadable}, reports.ManualActions...)
	for _, k := range kinds {
		if _, ok := pageMessages["note."+string(k)]; !ok {
			t.Errorf("no message for notification kind %q", k)
		}
	}
	if _, ok := pageMessages["note.handover_in"]; !ok {
		t.Error("no message for a report handed over to the reader")
	}
}

// TestMountNamesMissing checks the page and the live stream, mounted
// without their dependencies, fail at start naming them, rather than at a
// page view or a connection.
func TestMountNamesMissing(t *testing.T) {
	if err := MountPages(nil, nil, nil, nil); err == nil || err.Error() != "inbox: pages: missing Grid, Pages, Reports, Service" {
		t.Errorf("MountPages(nil…) = %v", err)
	}
	if err := MountLive(nil, nil, nil, nil, nil, nil); err == nil || err.Error() != "inbox: live stream: missing Auth, Feed, Gate, Inbox, Log, Server" {
		t.Errorf("MountLive(nil…) = %v", err)
	}
}
