package console

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/sagate/sagate/keystore"
)

// maxCredentialLen bounds a pasted credential, in bytes.
const maxCredentialLen = 4096

// req is what the console knows about a request besides the request itself.
type req struct {
	sess      session // the zero session before sign-in
	signedIn  bool
	principal Principal
	reach     keystore.Reach // what the principal manages, read for this request
	csrf      string         // the token the page's forms carry
	flash     string
}

// handler serves one console route.
type handler func(w http.ResponseWriter, r *http.Request, q *req)

// open wraps a route that needs no sign-in. It finds the session or gives the browser a
// pre-session nonce, and refuses a POST that is not same-origin or lacks the CSRF token.
func (c *Console) open(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := &req{}
		if s, ok := c.sessions.get(cookieValue(r, sessionCookie)); ok {
			q.sess, q.csrf = s, s.csrf
		} else {
			nonce := cookieValue(r, preCookie)
			if nonce == "" {
				nonce = randomToken()
				c.setCookie(w, r, preCookie, nonce)
			}
			q.csrf = c.sessions.preToken(nonce)
		}
		if r.Method == http.MethodPost && !c.checkPost(w, r, q) {
			return
		}
		h(w, r, q)
	}
}

// checkPost parses a form and checks its origin and CSRF token; it answers and returns
// false when the request must not change anything.
func (c *Console) checkPost(w http.ResponseWriter, r *http.Request, q *req) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			c.message(w, q, http.StatusRequestEntityTooLarge, "Form too large", "The form was larger than the console accepts; nothing was changed.")
			return false
		}
		c.message(w, q, http.StatusBadRequest, "Unreadable form", "The form could not be read; nothing was changed.")
		return false
	}
	if !sameOrigin(r) {
		c.message(w, q, http.StatusForbidden, "Refused",
			"This form was sent from another site (or the browser did not say from where), so nothing was changed. Use the console's own pages, over HTTPS.")
		return false
	}
	if tok := r.PostForm.Get(csrfField); !tokenEqual(tok, q.csrf) && q.sess.spentToken(tok) {
		c.message(w, q, http.StatusConflict, "Already sent",
			"This form was sent before, and what it made was shown then (a new key is shown once). Nothing was created again. Reload the page to make another.")
		return false
	}
	if !tokenEqual(r.PostForm.Get(csrfField), q.csrf) {
		c.message(w, q, http.StatusForbidden, "Form expired",
			"This form is out of date or was not made by the console, so nothing was changed. Go back, reload the page and try again.")
		return false
	}
	return true
}

// auth wraps a route that needs a signed-in principal: the session's principal (or the
// proxy's word) is checked again, and the handler's context carries the principal.
func (c *Console) auth(h handler) http.HandlerFunc {
	return c.open(func(w http.ResponseWriter, r *http.Request, q *req) {
		if q.sess.created.IsZero() && !c.proxySignIn(w, r, q) {
			http.Redirect(w, r, Path+"sign-in", http.StatusSeeOther)
			return
		}
		p, err := c.recheck(r, q.sess)
		var reach keystore.Reach
		ctx := r.Context()
		if err == nil {
			ctx = c.cfg.Bind(ctx, p)
			reach, err = c.reach(ctx)
		}
		if err != nil {
			c.sessions.end(q.sess.id)
			c.setCookie(w, r, sessionCookie, "")
			http.Redirect(w, r, Path+"sign-in?ended=1", http.StatusSeeOther)
			return
		}
		q.signedIn, q.principal, q.reach = true, p, reach
		q.flash = c.sessions.takeFlash(q.sess.id)
		h(w, r.WithContext(ctx), q)
	})
}

// reach asks the Service what the principal of ctx manages. Only a refusal of the
// principal itself (a key revoked, an account deactivated) is an error: any other
// failure is logged and leaves the pages to the Service's own checks.
func (c *Console) reach(ctx context.Context) (keystore.Reach, error) {
	reach, err := c.cfg.Service.Reach(ctx)
	switch keystore.KindOf(err) {
	case "":
		if err != nil {
			c.log.Warn("console: reading what the principal manages failed", zap.Error(err))
		}
		return reach, nil
	case keystore.KindUnauthenticated, keystore.KindPermissionDenied:
		return reach, err
	}
	return reach, nil
}

