package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/admin/admintest"
	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/sqlstore"
)

// TestOpenAPIRoutes checks that openapi.json describes exactly the routes the server registers.
func TestOpenAPIRoutes(t *testing.T) {
	file, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	doc := loadSpec(t, file)
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi.json is OpenAPI %s, want 3.1.0", doc.OpenAPI)
	}
	store, err := sqlstore.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "sagate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	svc, err := keystore.NewService(store, keystore.ServiceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := admin.NewServer(admin.Config{Token: admintest.Token, Service: svc})
	if err != nil {
		t.Fatal(err)
	}
	code := srv.Patterns()
	sort.Strings(code)
	spec := specOperations(doc)
	for _, p := range code {
		if !slices.Contains(spec, p) {
			t.Errorf("the server registers %q; openapi.json does not describe it", p)
		}
	}
	for _, p := range spec {
		if !slices.Contains(code, p) {
			t.Errorf("openapi.json describes %q; the server does not register it", p)
		}
	}
	if len(code) < 24 {
		t.Fatalf("the server registers only %d routes: %v", len(code), code)
	}
}

// specAPI sends requests through a specCheck.
type specAPI struct {
	t     *testing.T
	url   string
	token string
	hc    *http.Client
}

// send sends a request with the admin token unless hdr sets Authorization ("" removes it).
func (a *specAPI) send(ctx context.Context, method, path, body string, hdr ...string) (int, []byte) {
	a.t.Helper()
	r := sendRaw(a.t, ctx, a.hc, method, a.url+path, a.token, body, hdr...)
	return r.Status, r.Body
}

// expect sends a request and fails unless it answers status (and, for an error, code).
func (a *specAPI) expect(ctx context.Context, status int, code, method, path, body string, hdr ...string) []byte {
	a.t.Helper()
	got, b := a.send(ctx, method, path, body, hdr...)
	if got != status {
		a.t.Fatalf("%s %s: status %d, want %d: %s", method, path, got, status, b)
	}
	if code != "" {
		var eb admin.ErrorBody
		if err := json.Unmarshal(b, &eb); err != nil || eb.Error.Code != code {
			a.t.Fatalf("%s %s: error %s, want code %q", method, path, b, code)
		}
	}
	return b
}

// wantAPIError fails unless err is an *admin.APIError with status and code.
func wantAPIError(t *testing.T, what string, err error, status int, code string) {
	t.Helper()
	var ae *admin.APIError
	if !errors.As(err, &ae) || ae.Status != status || ae.Code != code {
		t.Fatalf("%s: error %v, want %d %s", what, err, status, code)
	}
}

// fill replaces the path parameters of an openapi.json path with values.
func fill(path string, values map[string]string) string {
	for k, v := range values {
		path = strings.ReplaceAll(path, "{"+k+"}", v)
	}
	return path
}

// TestOpenAPIRoundTrip goes through every route of a real admin (SQLite, redis-server)
// with valid calls and typical errors, and validates each request and answer against
// the description the server serves.
func TestOpenAPIRoundTrip(t *testing.T) {
	h := newHarness(t, admintest.Options{})
	file, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	served := h.must(http.StatusOK, "GET", admin.OpenAPIPath, "", "Authorization", "")
	if !bytes.Equal(served.Body, file) {
		t.Fatal("the served document differs from openapi.json")
	}
	doc := loadSpec(t, served.Body)
	check := newSpecCheck(t, doc)
	a := &specAPI{t: t, url: h.URL, token: h.Token, hc: check.client()}
	c := h.Client(t, admin.WithHTTPClient(check.client()))
	ctx := context.Background()

	ids := workflow(t, ctx, c, a)
	typicalErrors(t, ctx, doc, a, ids)

	a.expect(ctx, http.StatusOK, "", "GET", admin.OpenAPIPath, "", "Authorization", "")
	a.expect(ctx, http.StatusOK, "", "GET", "/healthz", "", "Authorization", "")
	a.expect(ctx, http.StatusOK, "", "GET", "/readyz", "", "Authorization", "")
	a.expect(ctx, http.StatusOK, "", "GET", "/metrics", "", "Authorization", "")
	h.Redis.Kill()
	b := a.expect(ctx, http.StatusServiceUnavailable, "", "GET", "/readyz", "", "Authorization", "")
	if !strings.Contains(string(b), `"redis":"unavailable"`) {
		t.Fatalf("/readyz without redis: %s", b)
	}
	check.checkCoverage()
}

// pathIDs are objects the workflow leaves in place for typicalErrors.
type pathIDs map[string]string

