package admin

import (
	_ "embed"
	"net/http"
)

// OpenAPIPath is where the server serves openapi.json.
const OpenAPIPath = "/v1/openapi.json"

// openapiJSON is the OpenAPI 3.1 description of the admin API. The tests send real
// requests to every route, validate them and their answers against it, and check that
// it names exactly the routes the server registers.
//
//go:embed openapi.json
var openapiJSON []byte

// serveOpenAPI answers GET /v1/openapi.json with openapiJSON.
//
// It needs no admin token, as Kong's and Grafana's API descriptions need none: the
// document is the one in the source tree, it holds nothing from the store, and tools
// (Swagger UI, client generators) fetch it without credentials. Every route it
// describes still needs the token.
func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(openapiJSON) // the client went away; nothing left to do
}
