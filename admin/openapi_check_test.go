package admin_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// loadSpec parses and validates an OpenAPI document.
func loadSpec(t *testing.T, b []byte) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		t.Fatalf("loading openapi.json: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI document: %v", err)
	}
	return doc
}

// specOperations returns "METHOD /path" for every operation of doc, sorted.
func specOperations(doc *openapi3.T) []string {
	var ops []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			ops = append(ops, method+" "+path)
		}
	}
	sort.Strings(ops)
	return ops
}

// specCheck is an http.RoundTripper that validates every request it sends and every
// answer it gets against the OpenAPI document, and records which operations answered
// which statuses.
type specCheck struct {
	t      *testing.T
	doc    *openapi3.T
	router routers.Router
	next   http.RoundTripper

	mu   sync.Mutex
	seen map[string]map[int]int // "GET /v1/audit" → status → count
}

func newSpecCheck(t *testing.T, doc *openapi3.T) *specCheck {
	t.Helper()
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("routing openapi.json: %v", err)
	}
	return &specCheck{t: t, doc: doc, router: r, next: http.DefaultTransport, seen: map[string]map[int]int{}}
}

// client returns an http.Client that sends through c.
func (c *specCheck) client() *http.Client { return &http.Client{Transport: c} }

type invalidKey struct{}

// specInvalid marks the requests sent with ctx as ones the description must refuse; the
// server must then answer an error.
func specInvalid(ctx context.Context) context.Context {
	return context.WithValue(ctx, invalidKey{}, true)
}

// errNoBearer is the answer of bearerPresent to a request without a Bearer credential.
var errNoBearer = errors.New("no Bearer credential")

// bearerPresent is the description's security check: a Bearer credential is present.
// Whether it is the right token is the server's business (401).
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	vals := in.RequestValidationInput.Request.Header.Values("Authorization")
	if len(vals) != 1 {
		return errNoBearer
	}
	scheme, cred, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(cred) == "" {
		return errNoBearer
	}
	return nil
}

// RoundTrip validates req, sends it, and validates the answer.
func (c *specCheck) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	wantInvalid, _ := ctx.Value(invalidKey{}).(bool)
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, fmt.Errorf("reading the request body: %w", err)
		}
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	what := req.Method + " " + req.URL.RequestURI()
	vreq := req.Clone(ctx)
	vreq.Body = io.NopCloser(bytes.NewReader(body))
	route, params, err := c.router.FindRoute(vreq)
	if err != nil {
		c.t.Errorf("%s: openapi.json has no operation for it: %v", what, err)
		return c.next.RoundTrip(req)
	}
	// The gorillamux router matches the escaped path and hands over escaped values
	// ("%2A" for the project "*"); the description constrains the values themselves.
	for k, v := range params {
		if params[k], err = url.PathUnescape(v); err != nil {
			c.t.Errorf("%s: path parameter %s: %v", what, k, err)
		}
	}
	in := &openapi3filter.RequestValidationInput{
		Request: vreq, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: bearerPresent, MultiError: true},
	}
	rerr := openapi3filter.ValidateRequest(ctx, in)
	switch {
	case wantInvalid && rerr == nil:
		c.t.Errorf("%s: openapi.json accepts a request the test sends as invalid", what)
	case !wantInvalid && rerr != nil:
		c.t.Errorf("%s: openapi.json refuses the request: %v", what, rerr)
	}
	res, err := c.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	rb, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	res.Body = io.NopCloser(bytes.NewReader(rb))
	if wantInvalid && res.StatusCode < 400 {
		c.t.Errorf("%s: openapi.json refuses the request (%v), but the server answered %d", what, rerr, res.StatusCode)
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 res.StatusCode,
		Header:                 res.Header,
		Body:                   io.NopCloser(bytes.NewReader(rb)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		shown := ""
		if res.StatusCode >= 400 { // error bodies never hold a secret
			shown = ": " + string(rb)
		}
		// kin-openapi's message quotes the value, which may hold an issued key.
		msg := keyRE.ReplaceAllString(err.Error(), "sak_…")
		c.t.Errorf("%s: the answer %d does not match openapi.json: %s%s", what, res.StatusCode, msg, shown)
	}
	c.mu.Lock()
	op := route.Method + " " + route.Path
	if c.seen[op] == nil {
		c.seen[op] = map[int]int{}
	}
	c.seen[op][res.StatusCode]++
	c.mu.Unlock()
	return res, nil
}

// checkCoverage fails unless every operation of the description answered a success,
// every operation that needs the token answered an error, and every status the
// description names except 500 was seen at least once.
func (c *specCheck) checkCoverage() {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	documented := map[int]bool{}
	seen := map[int]bool{}
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			name := method + " " + path
			ok, failed := false, false
			for status := range c.seen[name] {
				seen[status] = true
				ok = ok || status < 300
				failed = failed || status >= 400
			}
			open := op.Security != nil && len(*op.Security) == 0
			if !ok {
				c.t.Errorf("%s: never answered a success in this test", name)
			}
			if !open && !failed {
				c.t.Errorf("%s: never answered an error in this test", name)
			}
			for code := range op.Responses.Map() {
				var n int
				if _, err := fmt.Sscanf(code, "%d", &n); err == nil {
					documented[n] = true
				}
			}
			c.t.Logf("%-70s %v", name, c.seen[name])
		}
	}
	for status := range documented {
		if !seen[status] && status != http.StatusInternalServerError {
			c.t.Errorf("status %d is in openapi.json but no operation answered it in this test", status)
		}
	}
}
