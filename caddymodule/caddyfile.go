package caddymodule

import (
	"slices"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("sagate", parseCaddyfile)
	// Users need no "order" line. sagate takes the place of Caddy's own auth
	// directives (right after basic_auth, before request_header, handle, route,
	// respond and reverse_proxy), so a site-level sagate also guards every handle
	// and route block of the site. "Before reverse_proxy" would run after
	// handle/route/respond: a site-level sagate would then not protect an API
	// proxied inside a handle block. An explicit "order sagate before
	// reverse_proxy" still works.
	httpcaddyfile.RegisterDirectiveOrder("sagate", httpcaddyfile.After, "basic_auth")
}

// parseCaddyfile sets up the handler from Caddyfile tokens.
func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(Handler)
	if err := m.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	return m, nil
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	sagate [<matcher>] [<redis_url>] {
//		signing_keys          <public_key> [<public_key>...]
//		redis                 <redis_url>
//		workspace             <workspace>...|*
//		project               <placeholder or text>
//		min_role              viewer|contributor|owner
//		cache_ttl             <duration>
//		cache_size            <entries>
//		stale_if_error        <duration>|off
//		negative_ttl          <duration>
//		lookup_timeout        <duration>
//		realm                 <realm>
//		forward_authorization [true|false]
//		omit_headers          <header>...
//		normalize_path        [true|false]
//		merge_slashes         [true|false]
//		escaped_slashes       reject|keep|unescape
//		mode                  enforce|shadow
//		handle_errors         [true|false]
//		assertion {
//			key_file <file>
//			audience <audience>
//		}
//		headers {
//			service_account_id <name>
//			service_account    <name>
//			workspace          <name>
//			key_id             <name>
//			project            <name>
//			role               <name>
//		}
//	}
//
// signing_keys is required: the public keys of the admin's signing key
// ("sagate-ed25519:..."; `sagate signing-key public FILE` prints it, and the admin
// logs it when it starts), one or more, and the option may be repeated (all the keys
// given are trusted). Every other option is optional and may appear once; see Handler
// for meanings and defaults. The redis URL may be given after the directive or in the
// block, not both.
// The request path is checked before anything reads it: normalize_path resolves
// "." and ".." segments, also %2e-encoded (default true; false refuses them with
// 400); merge_slashes turns "//" into "/" (default true; false refuses it with
// 400); escaped_slashes says what %2F, %5C and a backslash get (default reject,
// 400). Invalid percent-encodings, control characters and a ".." above the root
// are always refused with 400.
// Durations are Go durations or whole days ("1d").
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume directive name
	if d.NextArg() {
		h.Redis = d.Val()
		if d.NextArg() {
			return d.ArgErr()
		}
	}
	seen := make(map[string]bool)
	for d.NextBlock(0) {
		opt := d.Val()
		if opt == "signing_keys" {
			// An empty argument is an unset {$ENV} placeholder.
			keys := slices.DeleteFunc(d.RemainingArgs(), func(k string) bool { return k == "" })
			if len(keys) == 0 {
				return d.Errf("sagate: %v", errNoSigningKeys)
			}
			if _, err := parseSigningKeys(keys); err != nil {
				return d.Errf("sagate: %v", err)
			}
			h.SigningKeys = append(h.SigningKeys, keys...)
			continue
		}
		if seen[opt] {
			return d.Errf("sagate: %s given more than once", opt)
		}
		seen[opt] = true
		var err error
		switch opt {
		case "redis":
			if h.Redis != "" {
				return d.Err("sagate: redis given both after the directive and in the block")
			}
			h.Redis, err = oneArg(d)
		case "workspace":
			h.Workspaces = d.RemainingArgs()
			if len(h.Workspaces) == 0 {
				err = d.ArgErr()
			}
		case "project":
			h.Project, err = oneArg(d)
		case "min_role":
			h.MinRole, err = oneArg(d)
		case "realm":
			h.Realm, err = oneArg(d)
		case "cache_ttl":
			h.CacheTTL, err = durationArg(d)
		case "stale_if_error":
			if d.CountRemainingArgs() == 1 && d.NextArg() {
				if d.Val() == "off" {
					h.StaleIfError = -1
					break
				}
				d.Prev()
			}
			h.StaleIfError, err = durationArg(d)
		case "negative_ttl":
			h.NegativeTTL, err = durationArg(d)
		case "lookup_timeout":
			h.LookupTimeout, err = durationArg(d)
		case "cache_size":
			var s string
			if s, err = oneArg(d); err == nil {
				h.CacheSize, err = strconv.Atoi(s)
				if err != nil || h.CacheSize <= 0 {
					return d.Errf("sagate: cache_size %q is not a positive number", s)
				}
			}
		case "forward_authorization":
			h.ForwardAuthorization, err = boolArg(d)
		case "handle_errors":
			h.HandleErrors, err = boolArg(d)
		case "normalize_path":
			h.NormalizePath, err = boolPtrArg(d)
		case "merge_slashes":
			h.MergeSlashes, err = boolPtrArg(d)
		case "escaped_slashes":
			if h.EscapedSlashes, err = oneArg(d); err == nil {
				if _, ok := escapedSlashPolicies[h.EscapedSlashes]; !ok {
					return d.Errf("sagate: %v", errEscapedSlashes(h.EscapedSlashes))
				}
			}
		case "mode":
			if h.Mode, err = oneArg(d); err == nil {
				if err := validateMode(h.Mode); err != nil {
					return d.Errf("sagate: %v", err)
				}
			}
		case "assertion":
			h.Assertion = new(Assertion)
			err = h.Assertion.unmarshal(d)
		case "headers":
			err = h.unmarshalHeaders(d)
		case "omit_headers":
			h.OmitHeaders = d.RemainingArgs()
			if len(h.OmitHeaders) == 0 {
				return d.ArgErr()
			}
			if err := validateOmitHeaders(h.OmitHeaders); err != nil {
				return d.Errf("sagate: %v", err)
			}
		default:
			return d.Errf("sagate: unknown option %q", opt)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// unmarshalHeaders parses the headers { <which> <name> ... } block.
func (h *Handler) unmarshalHeaders(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	n := new(HeaderNames)
	fields := map[string]*string{
		"service_account_id": &n.ServiceAccountID,
		"service_account":    &n.ServiceAccount,
		"workspace":          &n.Workspace,
		"key_id":             &n.KeyID,
		"project":            &n.Project,
		"role":               &n.Role,
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		which := d.Val()
		f, ok := fields[which]
		if !ok {
			return d.Errf("sagate: unknown header %q in headers (want %s)", which, strings.Join(headerFields[:], ", "))
		}
		if *f != "" {
			return d.Errf("sagate: header %s given more than once", which)
		}
		v, err := oneArg(d)
		if err != nil {
			return err
		}
		if !validHeaderName(v) {
			return d.Errf("sagate: %q is not a valid header name", v)
		}
		*f = v
	}
	h.Headers = n
	return nil
}

// oneArg reads exactly one argument for the current option.
func oneArg(d *caddyfile.Dispenser) (string, error) {
	if !d.NextArg() {
		return "", d.ArgErr()
	}
	v := d.Val()
	if d.NextArg() {
		return "", d.ArgErr()
	}
	return v, nil
}

// boolArg reads an optional true or false for the current option; none means true.
func boolArg(d *caddyfile.Dispenser) (bool, error) {
	opt := d.Val()
	if !d.NextArg() {
		return true, nil
	}
	v, err := strconv.ParseBool(d.Val())
	if err != nil {
		return false, d.Errf("sagate: %s %q is not true or false", opt, d.Val())
	}
	if d.NextArg() {
		return false, d.ArgErr()
	}
	return v, nil
}

// boolPtrArg is boolArg for an option whose default is not false.
func boolPtrArg(d *caddyfile.Dispenser) (*bool, error) {
	v, err := boolArg(d)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// durationArg reads one duration argument.
func durationArg(d *caddyfile.Dispenser) (caddy.Duration, error) {
	opt := d.Val()
	s, err := oneArg(d)
	if err != nil {
		return 0, err
	}
	v, err := caddy.ParseDuration(s)
	if err != nil {
		return 0, d.Errf("sagate: %s %q is not a duration: %v", opt, s, err)
	}
	if v < 0 {
		return 0, d.Errf("sagate: %s must not be negative", opt)
	}
	return caddy.Duration(v), nil
}

// Interface guards
var _ caddyfile.Unmarshaler = (*Handler)(nil)
