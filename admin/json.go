package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/sagate/sagate/keystore"
)

// DefaultMaxBodyBytes bounds a request body when Config.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 64 << 10

// decodeBody decodes the request body into dst strictly: one JSON value, no unknown
// fields, no field named in other letter case than dst's JSON tag (encoding/json would
// take {"NAME": …} for "name"), no field given twice, nothing after it, at most s.maxBody bytes. An empty body leaves dst as it is
// when optional is true, and is an error otherwise. The Content-Type was checked before
// the route ran (crossSite).
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, dst any, optional bool) error {
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
	if err := exactFields(body, dst); err != nil {
		return err
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

// exactFields checks the field names of the JSON object in body against dst's JSON
// names, exactly: a name that differs only in letter case, an unknown name and a name
// given twice are a 400 that names the field. A body that is not a well-formed object is
// left to the decoder, which says what is wrong with it.
func exactFields(body []byte, dst any) error {
	names := jsonNames(reflect.TypeOf(dst))
	if names == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	seen := make(map[string]bool, len(names))
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil
		}
		name, _ := t.(string)
		switch {
		case seen[name]:
			return badRequest("malformed JSON body: field " + quoteField(name) + " given twice")
		case !names[name]:
			for n := range names {
				if strings.EqualFold(n, name) {
					return badRequest("malformed JSON body: unknown field " + quoteField(name) +
						" (field names are case-sensitive: " + strconv.Quote(n) + ")")
				}
			}
			return badRequest("malformed JSON body: unknown field " + quoteField(name))
		}
		seen[name] = true
		if err := dec.Decode(new(json.RawMessage)); err != nil {
			return nil
		}
	}
	return nil
}

// jsonNames returns the JSON field names of the struct t points to; nil when t is not a
// pointer to a struct.
func jsonNames(t reflect.Type) map[string]bool {
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return nil
	}
	t = t.Elem()
	names := make(map[string]bool, t.NumField())
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		names[name] = true
	}
	return names
}

// quoteField quotes a field name the client sent, bounded, for an error message.
func quoteField(name string) string {
	if len(name) > 64 {
		return strconv.Quote(name[:64] + "…")
	}
	return strconv.Quote(name)
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