// landing is the first page of a principal: an operator's list of workspaces; the
// accounts of the one workspace it administers; the one project it owns; else the
// overview of what it manages.
func landing(r keystore.Reach) string {
	switch {
	case r.Every:
	case len(r.Admin) == 1 && !slices.ContainsFunc(r.Owner, func(p keystore.ProjectRef) bool { return p.Workspace != r.Admin[0] }):
		return pathOf("w", r.Admin[0], "accounts")
	case len(r.Admin) == 0 && len(r.Owner) == 1 && r.Owner[0].Project != keystore.AllProjects:
		return pathOf("w", r.Owner[0].Workspace, "projects", r.Owner[0].Project)
	}
	return Path + "workspaces"
}

// recheck asks again who the session's principal (or the proxy) stands for.
func (c *Console) recheck(r *http.Request, s session) (Principal, error) {
	if s.viaProxy {
		if c.cfg.FromProxy == nil {
			return Principal{}, ErrBadCredential
		}
		p, ok, err := c.cfg.FromProxy(r)
		if err != nil || !ok || p.Actor != s.principal.Actor {
			return Principal{}, ErrBadCredential
		}
		return p, nil
	}
	return c.cfg.Recheck(r.Context(), s.principal)
}

// proxySignIn starts a session for the person Config.FromProxy names, if any. This is
// the hook through which an authenticating proxy signs people in.
func (c *Console) proxySignIn(w http.ResponseWriter, r *http.Request, q *req) bool {
	if c.cfg.FromProxy == nil {
		return false
	}
	p, ok, err := c.cfg.FromProxy(r)
	if err != nil || !ok {
		return false
	}
	id := c.sessions.create(p, true)
	c.setCookie(w, r, sessionCookie, id)
	s, _ := c.sessions.get(id)
	q.sess, q.csrf = s, s.csrf
	return true
}

// home sends a signed-in browser to its landing page and anyone else to the sign-in page.
func (c *Console) home(w http.ResponseWriter, r *http.Request, q *req) {
	if q.sess.created.IsZero() && c.cfg.FromProxy == nil {
		http.Redirect(w, r, Path+"sign-in", http.StatusSeeOther)
		return
	}
	c.auth(func(w http.ResponseWriter, r *http.Request, q *req) {
		http.Redirect(w, r, landing(q.reach), http.StatusSeeOther)
	})(w, r)
}

// signInData is the sign-in page.
type signInData struct {
	Note string // why the visitor is here again, if known
	Hint string // which credentials are accepted
}

// signInPage shows the sign-in form.
func (c *Console) signInPage(w http.ResponseWriter, r *http.Request, q *req) {
	var note string
	switch {
	case r.URL.Query().Has("ended"):
		note = "Your session ended: it timed out, or the credential is no longer accepted. Sign in again."
	case r.URL.Query().Has("signed-out"):
		note = "You are signed out."
	}
	c.render(w, q, http.StatusOK, "sign-in", view{Title: "Sign in", Data: signInData{Note: note, Hint: c.cfg.CredentialHint}})
}

// signIn checks the pasted credential and starts a session. The credential is never
// logged, echoed or put in a URL.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request, q *req) {
	cred := strings.TrimSpace(r.PostForm.Get("credential"))
	fail := func(msg string) {
		c.render(w, q, http.StatusUnauthorized, "sign-in", view{Title: "Sign in", Data: signInData{Hint: c.cfg.CredentialHint},
			Errors: map[string]string{"sign-in": msg}})
	}
	if cred == "" || len(cred) > maxCredentialLen {
		fail("Paste a credential.")
		return
	}
	p, err := c.cfg.Authenticate(r.Context(), cred)
	var reach keystore.Reach
	if err == nil {
		reach, err = c.reach(c.cfg.Bind(r.Context(), p))
	}
	if err != nil {
		if !errors.Is(err, ErrBadCredential) {
			c.log.Warn("console sign-in: checking a credential failed", zap.Error(err))
		}
		fail("That credential was not accepted.")
		return
	}
	if !q.sess.created.IsZero() {
		c.sessions.end(q.sess.id) // a new id at every sign-in: no session fixation
	}
	c.setCookie(w, r, sessionCookie, c.sessions.create(p, false))
	c.setCookie(w, r, preCookie, "")
	http.Redirect(w, r, landing(reach), http.StatusSeeOther)
}

// signOut ends the session.
func (c *Console) signOut(w http.ResponseWriter, r *http.Request, q *req) {
	if !q.sess.created.IsZero() {
		c.sessions.end(q.sess.id)
	}
	c.setCookie(w, r, sessionCookie, "")
	http.Redirect(w, r, Path+"sign-in?signed-out=1", http.StatusSeeOther)
}

// notFound answers any other path under Path.
func (c *Console) notFound(w http.ResponseWriter, r *http.Request, q *req) {
	c.message(w, q, http.StatusNotFound, "Not found", "There is no such page in the console.")
}
