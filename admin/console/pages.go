package console

import (
	"net/http"
	"net/url"
	"time"

	"github.com/sagate/sagate/keystore"
)

// withQuery returns p with the non-empty values of kv (name, value, name, value…) as its query.
func withQuery(p string, kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			v.Set(kv[i], kv[i+1])
		}
	}
	if len(v) == 0 {
		return p
	}
	return p + "?" + v.Encode()
}

// workspacesData is the workspaces page.
type workspacesData struct {
	Workspaces []keystore.Workspace
	NextURL    string
}

// workspacesPage lists every workspace to an operator; anyone else sees what it manages.
func (c *Console) workspacesPage(w http.ResponseWriter, r *http.Request, q *req) {
	c.showWorkspaces(w, r, q, http.StatusOK, nil, nil)
}

// showWorkspaces renders the workspaces page; errs and form show a failed form again.
func (c *Console) showWorkspaces(w http.ResponseWriter, r *http.Request, q *req, status int, errs map[string]string, form url.Values) {
	if !q.reach.Every {
		c.render(w, q, status, "workspaces", view{Title: "What you manage", Errors: errs})
		return
	}
	ws, next, err := c.cfg.Service.ListWorkspaces(r.Context(), keystore.Page{Size: c.cfg.PageSize, Token: r.URL.Query().Get("page")})
	if err != nil {
		msg, status := c.describe(r, err)
		c.message(w, q, status, "Workspaces", msg)
		return
	}
	d := workspacesData{Workspaces: ws}
	if next != "" {
		d.NextURL = withQuery(pathOf("workspaces"), "page", next)
	}
	c.render(w, q, status, "workspaces", view{Title: "Workspaces", Data: d, Errors: errs, Form: form})
}

// accountsData is the accounts page of a workspace.
type accountsData struct {
	Workspace string
	Filter    string
	Accounts  []keystore.AccountSummary
	NextURL   string
	FirstURL  string // set when this is not the first page
}

func (c *Console) accountsPage(w http.ResponseWriter, r *http.Request, q *req) {
	ws, filter, token := r.PathValue("ws"), r.URL.Query().Get("q"), r.URL.Query().Get("page")
	accts, next, err := c.cfg.Service.ListAccountSummaries(r.Context(), ws, filter, keystore.Page{Size: c.cfg.PageSize, Token: token})
	d := accountsData{Workspace: ws, Filter: filter, Accounts: accts}
	if err != nil {
		msg, status := c.describe(r, err)
		c.render(w, q, status, "accounts", view{Title: ws, Data: d, Errors: map[string]string{"filter": msg}})
		return
	}
	base := pathOf("w", ws, "accounts")
	if next != "" {
		d.NextURL = withQuery(base, "q", filter, "page", next)
	}
	if token != "" {
		d.FirstURL = withQuery(base, "q", filter)
	}
	c.render(w, q, http.StatusOK, "accounts", view{Title: "Accounts of " + ws, Data: d})
}

// newAccountData is the new-account form.
type newAccountData struct {
	Workspace string
	Expiries  []option
}

// option is one choice of a select.
type option struct{ Value, Label string }

// expiries are the choices of how long a new key lives.
var expiries = []option{{"0", "never expires"}, {"24h", "1 day"}, {"168h", "7 days"}, {"720h", "30 days"},
	{"2160h", "90 days"}, {"8760h", "1 year"}}

// retains are the choices of how long a rotated key keeps working.
var retains = []option{{"0", "stop it now"}, {"1h", "1 hour"}, {"24h", "1 day"}, {"168h", "7 days"}}

func (c *Console) newAccountPage(w http.ResponseWriter, r *http.Request, q *req) {
	c.showNewAccount(w, r, q, http.StatusOK, url.Values{"create_key": {"on"}}, "")
}

func (c *Console) showNewAccount(w http.ResponseWriter, r *http.Request, q *req, status int, form url.Values, errMsg string) {
	v := view{Title: "New account", Form: form, Data: newAccountData{Workspace: r.PathValue("ws"), Expiries: expiries}}
	if errMsg != "" {
		v.Errors = map[string]string{"create": errMsg}
	}
	c.render(w, q, status, "new-account", v)
}

// accountData is an account's page.
type accountData struct {
	Workspace string
	Account   keystore.ServiceAccount
	Keys      []keystore.APIKey
	KeysNext  string
	Unrevoked bool // some key is not revoked yet
	Grants    []keystore.Grant
	Expiries  []option
	AuditURL  string
}

