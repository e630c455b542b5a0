package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Cookie names. The session cookie holds only a random 256-bit id; the principal and the
// CSRF token stay on the server, and the credential is not kept at all.
const (
	sessionCookie = "sagate_console"
	// preCookie holds a random nonce before sign-in; the sign-in form's CSRF token is an
	// HMAC of it, so that no state is kept for visitors who have not signed in.
	preCookie = "sagate_console_pre"
	// csrfField names the hidden form field that carries the CSRF token.
	csrfField = "csrf"
)

// session is one signed-in browser. Fields are read and written under sessions.mu.
type session struct {
	id        [sha256.Size]byte // sha256 of the cookie value: the value itself is not kept
	csrf      string
	viaProxy  bool      // FromProxy vouches for it; else Config.Recheck checks principal
	principal Principal // as Authenticate or FromProxy returned it: hashes, never the credential
	created   time.Time
	seen      time.Time
	flash     string
	spent     [][sha256.Size]byte // hashes of CSRF tokens a key-issuing form used (once.go)
	reveal    *keyData            // a new key to show once at newKeyPath (once.go)
}

// sessions is the in-memory session store. Sessions do not survive a restart: one signs in again.
type sessions struct {
	mu       sync.Mutex
	byID     map[[sha256.Size]byte]*session
	idle     time.Duration
	absolute time.Duration
	now      func() time.Time
	preKey   []byte // HMAC key of the sign-in form's CSRF token
}

func newSessions(idle, absolute time.Duration, now func() time.Time) *sessions {
	return &sessions{byID: map[[sha256.Size]byte]*session{}, idle: idle, absolute: absolute, now: now, preKey: randomBytes(32)}
}

// randomBytes returns n bytes from crypto/rand, which never fails on supported systems.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func randomToken() string { return base64.RawURLEncoding.EncodeToString(randomBytes(32)) }

// create starts a session for p and returns its cookie value.
func (s *sessions) create(p Principal, viaProxy bool) string {
	id := randomToken()
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(now)
	s.byID[sha256.Sum256([]byte(id))] = &session{
		id: sha256.Sum256([]byte(id)), csrf: randomToken(), viaProxy: viaProxy,
		principal: p, created: now, seen: now,
	}
	return id
}

// get returns a copy of the live session named by the cookie value and marks it used;
// ok is false for an unknown or expired session (an expired one is removed).
func (s *sessions) get(cookie string) (session, bool) {
	if cookie == "" {
		return session{}, false
	}
	id := sha256.Sum256([]byte(cookie))
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.byID[id]
	if !ok {
		return session{}, false
	}
	if s.expired(ss, now) {
		delete(s.byID, id)
		return session{}, false
	}
	ss.seen = now
	return *ss, true
}

func (s *sessions) expired(ss *session, now time.Time) bool {
	return now.Sub(ss.seen) >= s.idle || now.Sub(ss.created) >= s.absolute
}

// sweepLocked drops expired sessions; called on create, so the map stays bounded by live sessions.
func (s *sessions) sweepLocked(now time.Time) {
	for id, ss := range s.byID {
		if s.expired(ss, now) {
			delete(s.byID, id)
		}
	}
}

// end removes a session.
func (s *sessions) end(id [sha256.Size]byte) {
	s.mu.Lock()
	delete(s.byID, id)
	s.mu.Unlock()
}

// setFlash leaves a message for the session's next page.
func (s *sessions) setFlash(id [sha256.Size]byte, msg string) {
	s.mu.Lock()
	if ss, ok := s.byID[id]; ok {
		ss.flash = msg
	}
	s.mu.Unlock()
}

// takeFlash returns and clears the session's message.
func (s *sessions) takeFlash(id [sha256.Size]byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.byID[id]
	if !ok {
		return ""
	}
	msg := ss.flash
	ss.flash = ""
	return msg
}

// preToken is the sign-in form's CSRF token for a pre-session nonce.
func (s *sessions) preToken(nonce string) string {
	m := hmac.New(sha256.New, s.preKey)
	m.Write([]byte(nonce))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// tokenEqual compares two tokens in constant time (hashed first, so lengths do not show).
func tokenEqual(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return a != "" && subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// setCookie sets a console cookie: HttpOnly, SameSite=Strict, path Path, Secure under
// TLS or with Config.SecureCookies. An empty value deletes it.
func (con *Console) setCookie(w http.ResponseWriter, r *http.Request, name, value string) {
	c := &http.Cookie{Name: name, Value: value, Path: Path, HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil || con.cfg.SecureCookies}
	if value == "" {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

// cookieValue returns the value of the named cookie, "" if absent.
func cookieValue(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

// sameOrigin reports whether a state-changing request comes from the console's own
// origin. Sec-Fetch-Site decides when the browser sends it (every current browser does,
// over HTTPS and on localhost); otherwise the Origin header, else the Referer, must name
// the host the request was sent to. A request that shows none of them is refused.
// (With Referrer-Policy: no-referrer, browsers send "Origin: null" on form posts, so
// over plain HTTP to a host other than localhost the console refuses changes: serve it
// over HTTPS.)
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin":
		return true
	case "":
	default:
		return false
	}
	for _, h := range []string{"Origin", "Referer"} {
		v := r.Header.Get(h)
		if v == "" || v == "null" {
			continue
		}
		u, err := url.Parse(v)
		return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host == r.Host
	}
	return false
}
