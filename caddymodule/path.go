package caddymodule

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/caddyserver/caddy/v2"

	"github.com/sagate/sagate/caddymodule/httpauth"
)

// The values of escaped_slashes.
const (
	EscapedSlashesReject   = "reject"
	EscapedSlashesKeep     = "keep"
	EscapedSlashesUnescape = "unescape"
)

// escapedSlashPolicies maps the values of escaped_slashes to CleanPath's policies.
var escapedSlashPolicies = map[string]httpauth.SlashPolicy{
	EscapedSlashesReject:   httpauth.SlashReject,
	EscapedSlashesKeep:     httpauth.SlashKeep,
	EscapedSlashesUnescape: httpauth.SlashUnescape,
}

// applyPathDefaults fills escaped_slashes and sets the options cleanPath uses.
func (h *Handler) applyPathDefaults() error {
	if h.EscapedSlashes == "" {
		h.EscapedSlashes = DefaultEscapedSlash
	}
	slashes, ok := escapedSlashPolicies[h.EscapedSlashes]
	if !ok {
		return errEscapedSlashes(h.EscapedSlashes)
	}
	h.pathOpts = httpauth.PathOptions{
		ResolveDots:  boolOr(h.NormalizePath, DefaultNormalizePath),
		MergeSlashes: boolOr(h.MergeSlashes, DefaultMergeSlashes),
		Slashes:      slashes,
	}
	return nil
}

// boolOr returns *b, or def when b is nil.
func boolOr(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

func errEscapedSlashes(v string) error {
	return fmt.Errorf("escaped_slashes: %q is not %s, %s or %s", v, EscapedSlashesReject, EscapedSlashesKeep, EscapedSlashesUnescape)
}

// errStalePath means the request's replacer still reads the path as it was before
// cleanPath changed it: a handler before sagate gave the request a URL of its own.
var errStalePath = errors.New("the request's placeholders do not read the cleaned path")

// cleanPath puts r's path in the form httpauth.CleanPath gives it, in r.URL (Path
// and RawPath agreeing) and r.RequestURI, so that the project placeholder, later
// handlers and the upstream all read the path the decision is made on. Caddy's
// {http.request.uri.path*} placeholders read URL.Path of the request its server
// prepared, which shares its URL with r: the URL is changed in place, and the
// replacer is asked whether it sees the change. A clean path costs no allocation.
func (h *Handler) cleanPath(r *http.Request, repl *caddy.Replacer) error {
	u := r.URL
	if u.Opaque != "" {
		return httpauth.ErrNotAbsolute
	}
	if u.RawPath == "" && httpauth.IsCleanDecoded(u.Path) {
		return nil // what EscapedPath and CleanPath would both give back unchanged
	}
	esc := u.EscapedPath()
	clean, err := httpauth.CleanPath(esc, h.pathOpts)
	if err != nil || clean == esc {
		return err
	}
	p, err := url.PathUnescape(clean)
	if err != nil {
		return fmt.Errorf("decoding the cleaned path: %w", err) // cannot happen: CleanPath checked every escape
	}
	u.Path, u.RawPath = p, ""
	if u.EscapedPath() != clean {
		u.RawPath = clean
	}
	r.RequestURI = u.RequestURI()
	if repl != nil {
		if v, _ := repl.Get("http.request.uri.path"); v != p {
			return errStalePath
		}
	}
	return nil
}
