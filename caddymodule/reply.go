package caddymodule

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// reason is why a request was refused. Each has a reply prepared at Provision.
type reason uint8

const (
	reasonNoKey       reason = iota // 401, no error attribute
	reasonAmbiguous                 // 400 invalid_request
	reasonBadPath                   // 400 invalid_request
	reasonMalformed                 // 401 invalid_token
	reasonUnknown                   // 401 invalid_token: no such key, revoked, deactivated
	reasonExpired                   // 401 invalid_token
	reasonWorkspace                 // 403 insufficient_scope
	reasonNoProject                 // 403 insufficient_scope
	reasonBadProject                // 403 insufficient_scope
	reasonNoGrant                   // 403 insufficient_scope
	reasonLowRole                   // 403 insufficient_scope
	reasonUnavailable               // 503
	reasonRateLimited               // 429: the account's rate limit (ratelimit)
	numReasons
)

// reasonSpec is the fixed text of a refusal.
type reasonSpec struct {
	status      int
	code        string // RFC 6750 error code; "" in WWW-Authenticate for reasonNoKey
	bodyCode    string // "error" in the JSON body
	description string // never holds anything the client sent
	result      result
}

var reasonSpecs = [numReasons]reasonSpec{
	reasonNoKey:       {http.StatusUnauthorized, "", "unauthorized", "a bearer key is required", resultNoKey},
	reasonAmbiguous:   {http.StatusBadRequest, "invalid_request", "invalid_request", "several Authorization headers", resultBadRequest},
	reasonBadPath:     {http.StatusBadRequest, "invalid_request", "invalid_request", "the request path is ambiguous or malformed", resultBadRequest},
	reasonMalformed:   {http.StatusUnauthorized, "invalid_token", "invalid_token", "the key is malformed", resultInvalidToken},
	reasonUnknown:     {http.StatusUnauthorized, "invalid_token", "invalid_token", "the key is unknown, revoked or deactivated", resultInvalidToken},
	reasonExpired:     {http.StatusUnauthorized, "invalid_token", "invalid_token", "the key has expired", resultInvalidToken},
	reasonWorkspace:   {http.StatusForbidden, "insufficient_scope", "insufficient_scope", "the key belongs to another workspace", resultForbidden},
	reasonNoProject:   {http.StatusForbidden, "insufficient_scope", "insufficient_scope", "no project was given", resultForbidden},
	reasonBadProject:  {http.StatusForbidden, "insufficient_scope", "insufficient_scope", "the project name is not valid", resultForbidden},
	reasonNoGrant:     {http.StatusForbidden, "insufficient_scope", "insufficient_scope", "the service account has no role in this project", resultForbidden},
	reasonLowRole:     {http.StatusForbidden, "insufficient_scope", "insufficient_scope", "the service account's role in this project is too low", resultForbidden},
	reasonUnavailable: {http.StatusServiceUnavailable, "", "temporarily_unavailable", "the key could not be checked, retry later", resultUnavailable},
	reasonRateLimited: {http.StatusTooManyRequests, "", "rate_limited", "the service account's rate limit is exceeded, retry later", resultRateLimited},
}

// reply is a refusal rendered once for a realm.
type reply struct {
	status          int
	wwwAuthenticate string // "" for none
	body            []byte
	contentLength   string
}

// replies holds the rendered refusals of one handler.
type replies [numReasons]reply

// newReplies renders every refusal for realm (already validated: no quote or backslash).
func newReplies(realm string) replies {
	var rs replies
	for i, spec := range reasonSpecs {
		r := reply{status: spec.status}
		if spec.status == http.StatusUnauthorized || spec.status == http.StatusForbidden || spec.status == http.StatusBadRequest {
			r.wwwAuthenticate = `Bearer realm="` + realm + `"`
			if spec.code != "" {
				r.wwwAuthenticate += `, error="` + spec.code + `", error_description="` + spec.description + `"`
			}
		}
		body, err := json.Marshal(struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}{spec.bodyCode, spec.description})
		if err != nil {
			panic("sagate: rendering a fixed JSON body: " + err.Error()) // cannot happen: two strings
		}
		r.body = append(body, '\n')
		r.contentLength = strconv.Itoa(len(r.body))
		rs[i] = r
	}
	return rs
}

// Placeholders set on a refusal handed to Caddy's error handling (Handler.HandleErrors).
const (
	phAuthError          = "http.auth.sagate.error"
	phRefusal            = "sagate.refusal"
	phRefusalCode        = "sagate.refusal.error"
	phRefusalDescription = "sagate.refusal.description"
)

// refusalErrors are the refusals as errors, for caddyhttp.Error: the fixed
// description, never anything the client sent.
var refusalErrors = func() [numReasons]error {
	var es [numReasons]error
	for i, spec := range reasonSpecs {
		es[i] = errors.New(spec.description)
	}
	return es
}()

// handOver sets the refusal's protocol headers and placeholders and returns it as
// a caddyhttp.Error, for the site's handle_errors routes to answer.
func (r *reply) handOver(w http.ResponseWriter, repl *caddy.Replacer, why reason, retryAfter time.Duration) error {
	spec := &reasonSpecs[why]
	r.writeHeaders(w.Header(), retryAfter)
	if repl != nil {
		repl.Set(phAuthError, spec.description)
		repl.Set(phRefusal, reasonNames[why])
		repl.Set(phRefusalCode, spec.bodyCode)
		repl.Set(phRefusalDescription, spec.description)
	}
	return caddyhttp.Error(r.status, refusalErrors[why])
}

// write sends the refusal; retryAfter is the wait a 429 names in Retry-After, in whole
// seconds rounded up (at least 1). Header values are fresh slices: a later handler may
// change them in place.
func (r *reply) write(w http.ResponseWriter, retryAfter time.Duration) {
	h := w.Header()
	h["Content-Type"] = []string{"application/json; charset=utf-8"}
	r.writeHeaders(h, retryAfter)
	h["Content-Length"] = []string{r.contentLength}
	w.WriteHeader(r.status)
	_, _ = w.Write(r.body)
}

// writeHeaders sets the headers every refusal carries, however its body is written.
func (r *reply) writeHeaders(h http.Header, retryAfter time.Duration) {
	h["Cache-Control"] = []string{"no-store"}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	if r.wwwAuthenticate != "" {
		h["Www-Authenticate"] = []string{r.wwwAuthenticate}
	}
	switch r.status {
	case http.StatusServiceUnavailable:
		h["Retry-After"] = []string{"1"}
	case http.StatusTooManyRequests:
		h["Retry-After"] = []string{retryAfterSeconds(retryAfter)}
	}
}

// retryAfterSeconds is Retry-After's value for a wait of d: whole seconds, rounded up,
// at least 1.
func retryAfterSeconds(d time.Duration) string {
	return strconv.FormatInt(max(1, int64((d+time.Second-1)/time.Second)), 10)
}
