package console

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sagate/sagate/keystore"
)

// The POST handlers. Each reads its form, makes one Service call as the signed-in
// principal, and then either redirects (303) to the page that shows a new key once
// (once.go), or leaves a message and redirects to the account's page, or shows the form
// again with the error next to it.

// parseDuration reads a duration field ("0", "24h"); keystore checks its bounds.
func parseDuration(field, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, keystore.Invalid(field, "choose one of the offered durations")
	}
	return d, nil
}

// done leaves msg for the next page and redirects to the account's page.
func (c *Console) done(w http.ResponseWriter, r *http.Request, q *req, saName, msg string) {
	c.sessions.setFlash(q.sess.id, msg)
	http.Redirect(w, r, pathOf("w", r.PathValue("ws"), "accounts", saName), http.StatusSeeOther)
}

// accountFailed shows the account's page again with the error next to form.
func (c *Console) accountFailed(w http.ResponseWriter, r *http.Request, q *req, form string, err error) {
	msg, status := c.describe(r, err)
	c.showAccount(w, r, q, status, map[string]string{form: msg}, r.PostForm)
}

func (c *Console) createAccount(w http.ResponseWriter, r *http.Request, q *req) {
	f := r.PostForm
	in := keystore.CreateServiceAccountInput{
		Name: strings.TrimSpace(f.Get("name")), Description: f.Get("description"), CreateKey: f.Get("create_key") == "on",
	}
	var err error
	if role := f.Get("role"); role != "" {
		in.AllProjectsRole, err = keystore.ParseRole(role)
	}
	if err == nil {
		in.KeyExpiresIn, err = parseDuration("expires_in", f.Get("expires_in"))
	}
	var sa keystore.ServiceAccount
	var key *keystore.IssuedKey
	if err == nil {
		sa, key, err = c.cfg.Service.CreateServiceAccount(r.Context(), r.PathValue("ws"), in)
	}
	if err != nil {
		msg, status := c.describe(r, err)
		c.showNewAccount(w, r, q, status, f, msg)
		return
	}
	if key == nil {
		c.done(w, r, q, sa.Name, "Account "+sa.FullName+" created, without a key.")
		return
	}
	c.revealKey(w, q, sa, "Account "+sa.FullName+" created", "", *key)
}

func (c *Console) createKey(w http.ResponseWriter, r *http.Request, q *req) {
	f := r.PostForm
	in := keystore.CreateKeyInput{Name: strings.TrimSpace(f.Get("name"))}
	exp, err := parseDuration("expires_in", f.Get("expires_in"))
	in.ExpiresIn = exp
	var sa keystore.ServiceAccount
	var k keystore.IssuedKey
	if err == nil {
		sa, err = c.cfg.Service.GetServiceAccount(r.Context(), r.PathValue("ws"), r.PathValue("sa"))
	}
	if err == nil {
		k, err = c.cfg.Service.CreateKey(r.Context(), sa.Workspace, sa.ID, in)
	}
	if err != nil {
		c.accountFailed(w, r, q, "create-key", err)
		return
	}
	c.revealKey(w, q, sa, "Key "+k.Name+" created for "+sa.FullName, "", k)
}

func (c *Console) rotateKey(w http.ResponseWriter, r *http.Request, q *req) {
	f := r.PostForm
	retain, err := parseDuration("retain", f.Get("retain"))
	var exp time.Duration
	if err == nil {
		exp, err = parseDuration("expires_in", f.Get("expires_in"))
	}
	var sa keystore.ServiceAccount
	var k keystore.IssuedKey
	if err == nil {
		sa, err = c.cfg.Service.GetServiceAccount(r.Context(), r.PathValue("ws"), r.PathValue("sa"))
	}
	if err == nil {
		k, err = c.cfg.Service.RotateKey(r.Context(), sa.Workspace, sa.ID, r.PathValue("key"), retain, exp)
	}
	if err != nil {
		msg, status := c.describe(r, err)
		r.SetPathValue("what", "rotate")
		c.showKeyAction(w, r, q, status, msg)
		return
	}
	note := "The old key was revoked."
	if retain > 0 {
		note = fmt.Sprintf("The old key keeps working for %s, then stops: move clients to the new key before then.", retain)
	}
	c.revealKey(w, q, sa, "Key "+k.Name+" of "+sa.FullName+" rotated", note, k)
}