// showAccount renders an account's page; errs and form show a failed form again.
func (c *Console) showAccount(w http.ResponseWriter, r *http.Request, q *req, status int, errs map[string]string, form url.Values) {
	ws, ref := r.PathValue("ws"), r.PathValue("sa")
	ctx := r.Context()
	sa, err := c.cfg.Service.GetServiceAccount(ctx, ws, ref)
	var keys []keystore.APIKey
	var grants []keystore.Grant
	var next string
	if err == nil {
		keys, next, err = c.cfg.Service.ListKeys(ctx, ws, sa.ID, keystore.Page{Size: keystore.MaxPageSize, Token: r.URL.Query().Get("keys")})
	}
	if err == nil {
		grants, err = c.accountGrants(r, ws, sa.ID)
	}
	if err != nil {
		msg, st := c.describe(r, err)
		c.message(w, q, st, "Account", msg)
		return
	}
	d := accountData{Workspace: ws, Account: sa, Keys: keys, Grants: grants, Expiries: expiries,
		AuditURL: withQuery(pathOf("audit"), "workspace", ws)}
	if next != "" {
		d.KeysNext = withQuery(pathOf("w", ws, "accounts", sa.Name), "keys", next)
	}
	for _, k := range keys {
		d.Unrevoked = d.Unrevoked || k.State != keystore.KeyRevoked
	}
	c.render(w, q, status, "account", view{Title: sa.FullName, Data: d, Errors: errs, Form: form})
}

// accountGrants reads every grant of an account, page by page.
func (c *Console) accountGrants(r *http.Request, ws, saID string) ([]keystore.Grant, error) {
	var out []keystore.Grant
	for token := ""; ; {
		gs, next, err := c.cfg.Service.ListAccountGrants(r.Context(), ws, saID, keystore.Page{Size: keystore.MaxPageSize, Token: token})
		out = append(out, gs...)
		if err != nil || next == "" {
			return out, err
		}
		token = next
	}
}

func (c *Console) accountPage(w http.ResponseWriter, r *http.Request, q *req) {
	c.showAccount(w, r, q, http.StatusOK, nil, nil)
}

// confirmData is a confirmation page: a question and one button that posts.
type confirmData struct {
	Heading string
	Text    string
	Action  string
	Button  string
	Back    string
}

// confirmAccountPage asks before deactivating an account or revoking all its keys.
func (c *Console) confirmAccountPage(w http.ResponseWriter, r *http.Request, q *req) {
	ws, ref := r.PathValue("ws"), r.PathValue("sa")
	sa, err := c.cfg.Service.GetServiceAccount(r.Context(), ws, ref)
	if err != nil {
		msg, st := c.describe(r, err)
		c.message(w, q, st, "Account", msg)
		return
	}
	back := pathOf("w", ws, "accounts", sa.Name)
	d := confirmData{Back: back}
	switch r.PathValue("what") {
	case "deactivate":
		d.Heading, d.Button, d.Action = "Deactivate "+sa.FullName+"?", "Deactivate", back+"/deactivate"
		d.Text = "Every key of this account stops working at once (sidecars refuse them within seconds). " +
			"Reactivating later revokes the old keys and issues one new key."
	case "delete":
		d.Heading, d.Button, d.Action = "Delete "+sa.FullName+"?", "Delete", back+"/delete"
		d.Text = "The account, its keys and its grants are removed for good; every key is refused within seconds. " +
			"The audit trail keeps what it did. This cannot be undone."
	case "revoke-all":
		d.Heading, d.Button, d.Action = "Revoke every key of "+sa.FullName+"?", "Revoke all keys", back+"/revoke-all"
		d.Text = "Every key of this account is revoked for good; clients using them are refused within seconds. This cannot be undone."
	default:
		c.notFound(w, r, q)
		return
	}
	c.render(w, q, http.StatusOK, "confirm", view{Title: d.Heading, Data: d})
}

// rotateData is the rotate form of one key.
type rotateData struct {
	Workspace string
	Account   keystore.ServiceAccount
	Key       keystore.APIKey
	Retains   []option
	Expiries  []option
}

// findKey returns the key of the request's path among its account's keys.
func (c *Console) findKey(r *http.Request) (keystore.ServiceAccount, keystore.APIKey, error) {
	ws, ref, id := r.PathValue("ws"), r.PathValue("sa"), r.PathValue("key")
	sa, err := c.cfg.Service.GetServiceAccount(r.Context(), ws, ref)
	if err != nil {
		return sa, keystore.APIKey{}, err
	}
	for token := ""; ; {
		keys, next, err := c.cfg.Service.ListKeys(r.Context(), ws, sa.ID, keystore.Page{Size: keystore.MaxPageSize, Token: token})
		if err != nil {
			return sa, keystore.APIKey{}, err
		}
		for _, k := range keys {
			if k.ID == id {
				return sa, k, nil
			}
		}
		if next == "" {
			return sa, keystore.APIKey{}, keystore.NotFound("key", id)
		}
		token = next
	}
}

