package admin_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/admin/admintest"
	"github.com/sagate/sagate/keystore"
)

// matrixCaller is one kind of caller of the access matrix.
type matrixCaller struct {
	name   string
	hdr    []string // header name, value pairs; "" removes Authorization
	client *http.Client
	unauth bool // every call answers 401
}

// matrixRoute is one /v1 route; prep (run as the operator before each call) returns the
// method, path and body of the call.
type matrixRoute struct {
	name    string
	allowed []string // callers answered ok; the others of the authenticated ones get 403
	ok      int
	prep    func(n int) (method, path, body string)
}

// TestAccessMatrix calls every /v1 route as every kind of caller and checks the status.
// On every refusal (401 or 403) the store and Redis are exactly as before the call.
func TestAccessMatrix(t *testing.T) {
	h := newHarness(t, admintest.Options{ProxyUserHeader: "X-Webauth-User",
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	op := admintest.OperatorContext()
	svc := h.Service
	must := func(doing string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", doing, err)
		}
	}
	account := func(ws, name string) keystore.IssuedKey {
		t.Helper()
		_, k, err := svc.CreateServiceAccount(op, ws, keystore.CreateServiceAccountInput{Name: name, CreateKey: true})
		must("creating "+name, err)
		h.keys = append(h.keys, k.Key)
		return *k
	}
	for _, ws := range []string{"ml", "other"} {
		_, err := svc.CreateWorkspace(op, ws, 1000)
		must("creating "+ws, err)
	}
	ciKey, ownerKey, plainKey := account("ml", "ci"), account("ml", "owner"), account("ml", "plain")
	revokedKey, deactKey := account("ml", "revoked"), account("ml", "deact")
	account("ml", "target")
	ociKey, oownerKey := account("other", "ci"), account("other", "owner")
	_, _, err := svc.SetWorkspaceAdmin(op, "ml", "sa:ci")
	must("making ci admin", err)
	_, _, err = svc.SetWorkspaceAdmin(op, "other", "sa:ci")
	must("making other's ci admin", err)
	_, err = svc.SetGrant(op, "ml", "p1", "owner", keystore.RoleOwner)
	must("owner", err)
	_, err = svc.SetGrant(op, "other", "p1", "owner", keystore.RoleOwner)
	must("other's owner", err)
	_, err = svc.SetPersonRole(op, "ml", "p1", "alice", keystore.RoleOwner)
	must("alice", err)
	must("revoking", svc.RevokeKey(op, "ml", "revoked", revokedKey.ID))
	_, err = svc.DeactivateServiceAccount(op, "ml", "deact")
	must("deactivating", err)

	bearer := func(k string) []string { return []string{"Authorization", "Bearer " + k} }
	callers := []matrixCaller{
		{name: "operator", hdr: bearer(h.Token)},
		{name: "admin", hdr: bearer(ciKey.Key)},
		{name: "admin-other", hdr: bearer(ociKey.Key)},
		{name: "owner", hdr: bearer(ownerKey.Key)},
		{name: "owner-other", hdr: bearer(oownerKey.Key)},
		{name: "plain", hdr: bearer(plainKey.Key)},
		{name: "revoked", hdr: bearer(revokedKey.Key), unauth: true},
		{name: "deactivated", hdr: bearer(deactKey.Key), unauth: true},
		{name: "person", hdr: []string{"Authorization", "", "X-Webauth-User", "alice"}},
		{name: "spoofed", hdr: []string{"Authorization", "", "X-Webauth-User", "alice"}, client: fromAddr("127.0.0.2"), unauth: true},
	}
	var (
		OP   = []string{"operator"}
		ADM  = []string{"operator", "admin"}
		OWN  = []string{"operator", "admin", "owner", "person"}
		SELF = []string{"operator", "admin", "plain"}
		ANY  = []string{"operator", "admin", "admin-other", "owner", "owner-other", "plain", "person"}
	)
	const ws, sas = "/v1/workspaces/ml", "/v1/workspaces/ml/service-accounts"
	fresh := func(n int) string { // a new account of ml with one key
		name := fmt.Sprintf("fresh-%d", n)
		account("ml", name)
		return name
	}
	freshKey := func(n int) string {
		k, err := svc.CreateKey(op, "ml", "target", keystore.CreateKeyInput{Name: fmt.Sprintf("k%d", n)})
		must("fresh key", err)
		h.keys = append(h.keys, k.Key)
		return k.ID
	}
	plainFresh := func(n int) string { // a new key of plain, which plain may rotate or revoke
		k, err := svc.CreateKey(op, "ml", "plain", keystore.CreateKeyInput{Name: fmt.Sprintf("p%d", n)})
		must("fresh key of plain", err)
		h.keys = append(h.keys, k.Key)
		return k.ID
	}
	fixed := func(method, path, body string) func(int) (string, string, string) {
		return func(int) (string, string, string) { return method, path, body }
	}
	routes := []matrixRoute{
		{"create workspace", OP, 201, func(n int) (string, string, string) {
			return "POST", "/v1/workspaces", fmt.Sprintf(`{"name": "ws-%d"}`, n)
		}},
		{"list workspaces", OP, 200, fixed("GET", "/v1/workspaces", "")},
		{"read workspace", ADM, 200, fixed("GET", ws, "")},
		{"change the limit", OP, 200, func(n int) (string, string, string) {
			return "PATCH", ws, fmt.Sprintf(`{"max_service_accounts": %d}`, 100+n)
		}},
		{"whoami", ANY, 200, fixed("GET", "/v1/whoami", "")},
		{"create account", ADM, 201, func(n int) (string, string, string) {
			return "POST", sas, fmt.Sprintf(`{"name": "new-%d"}`, n)
		}},
		{"list accounts", ADM, 200, fixed("GET", sas, "")},
		{"read plain", SELF, 200, fixed("GET", sas+"/plain", "")},
		{"update account", ADM, 200, func(n int) (string, string, string) {
			return "PATCH", sas + "/target", fmt.Sprintf(`{"description": "d%d"}`, n)
		}},
		{"delete account", ADM, 204, func(n int) (string, string, string) { return "DELETE", sas + "/" + fresh(n), "" }},
		{"deactivate account", ADM, 200, func(n int) (string, string, string) { return "POST", sas + "/" + fresh(n) + "/deactivate", "" }},
		{"reactivate account", ADM, 200, func(n int) (string, string, string) {
			name := fresh(n)
			_, err := svc.DeactivateServiceAccount(op, "ml", name)
			must("deactivating "+name, err)
			return "POST", sas + "/" + name + "/reactivate", ""
		}},
		{"issue key", ADM, 201, fixed("POST", sas+"/target/keys", "{}")},
		{"list plain's keys", SELF, 200, fixed("GET", sas+"/plain/keys", "")},
		{"list plain's projects", SELF, 200, fixed("GET", sas+"/plain/projects", "")},
		{"revoke all keys", ADM, 200, func(n int) (string, string, string) { return "POST", sas + "/" + fresh(n) + "/keys/revoke-all", "" }},
		{"rotate key", ADM, 201, func(n int) (string, string, string) {
			return "POST", sas + "/target/keys/" + freshKey(n) + "/rotate", "{}"
		}},
		{"pause key", ADM, 200, func(n int) (string, string, string) {
			return "POST", sas + "/target/keys/" + freshKey(n) + "/deactivate", ""
		}},
		{"resume key", ADM, 200, func(n int) (string, string, string) {
			id := freshKey(n)
			_, err := svc.DeactivateKey(op, "ml", "target", id)
			must("pausing", err)
			return "POST", sas + "/target/keys/" + id + "/activate", ""
		}},
		{"revoke key", ADM, 204, func(n int) (string, string, string) { return "DELETE", sas + "/target/keys/" + freshKey(n), "" }},
		{"read plain's key", SELF, 200, fixed("GET", sas+"/plain/keys/"+plainKey.Last6, "")},
		{"find keys by last6", ADM, 200, fixed("GET", ws+"/keys?last6="+plainKey.Last6, "")},
		{"plain rotates its own key", SELF, 201, func(n int) (string, string, string) {
			return "POST", sas + "/plain/keys/" + plainFresh(n) + "/rotate", "{}"
		}},
		{"plain revokes its own key", SELF, 204, func(n int) (string, string, string) {
			return "DELETE", sas + "/plain/keys/" + plainFresh(n), ""
		}},
		{"assign", OWN, 200, fixed("PUT", ws+"/projects/p1/service-accounts/target", `{"role": "viewer"}`)},
		{"unassign", OWN, 204, func(n int) (string, string, string) {
			_, err := svc.SetGrant(op, "ml", "p1", "target", keystore.RoleViewer)
			must("assigning target", err)
			return "DELETE", ws + "/projects/p1/service-accounts/target", ""
		}},
		{"list project", OWN, 200, fixed("GET", ws+"/projects/p1/service-accounts", "")},
		{"assign on another project", ADM, 200, fixed("PUT", ws+"/projects/p2/service-accounts/target", `{"role": "viewer"}`)},
		{"assign on every project", ADM, 200, fixed("PUT", ws+"/projects/*/service-accounts/target", `{"role": "viewer"}`)},
		{"audit of every workspace", OP, 200, fixed("GET", "/v1/audit", "")},
		{"audit of ml", ADM, 200, fixed("GET", "/v1/audit?workspace=ml", "")},
		{"list admins", ADM, 200, fixed("GET", ws+"/admins", "")},
		{"read admin", ADM, 200, fixed("GET", ws+"/admins/sa:ci", "")},
		{"add admin", ADM, 201, func(n int) (string, string, string) { return "PUT", fmt.Sprintf("%s/admins/person:p%d", ws, n), "" }},
		// Only operators and people make an account a workspace admin: an admin account
		// could otherwise make a helper it holds the key of an admin, which would give the
		// first what it cannot give itself.
		{"make an account admin", OP, 201, func(n int) (string, string, string) { return "PUT", ws + "/admins/sa:" + fresh(n), "" }},
		{"remove admin", ADM, 204, func(n int) (string, string, string) {
			_, _, err := svc.SetWorkspaceAdmin(op, "ml", fmt.Sprintf("person:r%d", n))
			must("adding an admin", err)
			return "DELETE", fmt.Sprintf("%s/admins/person:r%d", ws, n), ""
		}},
		{"person role", OWN, 200, func(n int) (string, string, string) {
			return "PUT", fmt.Sprintf("%s/projects/p1/people/bob%d", ws, n), `{"role": "viewer"}`
		}},
		{"remove person role", OWN, 204, func(n int) (string, string, string) {
			_, err := svc.SetPersonRole(op, "ml", "p1", fmt.Sprintf("dan%d", n), keystore.RoleViewer)
			must("adding a person", err)
			return "DELETE", fmt.Sprintf("%s/projects/p1/people/dan%d", ws, n), ""
		}},
	}
	routes = append(routes, groupMatrixRoutes(svc, op, must, ADM, OWN)...)
	covered := map[string]bool{}
	n := 0
	for _, rt := range routes {
		for _, c := range callers {
			n++
			method, path, body := rt.prep(n)
			want := rt.ok
			switch {
			case c.unauth:
				want = 401
			case !slices.Contains(rt.allowed, c.name):
				want = 403
			}
			before := h.dump(t)
			status, got := h.send(t, c, method, path, body)
			covered[h.pattern(t, method, path)] = true
			if status != want {
				t.Errorf("%s as %s (%s %s): status %d, want %d: %s", rt.name, c.name, method, path, status, want, got)
				continue
			}
			if want == 401 || want == 403 {
				if !strings.Contains(got, `"message"`) {
					t.Errorf("%s as %s: a refusal without a message: %s", rt.name, c.name, got)
				}
				if after := h.dump(t); after != before {
					t.Errorf("%s as %s: refused with %d, yet the store or Redis changed", rt.name, c.name, status)
				}
			}
		}
	}
	for _, p := range h.Server.Routes() {
		if !covered[p] {
			t.Errorf("route %s is not in the access matrix", p)
		}
	}
}

// pattern returns the route pattern the server matches method and path with.
func (h *harness) pattern(t *testing.T, method, path string) string {
	t.Helper()
	req, err := http.NewRequest(method, h.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return admin.PatternOf(h.Server, req)
}

// send makes one call as c.
func (h *harness) send(t *testing.T, c matrixCaller, method, path, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, h.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" || (method != "GET" && method != "HEAD") {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(c.hdr); i += 2 {
		if c.hdr[i+1] != "" {
			req.Header.Set(c.hdr[i], c.hdr[i+1])
		}
	}
	hc := c.client
	if hc == nil {
		hc = http.DefaultClient
	}
	res, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s as %s: %v", method, path, c.name, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if found := keyRE.FindAll(b, -1); len(found) > 0 {
		for _, k := range found {
			h.keys = append(h.keys, string(k))
		}
	}
	return res.StatusCode, string(b)
}