// TestOpenAPISchemasMatchGoTypes checks that each object of openapi.json has the JSON
// fields of the Go type the server writes and the Client reads, and that in answers
// exactly the fields without omitempty are required.
func TestOpenAPISchemasMatchGoTypes(t *testing.T) {
	file, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	doc := loadSpec(t, file)
	cases := []struct {
		schema string
		v      any
		answer bool // required ⇔ no omitempty
	}{
		{"CreateWorkspaceRequest", admin.CreateWorkspaceRequest{}, false},
		{"UpdateWorkspaceRequest", admin.UpdateWorkspaceRequest{}, false},
		{"CreateServiceAccountRequest", admin.CreateServiceAccountRequest{}, false},
		{"UpdateServiceAccountRequest", admin.UpdateServiceAccountRequest{}, false},
		{"CreateKeyRequest", admin.CreateKeyRequest{}, false},
		{"RotateKeyRequest", admin.RotateKeyRequest{}, false},
		{"SetGrantRequest", admin.SetGrantRequest{}, false},
		{"SetWorkspaceAdminRequest", struct{}{}, false},
		{"SetPersonRoleRequest", admin.SetPersonRoleRequest{}, false},
		{"WhoAmI", admin.WhoAmI{}, true},
		{"WorkspaceAdmin", keystore.WorkspaceAdmin{}, true},
		{"PersonRole", keystore.PersonRole{}, true},
		{"AuditPrincipal", keystore.AuditPrincipal{}, true},
		{"WorkspaceAdminList", admin.List[keystore.WorkspaceAdmin]{}, true},
		{"ProjectGrantList", admin.GrantList{}, true},
		{"Workspace", keystore.Workspace{}, true},
		{"ServiceAccount", keystore.ServiceAccount{}, true},
		{"ServiceAccountWithKey", admin.ServiceAccountWithKey{}, true},
		{"RevokeAllResponse", admin.RevokeAllResponse{}, true},
		{"IssuedKey", keystore.IssuedKey{}, true},
		{"APIKey", keystore.APIKey{}, true},
		{"Grant", keystore.Grant{}, true},
		{"AuditEvent", keystore.AuditEvent{}, true},
		{"Error", admin.ErrorBody{}, true},
		{"WorkspaceList", admin.List[keystore.Workspace]{}, true},
		{"ServiceAccountList", admin.List[keystore.ServiceAccount]{}, true},
		{"APIKeyList", admin.List[keystore.APIKey]{}, true},
		{"AccountGrantList", admin.AccountGrantList{}, true},
		{"AuditEventList", admin.List[keystore.AuditEvent]{}, true},
		{"CreateGroupRequest", admin.CreateGroupRequest{}, false},
		{"UpdateGroupRequest", admin.UpdateGroupRequest{}, false},
		{"SetGroupGrantRequest", admin.SetGroupGrantRequest{}, false},
		{"Group", keystore.Group{}, true},
		{"GroupDetail", keystore.GroupDetail{}, true},
		{"GroupMember", keystore.GroupMember{}, true},
		{"GroupGrant", keystore.GroupGrant{}, true},
		{"GroupList", admin.List[keystore.Group]{}, true},
		{"GroupMemberList", admin.List[keystore.GroupMember]{}, true},
		{"ProjectSummary", keystore.ProjectSummary{}, true},
		{"ProjectList", admin.List[keystore.ProjectSummary]{}, true},
	}
	for _, c := range cases {
		t.Run(c.schema, func(t *testing.T) {
			ref := doc.Components.Schemas[c.schema]
			if ref == nil || ref.Value == nil {
				t.Fatalf("openapi.json has no schema %s", c.schema)
			}
			s := ref.Value
			var props, required []string
			for name := range s.Properties {
				props = append(props, name)
			}
			sort.Strings(props)
			required = append(required, s.Required...)
			sort.Strings(required)
			fields, always := jsonFields(reflect.TypeOf(c.v))
			if !slices.Equal(props, fields) {
				t.Errorf("properties %v, Go fields %v", props, fields)
			}
			if c.answer && !slices.Equal(required, always) {
				t.Errorf("required %v, Go fields always written %v", required, always)
			}
			if s.AdditionalProperties.Has == nil || *s.AdditionalProperties.Has {
				t.Errorf("additionalProperties is not false")
			}
		})
	}
}

// jsonFields returns the JSON names of t's fields (embedded structs flattened), and those
// without omitempty, each sorted.
func jsonFields(t reflect.Type) (all, always []string) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if f.Anonymous && tag == "" {
			a, b := jsonFields(f.Type)
			all, always = append(all, a...), append(always, b...)
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		all = append(all, name)
		if !strings.Contains(opts, "omitempty") {
			always = append(always, name)
		}
	}
	sort.Strings(all)
	sort.Strings(always)
	return all, always
}
