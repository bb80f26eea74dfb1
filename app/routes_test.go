package app

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/nuanxin/nuanxin/policy"
)

// Roles the table walks. "officer" holds a cell; "officer_unassigned" is an
// officer account with no cell yet, which must not get officer rights.
var tableRoles = []string{"anonymous", "rider", "officer", "officer_unassigned", "station_admin", "admin"}

// allowedRoles is the expected access of every permission a route uses. A
// route whose permission is missing here fails the test: adding a route means
// deciding, in this table, who may call it.
var allowedRoles = map[policy.Permission][]string{
	"system:health":      tableRoles,
	"api:describe":       tableRoles,
	"page:view":          tableRoles,
	"auth:login":         tableRoles,
	"account:register":   tableRoles,
	"auth:logout":        {"rider", "officer", "officer_unassigned", "station_admin", "admin"},
	"profile:read":       {"rider", "officer", "officer_unassigned", "station_admin", "admin"},
	"station:list":       {"rider", "officer", "officer_unassigned", "station_admin", "admin"},
	"grid:read":          {"officer", "admin"},
	"grid:import":        {"admin"},
	"grid:assign":        {"admin"},
	"user:list":          {"admin"},
	"user:create":        {"admin"},
	"user:disable":       {"admin"},
	"user:reset":         {"admin"},
	"account:password":   {"rider", "officer", "officer_unassigned", "station_admin", "admin"},
	"station:create":     {"admin"},
	"station:assign":     {"admin"},
	"station:manage":     {"station_admin", "admin"},
	"station:open":       {"admin"},
	"inbox:read":         {"rider", "officer", "officer_unassigned", "station_admin", "admin"},
	"live:read":          {"rider", "officer", "officer_unassigned", "station_admin", "admin"},
	"category:list":      {"rider", "officer", "officer_unassigned", "station_admin", "admin"},
	"report:create":      {"rider", "admin"},
	"report:view":        {"rider", "officer", "admin"},
	"report:handle":      {"officer", "admin"},
	"report:queue":       {"officer", "admin"},
	"report:figures":     {"officer", "admin"},
	"report:escalations": {"admin"},
	"report:export":      {"admin"},
	"report:message":     {"rider", "admin"},
	"report:urge":        {"rider", "admin"},
	"report:rate":        {"rider", "admin"},
	"report:dispute":     {"admin"},
	"report:metoo":       {"rider", "admin"},
	"open311:read":       tableRoles,
	"open311:submit":     tableRoles,
	"open311:manage":     {"admin"},
	"points:read":        {"rider", "admin"},
	"reward:redeem":      {"rider", "admin"},
	"reward:list":        {"rider", "officer", "officer_unassigned", "station_admin", "admin"},
	"reward:manage":      {"station_admin", "admin"},
	"reward:confirm":     {"station_admin", "admin"},
	"reward:city":        {"admin"},
	"honour:read":        tableRoles,
	"points:adjust":      {"admin"},
	"points:audit":       {"admin"},
	"council:read":       {"rider", "station_admin", "admin"},
	"council:join":       {"rider", "admin"},
	"station:checkin":    {"rider", "admin"},
	"feedback:post":      {"rider", "admin"},
	"feedback:support":   {"rider", "admin"},
	"vote:cast":          {"rider", "admin"},
	"feedback:answer":    {"station_admin", "admin"},
	"proposal:manage":    {"station_admin", "admin"},
	"council:manage":     {"station_admin", "admin"},
	"station:figures":    {"station_admin", "admin"},
	"station:poster":     {"station_admin", "admin"},
	"station:admin":      {"admin"},
}