// keyActionPage shows the rotate form or asks before revoking one key.
func (c *Console) keyActionPage(w http.ResponseWriter, r *http.Request, q *req) {
	c.showKeyAction(w, r, q, http.StatusOK, "")
}

func (c *Console) showKeyAction(w http.ResponseWriter, r *http.Request, q *req, status int, errMsg string) {
	sa, k, err := c.findKey(r)
	if err != nil {
		msg, st := c.describe(r, err)
		c.message(w, q, st, "Key", msg)
		return
	}
	back := pathOf("w", sa.Workspace, "accounts", sa.Name)
	v := view{}
	if errMsg != "" {
		v.Errors = map[string]string{"key": errMsg}
	}
	switch r.PathValue("what") {
	case "revoke":
		v.Title = "Revoke key …" + k.Last6 + "?"
		v.Data = confirmData{Heading: v.Title, Button: "Revoke key …" + k.Last6, Back: back,
			Action: pathOf("w", sa.Workspace, "accounts", sa.Name, "keys", k.ID, "revoke"),
			Text: "Key " + k.Name + " of " + sa.FullName + ", ending in …" + k.Last6 +
				", is revoked for good; clients using it are refused within seconds. This cannot be undone."}
		c.render(w, q, status, "confirm", v)
	case "rotate":
		v.Title = "Rotate key …" + k.Last6
		v.Data = rotateData{Workspace: sa.Workspace, Account: sa, Key: k, Retains: retains, Expiries: expiries}
		c.render(w, q, status, "rotate", v)
	default:
		c.notFound(w, r, q)
	}
}

// keyData is the page that shows a new key, once.
type keyData struct {
	Heading string
	Note    string
	Account string // full name
	Back    string
	Key     keystore.IssuedKey
}

// auditData is the audit page.
type auditData struct {
	Events  []keystore.AuditEvent
	NextURL string
	Actions []string
}

// auditActions are the actions the filter offers; "x." matches every action of x.
var auditActions = []string{"workspace.", "service_account.", "key.", "grant.", "workspace_admin.", "person_role.", "workspace.create", "workspace.set_limit",
	"service_account.create", "service_account.update", "service_account.delete", "service_account.deactivate",
	"service_account.reactivate", "service_account.set_rate_limit", "key.create", "key.rotate", "key.revoke", "key.revoke_all", "key.deactivate",
	"key.activate", "grant.set", "grant.remove", "workspace_admin.set", "workspace_admin.remove", "person_role.set",
	"person_role.remove"}

// timeLayout is the format of the audit page's time filters (an <input type="datetime-local">), read as UTC.
const timeLayout = "2006-01-02T15:04"

func (c *Console) auditPage(w http.ResponseWriter, r *http.Request, q *req) {
	qv := r.URL.Query()
	if !qv.Has("workspace") && !q.reach.Every && len(q.reach.Admin) > 0 {
		qv.Set("workspace", q.reach.Admin[0]) // a workspace admin reads its own workspace's
	}
	f := keystore.AuditFilter{Workspace: qv.Get("workspace"), Action: qv.Get("action"), Actor: qv.Get("actor")}
	d := auditData{Actions: auditActions}
	v := view{Title: "Audit trail", Form: qv, Data: &d}
	var err error
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if s := qv.Get(t.name); s != "" && err == nil {
			if *t.dst, err = time.Parse(timeLayout, s); err != nil {
				err = keystore.Invalid(t.name, "must be a date and time like 2026-05-01T14:30")
			}
		}
	}
	if err == nil {
		var next string
		d.Events, next, err = c.cfg.Service.ListAudit(r.Context(), f, keystore.Page{Size: c.cfg.PageSize, Token: qv.Get("page")})
		if next != "" {
			d.NextURL = withQuery(pathOf("audit"), "workspace", f.Workspace, "action", f.Action, "actor", f.Actor,
				"since", qv.Get("since"), "until", qv.Get("until"), "page", next)
		}
	}
	if err != nil {
		msg, status := c.describe(r, err)
		v.Errors = map[string]string{"filter": msg}
		c.render(w, q, status, "audit", v)
		return
	}
	c.render(w, q, http.StatusOK, "audit", v)
}