func (c *Console) revokeKey(w http.ResponseWriter, r *http.Request, q *req) {
	sa, k, err := c.findKey(r)
	if err == nil {
		err = c.cfg.Service.RevokeKey(r.Context(), sa.Workspace, sa.ID, k.ID)
	}
	if err != nil {
		c.accountFailed(w, r, q, "keys", err)
		return
	}
	c.done(w, r, q, sa.Name, "Key "+k.Name+" ending in …"+k.Last6+" revoked; sidecars refuse it within seconds.")
}

// deactivateKey deactivates one key; activateKey activates it again: the words of the
// CLI and the API, in the buttons and in the URLs.
func (c *Console) deactivateKey(w http.ResponseWriter, r *http.Request, q *req) {
	c.setKeyActive(w, r, q, false)
}

func (c *Console) activateKey(w http.ResponseWriter, r *http.Request, q *req) {
	c.setKeyActive(w, r, q, true)
}

func (c *Console) setKeyActive(w http.ResponseWriter, r *http.Request, q *req, active bool) {
	sa, k, err := c.findKey(r)
	if err == nil {
		if active {
			_, err = c.cfg.Service.ActivateKey(r.Context(), sa.Workspace, sa.ID, k.ID)
		} else {
			_, err = c.cfg.Service.DeactivateKey(r.Context(), sa.Workspace, sa.ID, k.ID)
		}
	}
	if err != nil {
		c.accountFailed(w, r, q, "keys", err)
		return
	}
	msg := "Key " + k.Name + " ending in …" + k.Last6 + " deactivated: sidecars refuse it until it is activated."
	if active {
		msg = "Key " + k.Name + " ending in …" + k.Last6 + " activated."
	}
	c.done(w, r, q, sa.Name, msg)
}

func (c *Console) revokeAllKeys(w http.ResponseWriter, r *http.Request, q *req) {
	sa, n, err := c.cfg.Service.RevokeAllKeys(r.Context(), r.PathValue("ws"), r.PathValue("sa"))
	if err != nil {
		c.accountFailed(w, r, q, "keys", err)
		return
	}
	c.done(w, r, q, sa.Name, plural(n, "key")+" revoked.")
}

func (c *Console) deactivateAccount(w http.ResponseWriter, r *http.Request, q *req) {
	sa, err := c.cfg.Service.DeactivateServiceAccount(r.Context(), r.PathValue("ws"), r.PathValue("sa"))
	if err != nil {
		c.accountFailed(w, r, q, "state", err)
		return
	}
	c.done(w, r, q, sa.Name, "Account "+sa.FullName+" deactivated: none of its keys work now.")
}

func (c *Console) reactivateAccount(w http.ResponseWriter, r *http.Request, q *req) {
	sa, k, err := c.cfg.Service.ReactivateServiceAccount(r.Context(), r.PathValue("ws"), r.PathValue("sa"))
	if err != nil {
		c.accountFailed(w, r, q, "state", err)
		return
	}
	c.revealKey(w, q, sa, "Account "+sa.FullName+" reactivated", "Its old keys were revoked; this is its one new key.", k)
}

func (c *Console) setGrant(w http.ResponseWriter, r *http.Request, q *req) {
	f := r.PostForm
	project := strings.TrimSpace(f.Get("project"))
	role, err := keystore.ParseRole(f.Get("role"))
	var g keystore.Grant
	if err == nil {
		g, err = c.cfg.Service.SetGrant(r.Context(), r.PathValue("ws"), project, r.PathValue("sa"), role)
	}
	if err != nil {
		c.accountFailed(w, r, q, "grant", err)
		return
	}
	acct, _, _ := strings.Cut(g.ServiceAccount, "@")
	c.done(w, r, q, acct, g.ServiceAccount+" is now "+string(g.Role)+" of project "+g.Project+".")
}

func (c *Console) removeGrant(w http.ResponseWriter, r *http.Request, q *req) {
	project := r.PostForm.Get("project")
	sa, err := c.cfg.Service.GetServiceAccount(r.Context(), r.PathValue("ws"), r.PathValue("sa"))
	if err == nil {
		err = c.cfg.Service.RemoveGrant(r.Context(), sa.Workspace, project, sa.ID)
	}
	if err != nil {
		c.accountFailed(w, r, q, "grant", err)
		return
	}
	c.done(w, r, q, sa.Name, sa.FullName+" no longer has a role in project "+project+".")
}
