package admin

import (
	"errors"
	"net/http"
	"net/netip"
	"strings"

	"github.com/sagate/sagate/keystore"
)

// ActorHeader names a header older clients sent to name the audit actor. The audit trail
// now records the authenticated principal, so a request that carries it is refused (400)
// rather than have its claim silently dropped.
const ActorHeader = "X-Sagate-Actor"

// realm is the WWW-Authenticate realm of the admin API.
const realm = "sagate-admin"

// authError is a failed authentication; its message is safe to show and never echoes a credential.
type authError struct{ msg string }

func (e *authError) Error() string { return e.msg }

const msgNoCredential = "missing or invalid credential: send Authorization: Bearer <operator token or sak_ service-account key>"

// authenticate returns the principal of r:
//   - a person, when the proxy user header is configured, present, and r comes from a
//     trusted proxy (the same header from any other address is refused, not ignored);
//   - else the service account of a sak_ Bearer key, checked live against the store here,
//     for every route alike (the Service method reads it again in its own transaction,
//     so a key revoked in between is refused there too);
//   - else the operator whose token is the Bearer credential.
func (s *Server) authenticate(r *http.Request) (keystore.Principal, error) {
	if s.userHeader != "" {
		if vals := r.Header.Values(s.userHeader); len(vals) > 0 {
			return s.person(r, vals)
		}
	}
	vals := r.Header.Values("Authorization")
	if len(vals) != 1 {
		return keystore.Principal{}, &authError{msgNoCredential}
	}
	scheme, cred, ok := strings.Cut(vals[0], " ")
	cred = strings.TrimSpace(cred)
	if !ok || !strings.EqualFold(scheme, "Bearer") || cred == "" {
		return keystore.Principal{}, &authError{msgNoCredential}
	}
	if strings.HasPrefix(cred, keystore.KeyPrefix) {
		p, err := s.svc.Authenticate(r.Context(), cred)
		var ke *keystore.Error
		if errors.As(err, &ke) && ke.Kind == keystore.KindUnauthenticated {
			return keystore.Principal{}, &authError{ke.Message}
		}
		return p, err
	}
	name, ok := s.ops.lookup(cred)
	if !ok {
		return keystore.Principal{}, &authError{msgNoCredential}
	}
	return keystore.Operator(name), nil
}

// person takes a person's name from the proxy user header, if r comes from a trusted proxy.
func (s *Server) person(r *http.Request, vals []string) (keystore.Principal, error) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil || !s.trusted(ap.Addr().Unmap()) {
		return keystore.Principal{}, &authError{s.userHeader + " is accepted only from a trusted proxy (--trusted-proxies); this request did not come through one"}
	}
	if len(vals) != 1 {
		return keystore.Principal{}, &authError{s.userHeader + " must be given once"}
	}
	name := strings.TrimSpace(vals[0])
	if keystore.ValidatePersonName(name) != nil {
		return keystore.Principal{}, &authError{s.userHeader + " must be 1 to 128 printable characters without spaces"}
	}
	return keystore.Person(name, ap.Addr().Unmap().String()), nil
}

// trusted reports whether a is in a trusted proxy prefix.
func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.trustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// unauthenticated answers 401 with a Bearer challenge and msg, which never echoes what was sent.
func unauthenticated(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`"`)
	writeErrorBody(w, http.StatusUnauthorized, CodeUnauthenticated, msg)
}

// ParseTrustedProxies parses a comma-separated list of CIDR prefixes or single addresses
// ("10.0.0.0/8,127.0.0.1").
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, errors.New("trusted proxies: " + f + " is neither an address nor a CIDR prefix")
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, errors.New("trusted proxies: " + f + " is neither an address nor a CIDR prefix")
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
