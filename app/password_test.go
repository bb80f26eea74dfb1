package app

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// An admin resets an officer's password over the API: the officer's token
// stops working, the temporary password logs in but opens nothing but the
// password change, and after the change everything works again. The same
// gate sends a browser to the password page.
func TestPasswordResetOverHTTP(t *testing.T) {
	_, base := mustApp(t, testEnv(t, nil))
	admin := login(t, base, "admin", adminPassword)
	off := createStaff(t, admin, "officer-reset", "officer")
	before := login(t, base, "officer-reset", "staff-password")

	var found struct {
		Users []struct{ ID, Login string }
		Total int
	}
	admin.must("GET", "/api/v1/admin/users?q=RESET&kind=officer", nil, &found, 200)
	if found.Total != 1 || found.Users[0].ID != off.ID {
		t.Fatalf("search: %+v, want the one officer", found)
	}
	admin.must("GET", "/api/v1/admin/users?page=0", nil, nil, 422)

	var reset struct {
		User struct {
			MustChangePassword bool `json:"must_change_password"`
		}
		TemporaryPassword string `json:"temporary_password"`
	}
	admin.must("POST", "/api/v1/admin/users/"+off.ID+"/password-reset", nil, &reset, 200)
	if reset.TemporaryPassword == "" || !reset.User.MustChangePassword {
		t.Fatalf("reset answered %+v", reset)
	}
	admin.must("POST", "/api/v1/admin/users/nobody/password-reset", nil, nil, 404)
	before.must("GET", "/api/v1/me", nil, nil, 401)

	temp := login(t, base, "officer-reset", reset.TemporaryPassword)
	temp.must("GET", "/api/v1/me", nil, nil, 200)
	resp, body := rawRequest(t, "GET", base+"/api/v1/inbox", "", temp.token, nil)
	if resp.StatusCode != 403 || !strings.Contains(string(body), "choose a new one first") {
		t.Fatalf("inbox before the new password: %d %s", resp.StatusCode, body)
	}
	temp.must("PUT", "/api/v1/me/password", map[string]string{"current_password": "wrong", "new_password": "officer-new-pass"}, nil, 422)
	temp.must("PUT", "/api/v1/me/password", map[string]string{"current_password": reset.TemporaryPassword, "new_password": "officer-new-pass"}, nil, 204)
	temp.must("GET", "/api/v1/inbox", nil, nil, 200)
	login(t, base, "officer-reset", "officer-new-pass")

	// The browser: reset again, log in through the form, land on the
	// password page, and be sent back there from any other page.
	admin.must("POST", "/api/v1/admin/users/"+off.ID+"/password-reset", nil, &reset, 200)
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	csrfOf := func(path string) string {
		resp, err := hc.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		_, _ = io.Copy(&b, resp.Body)
		m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(b.String())
		if m == nil {
			t.Fatalf("no csrf field on %s (status %d)", path, resp.StatusCode)
		}
		return m[1]
	}
	post := func(path string, form url.Values) *http.Response {
		resp, err := hc.PostForm(base+path, form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp = post("/login", url.Values{"login": {"officer-reset"}, "password": {reset.TemporaryPassword}, "csrf": {csrfOf("/login")}})
	if loc := resp.Header.Get("Location"); resp.StatusCode != 303 || loc != "/account/password" {
		t.Fatalf("login with the temporary password: %d to %q, want 303 to /account/password", resp.StatusCode, loc)
	}
	for _, page := range []string{"/queue", "/inbox"} {
		resp, err := hc.Get(base + page)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); resp.StatusCode != 303 || loc != "/account/password" {
			t.Errorf("GET %s before the new password: %d to %q", page, resp.StatusCode, loc)
		}
	}
	csrf := csrfOf("/account/password")
	resp = post("/account/password", url.Values{"current_password": {reset.TemporaryPassword}, "password": {"officer-pass-3"}, "confirm": {"officer-pass-4"}, "csrf": {csrf}})
	if resp.StatusCode != 422 {
		t.Fatalf("differing confirmation: status %d, want 422", resp.StatusCode)
	}
	resp = post("/account/password", url.Values{"current_password": {reset.TemporaryPassword}, "password": {"officer-pass-3"}, "confirm": {"officer-pass-3"}, "csrf": {csrf}})
	if loc := resp.Header.Get("Location"); resp.StatusCode != 303 || loc != "/" {
		t.Fatalf("change through the page: %d to %q", resp.StatusCode, loc)
	}
	if resp, err := hc.Get(base + "/inbox"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("the inbox after the change: %v %v", resp.StatusCode, err)
	}
}
