package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"time"

	"github.com/sagate/sagate/keystore"
)

// DefaultMaxBodyBytes bounds a request body when Config.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 64 << 10

// decodeBody decodes the request body into dst strictly: one JSON value, no unknown
// fields, nothing after it, at most s.maxBody bytes. An empty body leaves dst as it is
// when optional is true, and is an error otherwise.
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, dst any, optional bool) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return badRequest("Content-Type must be application/json")
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &httpError{status: http.StatusRequestEntityTooLarge, code: CodeTooLarge,
				message: fmt.Sprintf("request body is larger than %d bytes", mbe.Limit)}
		}
		return badRequest("reading the request body failed")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if optional {
			return nil
		}
		return badRequest("a JSON request body is required")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return badRequest("malformed JSON body: " + jsonProblem(err))
	}
	if err := dec.Decode(new(json.RawMessage)); !errors.Is(err, io.EOF) {
		return badRequest("malformed JSON body: data after the JSON object")
	}
	return nil
}

// jsonProblem describes a decoding error without echoing the input (which may hold anything).
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		if te.Field != "" {
			return fmt.Sprintf("field %q must be %s", te.Field, jsonType(te.Type))
		}
		return "the body must be a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of input"
	}
	// DisallowUnknownFields: `json: unknown field "x"`; the field name comes from the client,
	// so it is quoted and bounded.
	const prefix = "json: unknown field "
	if msg := err.Error(); len(msg) > len(prefix) && msg[:len(prefix)] == prefix {
		name, uerr := strconv.Unquote(msg[len(prefix):])
		if uerr != nil || len(name) > 64 {
			return "unknown field"
		}
		return "unknown field " + strconv.Quote(name)
	}
	return "not a valid JSON object"
}

// jsonType names the JSON type that decodes into t.
func jsonType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "a whole number"
	}
	return "of another type"
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client went away; nothing left to do
}

// pageOf reads ?page_size= and ?page_token=.
func pageOf(r *http.Request) (keystore.Page, error) {
	q := r.URL.Query()
	var p keystore.Page
	if v := q.Get("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > keystore.MaxPageSize {
			return p, badRequest(fmt.Sprintf("page_size: must be a whole number from 1 to %d", keystore.MaxPageSize))
		}
		p.Size = n
	}
	p.Token = q.Get("page_token")
	if len(p.Token) > 1024 {
		return p, badRequest("page_token: not a token from a previous answer")
	}
	return p, nil
}

// optDuration parses an optional duration field: "" is 0.
func optDuration(field, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	return keystore.ParseDuration(field, s)
}

// optRole parses an optional role: "" is no role.
func optRole(s string) (keystore.Role, error) {
	if s == "" {
		return "", nil
	}
	return keystore.ParseRole(s)
}