// dump is every row of the store and every value in Redis, as text.
func (h *harness) dump(t *testing.T) string {
	t.Helper()
	db, err := sql.Open("sqlite", h.DBPath+"?_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var sb strings.Builder
	for _, table := range []string{"meta", "workspaces", "service_accounts", "api_keys", "grants", "audit", "workspace_admins", "person_roles"} {
		q := "SELECT * FROM " + table
		if table == "api_keys" {
			// last_used_at moves when the fold writes the uses of a key, refused calls
			// included (the key was used): not a change the refusal made.
			q = "SELECT id, sa_id, name, hash, last6, state, created_at, expires_at, revoked_at, successor_id FROM api_keys"
		}
		rows, err := db.Query(q)
		if err != nil {
			t.Fatalf("dumping %s: %v", table, err)
		}
		cols, _ := rows.Columns()
		var lines []string
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, fmt.Sprint(vals...))
		}
		rows.Close()
		slices.Sort(lines)
		fmt.Fprintf(&sb, "%s:\n%s\n", table, strings.Join(lines, "\n"))
	}
	ctx := context.Background()
	keys, err := h.RDB.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v, err := h.RDB.Dump(ctx, k).Result()
		if err != nil {
			t.Fatalf("dumping redis key: %v", err)
		}
		fmt.Fprintf(&sb, "redis %s %x\n", k, v)
	}
	return sb.String()
}
