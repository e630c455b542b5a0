package admin_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/admin/admintest"
)

// Field names are exact: encoding/json alone would take {"NAME": …} for "name", so that a
// client could smuggle a field past a proxy or a review that looks for the exact name.
func TestAPIFieldNamesAreExact(t *testing.T) {
	h := newHarness(t, admintest.Options{})
	h.workspace("ml-team")
	base := "/v1/workspaces/ml-team/service-accounts"
	cases := []struct {
		name, method, path, body, field string
	}{
		{"workspace NAME", "POST", "/v1/workspaces", `{"NAME": "other"}`, `"NAME"`},
		{"workspace Max_Service_Accounts", "POST", "/v1/workspaces", `{"name": "other", "Max_Service_Accounts": 3}`, `"Max_Service_Accounts"`},
		{"account Description", "POST", base, `{"name": "bot", "Description": "x"}`, `"Description"`},
		{"account create_KEY", "POST", base, `{"name": "bot", "create_KEY": false}`, `"create_KEY"`},
		{"account name twice", "POST", base, `{"name": "bot", "name": "other-bot"}`, `"name" given twice`},
		{"grant ROLE", "PUT", "/v1/workspaces/ml-team/projects/p/service-accounts/bot", `{"ROLE": "owner"}`, `"ROLE"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.fail(http.StatusBadRequest, "invalid_argument", c.method, c.path, c.body)
			if msg := decode[admin.ErrorBody](t, r).Error.Message; !strings.Contains(msg, c.field) {
				t.Fatalf("the error does not name the field %s: %s", c.field, r.Body)
			}
		})
	}
	// Nothing was created by the refused requests.
	if r := h.must(http.StatusOK, "GET", "/v1/workspaces", ""); strings.Contains(string(r.Body), "other") {
		t.Fatalf("a refused request created a workspace: %s", r.Body)
	}
	h.fail(http.StatusNotFound, "not_found", "GET", base+"/bot", "")
}

// Descriptions refuse characters that hide or reorder text (here through the API; the rule is keystore.ValidateText).
func TestAPIDescriptionRefusesHiddenCharacters(t *testing.T) {
	h := newHarness(t, admintest.Options{})
	h.workspace("ml-team")
	h.account("ml-team", "bot")
	for _, d := range []string{"deploy\u202egnp.exe", "a\u2066b\u2069", "a\u200bb", "a\u200fb", "\ufeffa", "a\x1b[2Jb", "a\rb"} {
		h.fail(http.StatusBadRequest, "invalid_argument", "POST", "/v1/workspaces/ml-team/service-accounts", js(map[string]any{"name": "other", "description": d}))
		h.fail(http.StatusBadRequest, "invalid_argument", "PATCH", "/v1/workspaces/ml-team/service-accounts/bot", js(map[string]any{"description": d}))
	}
	h.must(http.StatusOK, "PATCH", "/v1/workspaces/ml-team/service-accounts/bot", js(map[string]any{"description": "Zoë's CI\n日本語 ✓"}))
}
