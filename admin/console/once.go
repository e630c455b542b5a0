package console

import (
	"crypto/sha256"
	"net/http"

	"github.com/sagate/sagate/keystore"
)

// Shown once means once. A POST that issues a key does not show it in its own answer:
// it leaves the key page in the session (reveal) and redirects (303) to newKeyPath, whose
// GET shows it and forgets it, so neither a reload nor Back shows it again or sends the
// form again. The session's CSRF token is replaced at the same time, and the one the
// form carried is remembered as spent: the same form sent again (Back, then reload and
// resend) creates nothing, and the answer says why.

// newKeyPath is where a newly issued key is shown, once.
const newKeyPath = Path + "new-key"

// maxSpent bounds how many spent CSRF tokens a session remembers.
const maxSpent = 16

// revealKey keeps the key page for the next GET of newKeyPath, spends the form's token,
// and redirects there.
func (c *Console) revealKey(w http.ResponseWriter, q *req, sa keystore.ServiceAccount, heading, note string, k keystore.IssuedKey) {
	d := keyData{Heading: heading, Note: note, Account: sa.FullName, Key: k, Back: pathOf("w", sa.Workspace, "accounts", sa.Name)}
	c.sessions.spend(q.sess.id, &d)
	w.Header().Set("Location", newKeyPath)
	w.WriteHeader(http.StatusSeeOther)
}

// newKeyPage shows the key revealKey left, once.
func (c *Console) newKeyPage(w http.ResponseWriter, r *http.Request, q *req) {
	d := c.sessions.takeReveal(q.sess.id)
	if d == nil {
		c.message(w, q, http.StatusGone, "Shown once",
			"A new key is shown once, right after it is made, and is not kept. If it was lost, rotate the key (or revoke it and create another).")
		return
	}
	c.render(w, q, http.StatusOK, "key", view{Title: d.Heading, Data: *d})
}

// spend replaces the session's CSRF token, remembers the old one as spent, and keeps
// d for takeReveal.
func (s *sessions) spend(id [sha256.Size]byte, d *keyData) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.byID[id]
	if !ok {
		return
	}
	ss.spent = append(ss.spent, sha256.Sum256([]byte(ss.csrf)))
	if len(ss.spent) > maxSpent {
		ss.spent = ss.spent[len(ss.spent)-maxSpent:]
	}
	ss.csrf = randomToken()
	ss.reveal = d
}

// takeReveal returns and forgets the key page spend left.
func (s *sessions) takeReveal(id [sha256.Size]byte) *keyData {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.byID[id]
	if !ok {
		return nil
	}
	d := ss.reveal
	ss.reveal = nil
	return d
}

// spentToken reports whether tok is a token the session has spent.
func (s session) spentToken(tok string) bool {
	h := sha256.Sum256([]byte(tok))
	for _, sp := range s.spent {
		if sp == h {
			return true
		}
	}
	return false
}