// TestRouteTable walks every route against every role and checks that the
// gate allows exactly what allowedRoles says, and that no route bypasses the
// gate.
func TestRouteTable(t *testing.T) {
	a, base := mustApp(t, testEnv(t, nil))
	admin := login(t, base, "admin", adminPassword)
	officer := createStaff(t, admin, "officer-rt", "officer")
	createStaff(t, admin, "officer-idle", "officer")
	sa := createStaff(t, admin, "station-rt", "station_admin")
	admin.must("POST", "/api/v1/grid/import?mode=replace", twoCells(t), nil, 200)
	admin.must("PUT", "/api/v1/grid/cells/T-0001/officers", map[string]string{"primary_id": officer.ID}, nil, 200)
	var st struct{ ID string }
	admin.must("POST", "/api/v1/stations", map[string]any{"name": "测试驿站", "lat": 28.19, "lng": 112.97}, &st, 201)
	admin.must("POST", "/api/v1/stations/"+st.ID+"/admins", map[string]string{"user_id": sa.ID}, nil, 200)
	(&client{t: t, base: base}).must("POST", "/api/v1/accounts", map[string]any{"phone": "13800138099", "display_name": "骑手", "password": "rider-password", "work": "courier", "accept_privacy": true}, nil, 201)

	logins := map[string][2]string{
		"rider": {"13800138099", "rider-password"}, "officer": {"officer-rt", "staff-password"},
		"officer_unassigned": {"officer-idle", "staff-password"}, "station_admin": {"station-rt", "staff-password"},
		"admin": {"admin", adminPassword},
	}
	tokens := map[string]string{}
	token := func(role string, fresh bool) string {
		if role == "anonymous" {
			return ""
		}
		if fresh {
			return login(t, base, logins[role][0], logins[role][1]).token
		}
		if tokens[role] == "" {
			tokens[role] = login(t, base, logins[role][0], logins[role][1]).token
		}
		return tokens[role]
	}

	routes := a.Gate.Routes()
	gated := map[string]bool{}
	for _, r := range routes {
		gated[r.Method+" "+r.Path] = true
	}
	for _, r := range a.Server.App.GetRoutes(true) {
		if r.Method == http.MethodHead || r.Method == "USE" {
			continue
		}
		if !gated[r.Method+" "+r.Path] {
			t.Errorf("route %s %s does not go through the policy gate", r.Method, r.Path)
		}
	}

	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, r := range routes {
		want, ok := allowedRoles[r.Permission]
		if !ok {
			t.Errorf("%s %s needs %q, which the table does not know: add who may use it", r.Method, r.Path, r.Permission)
			continue
		}
		for _, role := range tableRoles {
			t.Run(fmt.Sprintf("%s %s as %s", r.Method, r.Path, role), func(t *testing.T) {
				allowed := contains(want, role)
				// Logging out ends the session used, so each logout gets its own.
				tok := token(role, strings.HasSuffix(r.Path, "logout"))
				// Pages get a form with a valid CSRF token, so that only the
				// gate's decision can refuse them.
				body, ctype := "{}", "application/json"
				if !strings.HasPrefix(r.Path, "/api/") {
					body, ctype = "csrf=table-test-token", "application/x-www-form-urlencoded"
				}
				// A station's pages and pickups are filled with the station
				// the station admin keeps, so the table shows the gate's
				// decision there (another station is refused by the handler,
				// which TestStationAdminOnlyAtTheirStation checks).
				path := fillPath(r.Path)
				for _, prefix := range []string{"/station/:id/", "/api/v1/points/stations/:station/", "/api/v1/stations/:id"} {
					if rest, ok := strings.CutPrefix(r.Path, prefix); ok {
						path = fillPath(strings.NewReplacer(":id", st.ID, ":station", st.ID).Replace(prefix) + rest)
					}
				}
				req, err := http.NewRequest(r.Method, base+path, strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", ctype)
				req.AddCookie(&http.Cookie{Name: policy.CSRFCookie, Value: "table-test-token"})
				req.Header.Set("Accept", "application/json")
				if tok != "" {
					req.Header.Set("Authorization", "Bearer "+tok)
				}
				resp, err := noRedirect.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				var answer []byte
				if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
					answer, _ = io.ReadAll(resp.Body) // a live stream never ends: status is enough
				}
				resp.Body.Close()
				// The gate refuses with problem+json (or a page); a plain
				// JSON 403 is a handler's own answer (Open311 without an
				// api_key), which the gate let through.
				handlerRefusal := resp.StatusCode == http.StatusForbidden && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json")
				denied := resp.StatusCode == http.StatusUnauthorized || (resp.StatusCode == http.StatusForbidden && !handlerRefusal) ||
					(resp.StatusCode == http.StatusSeeOther && strings.HasPrefix(resp.Header.Get("Location"), "/login"))
				if allowed && denied {
					t.Errorf("want allowed, got %d: %.300s", resp.StatusCode, answer)
				}
				if !allowed && !denied {
					t.Errorf("want denied, got %d: %.300s", resp.StatusCode, answer)
				}
				if !allowed && role == "anonymous" && resp.StatusCode == http.StatusForbidden {
					t.Errorf("anonymous denial should be 401 or a redirect to log in, got 403")
				}
			})
		}
	}
}

// fillPath puts placeholder values into path parameters.
func fillPath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if strings.HasPrefix(s, ":") {
			parts[i] = "placeholder"
		}
		if s == "*" {
			parts[i] = "app.css"
		}
	}
	return strings.Join(parts, "/")
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
