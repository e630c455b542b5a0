package admin_test

import (
	"bytes"
	"net/http"
	"os"
	"testing"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/admin/admintest"
)

// TestOpenAPIServed checks that GET /v1/openapi.json answers the file without a token,
// while the routes it describes still need one.
func TestOpenAPIServed(t *testing.T) {
	h := newHarness(t, admintest.Options{})
	file, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, auth := range []string{"", "Bearer wrong-token-0123456789abcdef", "Bearer " + h.Token} {
		r := h.must(http.StatusOK, "GET", admin.OpenAPIPath, "", "Authorization", auth)
		if !bytes.Equal(r.Body, file) {
			t.Fatalf("with a token %v: the served document differs from openapi.json", auth != "")
		}
	}
	h.fail(http.StatusUnauthorized, admin.CodeUnauthenticated, "GET", "/v1/workspaces", "", "Authorization", "")
	h.fail(http.StatusMethodNotAllowed, admin.CodeMethodNotAllowed, "POST", admin.OpenAPIPath, "", "Authorization", "")
}
