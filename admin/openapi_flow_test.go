package admin_test

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/keystore"
)

// workflow drives every /v1 route through the Go client with valid calls and the
// errors of state (409, 422, 404), and returns path values for typicalErrors.
func workflow(t *testing.T, ctx context.Context, c *admin.Client, a *specAPI) pathIDs {
	t.Helper()
	ok := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	const ws = "ml-team"

	// Workspaces, paged.
	_, err := c.CreateWorkspace(ctx, admin.CreateWorkspaceRequest{Name: ws})
	ok("create workspace", err)
	_, err = c.CreateWorkspace(ctx, admin.CreateWorkspaceRequest{Name: ws})
	wantAPIError(t, "create a workspace twice", err, http.StatusConflict, string(keystore.KindNameTaken))
	tiny, err := c.CreateWorkspace(ctx, admin.CreateWorkspaceRequest{Name: "tiny", MaxServiceAccounts: 1})
	ok("create workspace tiny", err)
	if tiny.MaxServiceAccounts != 1 {
		t.Fatalf("tiny: %+v", tiny)
	}
	p1, err := c.ListWorkspaces(ctx, admin.ListOptions{PageSize: 1})
	ok("list workspaces", err)
	if len(p1.Items) != 1 || p1.NextPageToken == "" {
		t.Fatalf("first page of workspaces: %+v", p1)
	}
	p2, err := c.ListWorkspaces(ctx, admin.ListOptions{PageSize: 1, PageToken: p1.NextPageToken})
	ok("list workspaces, page 2", err)
	if len(p2.Items) != 1 || p2.Items[0].Name != "tiny" || p2.NextPageToken != "" {
		t.Fatalf("last page of workspaces: %+v", p2)
	}

	// Service accounts.
	yes, no := true, false
	bot, err := c.CreateServiceAccount(ctx, ws, admin.CreateServiceAccountRequest{
		Name: "bot", Description: "CI", AllProjectsRole: "viewer", CreateKey: &yes, KeyExpiresIn: "90d",
	})
	ok("create bot", err)
	if bot.APIKey == nil || bot.APIKey.ExpiresAt == nil || bot.ServiceAccount.FullName != "bot@ml-team" {
		t.Fatalf("bot: %+v", bot)
	}
	nokey, err := c.CreateServiceAccount(ctx, ws, admin.CreateServiceAccountRequest{Name: "nokey", CreateKey: &no})
	ok("create nokey", err)
	if nokey.APIKey != nil {
		t.Fatalf("create_key false issued a key")
	}
	_, err = c.CreateServiceAccount(ctx, ws, admin.CreateServiceAccountRequest{Name: "bot"})
	wantAPIError(t, "create bot twice", err, http.StatusConflict, string(keystore.KindNameTaken))
	_, err = c.CreateServiceAccount(ctx, "tiny", admin.CreateServiceAccountRequest{Name: "one"})
	ok("create one", err)
	_, err = c.CreateServiceAccount(ctx, "tiny", admin.CreateServiceAccountRequest{Name: "two"})
	wantAPIError(t, "create past the limit", err, http.StatusConflict, string(keystore.KindLimitReached))
	two := 2
	tiny, err = c.UpdateWorkspace(ctx, "tiny", admin.UpdateWorkspaceRequest{MaxServiceAccounts: &two})
	ok("raise tiny's limit", err)
	if tiny.MaxServiceAccounts != 2 {
		t.Fatalf("tiny after update: %+v", tiny)
	}
	_, err = c.CreateServiceAccount(ctx, "tiny", admin.CreateServiceAccountRequest{Name: "two"})
	ok("create two after raising the limit", err)
	sp, err := c.ListServiceAccounts(ctx, ws, admin.ListOptions{PageSize: 1})
	ok("list service accounts", err)
	if len(sp.Items) != 1 || sp.NextPageToken == "" {
		t.Fatalf("first page of accounts: %+v", sp)
	}
	sp, err = c.ListServiceAccounts(ctx, ws, admin.ListOptions{PageToken: sp.NextPageToken})
	ok("list service accounts, page 2", err)
	if len(sp.Items) != 1 || sp.Items[0].Name != "nokey" || sp.NextPageToken != "" {
		t.Fatalf("last page of accounts: %+v", sp)
	}
	got, err := c.GetServiceAccount(ctx, ws, bot.ServiceAccount.ID)
	ok("get bot by id", err)
	if got.Name != "bot" {
		t.Fatalf("get by id: %+v", got)
	}
	got, err = c.GetServiceAccount(ctx, ws, "bot@"+ws)
	ok("get bot by full name", err)
	if got.ID != bot.ServiceAccount.ID {
		t.Fatalf("get by full name: %+v", got)
	}
	_, err = c.GetServiceAccount(ctx, ws, "bot@tiny")
	wantAPIError(t, "get by a full name of another workspace", err, http.StatusBadRequest, admin.CodeInvalid)
	_, err = c.GetServiceAccount(ctx, ws, "ghost")
	wantAPIError(t, "get ghost", err, http.StatusNotFound, admin.CodeNotFound)
	desc := "builds"
	got, err = c.UpdateServiceAccount(ctx, ws, "bot", admin.UpdateServiceAccountRequest{Description: &desc})
	ok("update bot", err)
	if got.Description != desc {
		t.Fatalf("update: %+v", got)
	}
	got, err = c.UpdateServiceAccount(ctx, ws, "bot", admin.UpdateServiceAccountRequest{})
	ok("update bot with nothing", err)
	if got.Description != desc {
		t.Fatalf("empty update changed the account: %+v", got)
	}

	// Keys.
	deploy, err := c.CreateKey(ctx, ws, "bot", admin.CreateKeyRequest{Name: "deploy", ExpiresIn: "30d"})
	ok("create key", err)
	a.expect(ctx, http.StatusCreated, "", "POST", "/v1/workspaces/ml-team/service-accounts/bot/keys", "")
	kp, err := c.ListKeys(ctx, ws, "bot", admin.ListOptions{PageSize: 2})
	ok("list keys", err)
	if len(kp.Items) != 2 || kp.NextPageToken == "" {
		t.Fatalf("first page of keys: %+v", kp)
	}
	kp, err = c.ListKeys(ctx, ws, "bot", admin.ListOptions{PageSize: 2, PageToken: kp.NextPageToken})
	ok("list keys, page 2", err)
	if len(kp.Items) != 1 || kp.NextPageToken != "" {
		t.Fatalf("last page of keys: %+v", kp)
	}
	next, err := c.RotateKey(ctx, ws, "bot", deploy.ID, admin.RotateKeyRequest{Retain: "60m", ExpiresIn: "7d"})
	ok("rotate with retain", err)
	if next.Name != "deploy" || next.ExpiresAt == nil {
		t.Fatalf("successor: %+v", next)
	}
	_, err = c.RotateKey(ctx, ws, "bot", deploy.ID, admin.RotateKeyRequest{Retain: "60m"})
	wantAPIError(t, "rotate a key with a live successor", err, http.StatusConflict, string(keystore.KindAlreadyRotated))
	gk, err := c.GetKey(ctx, ws, "bot", deploy.Last6)
	ok("get key", err)
	if gk.ID != deploy.ID || gk.SuccessorID != next.ID || !gk.Usable {
		t.Fatalf("get key: %+v", gk)
	}
	found, err := c.FindKeys(ctx, ws, next.Last6)
	ok("find keys", err)
	if len(found) != 1 || found[0].ID != next.ID {
		t.Fatalf("find keys: %+v", found)
	}
	_, err = c.RotateKey(ctx, ws, "bot", next.Last6, admin.RotateKeyRequest{Retain: "0"})
	ok("rotate by last6, revoking at once", err)
	_, err = c.RotateKey(ctx, ws, "bot", next.ID, admin.RotateKeyRequest{})
	wantAPIError(t, "rotate a revoked key", err, http.StatusUnprocessableEntity, string(keystore.KindState))
	k, err := c.DeactivateKey(ctx, ws, "bot", deploy.ID)
	ok("deactivate key", err)
	if k.State != keystore.KeyDeactivated || k.ExpiresAt == nil {
		t.Fatalf("deactivated key: %+v", k)
	}
	_, err = c.DeactivateKey(ctx, ws, "bot", deploy.ID)
	wantAPIError(t, "deactivate twice", err, http.StatusUnprocessableEntity, string(keystore.KindState))
	k, err = c.ActivateKey(ctx, ws, "bot", deploy.Last6)
	ok("activate key", err)
	if k.State != keystore.KeyActive {
		t.Fatalf("activated key: %+v", k)
	}
	_, err = c.ActivateKey(ctx, ws, "bot", deploy.ID)
	wantAPIError(t, "activate twice", err, http.StatusUnprocessableEntity, string(keystore.KindState))
	ok("revoke key", c.RevokeKey(ctx, ws, "bot", deploy.Last6))
	wantAPIError(t, "revoke twice", c.RevokeKey(ctx, ws, "bot", deploy.ID), http.StatusUnprocessableEntity, string(keystore.KindState))
	wantAPIError(t, "revoke a key that is not there", c.RevokeKey(ctx, ws, "bot", "key_00000000000000000000"),
		http.StatusNotFound, admin.CodeNotFound)

	// Grants.
	g, err := c.SetGrant(ctx, ws, "billing", "bot", keystore.RoleContributor)
	ok("set grant", err)
	if g.Project != "billing" || g.Role != keystore.RoleContributor || g.ServiceAccount != "bot@ml-team" {
		t.Fatalf("grant: %+v", g)
	}
	_, err = c.SetGrant(ctx, ws, keystore.AllProjects, "nokey", keystore.RoleOwner)
	ok("set grant on *", err)
	gp, err := c.ListGrants(ctx, ws, "billing", admin.ListOptions{})
	ok("list grants", err)
	var seen []string
	for _, g := range gp.Items {
		seen = append(seen, g.ServiceAccount+" "+g.Project+" "+string(g.Role))
	}
	sort.Strings(seen)
	if want := "bot@ml-team * viewer|bot@ml-team billing contributor|nokey@ml-team * owner"; strings.Join(seen, "|") != want {
		t.Fatalf("grants on billing: %q, want %q", strings.Join(seen, "|"), want)
	}
	ag, err := c.ListAccountGrants(ctx, ws, "bot@"+ws, admin.ListOptions{PageSize: 1})
	ok("list the account's grants", err)
	if len(ag.Items) != 1 || ag.Items[0].Project != keystore.AllProjects || ag.NextPageToken == "" {
		t.Fatalf("first page of bot's grants: %+v", ag)
	}
	_, err = c.ListAccountGrants(ctx, ws, "ghost", admin.ListOptions{})
	wantAPIError(t, "grants of ghost", err, http.StatusNotFound, admin.CodeNotFound)
	ok("remove grant", c.RemoveGrant(ctx, ws, "billing", "bot"))
	wantAPIError(t, "remove a grant twice", c.RemoveGrant(ctx, ws, "billing", "bot"), http.StatusNotFound, admin.CodeNotFound)

	accessWorkflow(t, ctx, c, a, ws)
	groupsWorkflow(t, ctx, c, a, ws)

	// Account lifecycle.
	got, err = c.DeactivateServiceAccount(ctx, ws, "bot")
	ok("deactivate bot", err)
	if got.State != keystore.AccountDeactivated {
		t.Fatalf("deactivated account: %+v", got)
	}
	_, err = c.DeactivateServiceAccount(ctx, ws, "bot")
	wantAPIError(t, "deactivate twice", err, http.StatusUnprocessableEntity, string(keystore.KindState))
	_, err = c.CreateKey(ctx, ws, "bot", admin.CreateKeyRequest{})
	wantAPIError(t, "key for a deactivated account", err, http.StatusUnprocessableEntity, string(keystore.KindState))
	re, err := c.ReactivateServiceAccount(ctx, ws, "bot")
	ok("reactivate bot", err)
	if re.APIKey == nil || re.ServiceAccount.State != keystore.AccountActive {
		t.Fatalf("reactivated: %+v", re)
	}
	_, err = c.ReactivateServiceAccount(ctx, ws, "bot")
	wantAPIError(t, "reactivate twice", err, http.StatusUnprocessableEntity, string(keystore.KindState))
	ra, err := c.RevokeAllKeys(ctx, ws, "bot")
	ok("revoke all", err)
	if ra.Revoked != 1 || ra.Name != "bot" {
		t.Fatalf("revoke-all: %+v", ra)
	}
	ok("delete nokey", c.DeleteServiceAccount(ctx, ws, "nokey"))
	wantAPIError(t, "delete twice", c.DeleteServiceAccount(ctx, ws, "nokey"), http.StatusNotFound, admin.CodeNotFound)

	// Audit, paged.
	ap, err := c.ListAudit(ctx, keystore.AuditFilter{}, admin.ListOptions{PageSize: 3})
	ok("list audit", err)
	if len(ap.Items) != 3 || ap.NextPageToken == "" || ap.Items[0].Actor != "operator:admin" ||
		ap.Items[0].Principal == nil || ap.Items[0].Principal.Kind != keystore.PrincipalOperator {
		t.Fatalf("first page of audit: %+v", ap)
	}
	ap2, err := c.ListAudit(ctx, keystore.AuditFilter{}, admin.ListOptions{PageSize: 3, PageToken: ap.NextPageToken})
	ok("list audit, page 2", err)
	if len(ap2.Items) != 3 || ap2.Items[0].ID >= ap.Items[2].ID {
		t.Fatalf("second page of audit: %+v", ap2)
	}
	wp, err := c.ListAudit(ctx, keystore.AuditFilter{Workspace: "tiny"}, admin.ListOptions{})
	ok("list tiny's audit", err)
	if len(wp.Items) == 0 || wp.Items[0].Workspace != "tiny" {
		t.Fatalf("tiny's audit: %+v", wp)
	}
	now := time.Now()
	fp, err := c.ListAudit(ctx, keystore.AuditFilter{Workspace: ws, Action: "key.", Actor: "operator:admin",
		Since: now.Add(-time.Hour), Until: now.Add(time.Hour)}, admin.ListOptions{})
	ok("list filtered audit", err)
	if len(fp.Items) == 0 {
		t.Fatal("the filtered audit is empty")
	}
	for _, e := range fp.Items {
		if e.Workspace != ws || !strings.HasPrefix(e.Action, "key.") || e.Actor != "operator:admin" {
			t.Fatalf("the filter let through %+v", e)
		}
	}
	if fp, err := c.ListAudit(ctx, keystore.AuditFilter{Workspace: ws, Since: now.Add(time.Hour)}, admin.ListOptions{}); err != nil || len(fp.Items) != 0 {
		t.Fatalf("audit since an hour from now: %d events, %v", len(fp.Items), err)
	}
	a.expect(specInvalid(ctx), http.StatusBadRequest, admin.CodeInvalid, "GET", "/v1/audit?workspace="+ws+"&since=yesterday", "")
	return pathIDs{"ws": ws, "sa": "bot", "key": deploy.ID, "project": "billing", "principal": "sa:bot", "name": "alice", "group": "ops"}
}

// validBodies are well-formed request bodies by operationId; the other operations take none.
var validBodies = map[string]string{
	"createWorkspace":      `{"name": "other-ws"}`,
	"updateWorkspace":      `{"max_service_accounts": 60}`,
	"createServiceAccount": `{"name": "other-sa"}`,
	"updateServiceAccount": `{"description": "x"}`,
	"createKey":            `{"name": "other-key"}`,
	"rotateKey":            `{"retain": "1m"}`,
	"setGrant":             `{"role": "viewer"}`,
	"setWorkspaceAdmin":    `{}`,
	"setPersonRole":        `{"role": "viewer"}`,
	"createGroup":          `{"name": "other-group"}`,
	"updateGroup":          `{"description": "x"}`,
	"addGroupMember":       `{}`,
	"setGroupGrant":        `{"role": "viewer"}`,
}

// typicalErrors sends each /v1 operation of doc the errors every route shares: wrong or
// missing credential, the refused X-Sagate-Actor, unknown workspace, malformed path values, bad paging,
// bad bodies.
func typicalErrors(t *testing.T, ctx context.Context, doc *openapi3.T, a *specAPI, ids pathIDs) {
	t.Helper()
	inv := specInvalid(ctx)
	for path, item := range doc.Paths.Map() {
		if !strings.HasPrefix(path, "/v1/") || path == admin.OpenAPIPath {
			continue
		}
		for method, op := range item.Operations() {
			body := validBodies[op.OperationID]
			at := func(k, v string) string {
				vals := map[string]string{}
				for kk, vv := range ids {
					vals[kk] = vv
				}
				if k != "" {
					vals[k] = v
				}
				return fill(path, vals)
			}
			p := at("", "")
			a.expect(ctx, http.StatusUnauthorized, admin.CodeUnauthenticated, method, p, body, "Authorization", "Bearer wrong-token-0123456789abcdef")
			a.expect(inv, http.StatusUnauthorized, admin.CodeUnauthenticated, method, p, body, "Authorization", "")
			// The description does not name the header; the server refuses it.
			a.expect(ctx, http.StatusBadRequest, admin.CodeInvalid, method, p, body, admin.ActorHeader, "alice")
			if strings.Contains(path, "{ws}") {
				a.expect(ctx, http.StatusNotFound, admin.CodeNotFound, method, at("ws", "nope"), body)
				a.expect(inv, http.StatusBadRequest, admin.CodeInvalid, method, at("ws", "No_Such"), body)
			}
			if strings.Contains(path, "{sa}") {
				a.expect(inv, http.StatusBadRequest, admin.CodeInvalid, method, at("sa", "Bad_Name"), body)
			}
			if strings.Contains(path, "{key}") {
				a.expect(inv, http.StatusBadRequest, admin.CodeInvalid, method, at("key", "x"), body)
			}
			if strings.Contains(path, "{principal}") {
				a.expect(inv, http.StatusBadRequest, admin.CodeInvalid, method, at("principal", "bot"), body)
			}
			if strings.Contains(path, "{name}") {
				a.expect(inv, http.StatusBadRequest, admin.CodeInvalid, method, at("name", "al%20ice"), body)
			}
			if strings.Contains(path, "{project}") {
				a.expect(inv, http.StatusBadRequest, admin.CodeInvalid, method, at("project", "%3Bdrop"), body)
			}
			if op.Parameters.GetByInAndName("query", "page_size") != nil {
				a.expect(inv, http.StatusBadRequest, admin.CodeInvalid, method, p+"?page_size=0", "")
				a.expect(inv, http.StatusBadRequest, admin.CodeInvalid, method, p+"?page_size=1001", "")
				a.expect(ctx, http.StatusBadRequest, admin.CodeInvalid, method, p+"?page_token=garbage", "")
			}
			if method != http.MethodGet {
				// A change a browser could be made to send from another site is refused.
				wrongType := ctx // the description has no body to refuse for a bodiless route
				if op.RequestBody != nil {
					wrongType = inv
				}
				a.expect(wrongType, http.StatusUnsupportedMediaType, admin.CodeUnsupportedMediaType, method, p, body, "Content-Type", "text/plain")
				a.expect(wrongType, http.StatusUnsupportedMediaType, admin.CodeUnsupportedMediaType, method, p, body, "Content-Type", "")
				a.expect(ctx, http.StatusForbidden, admin.CodeCrossSite, method, p, body, "Sec-Fetch-Site", "cross-site")
				a.expect(ctx, http.StatusForbidden, admin.CodeCrossSite, method, p, body, "Origin", "https://evil.example")
			}
			if op.RequestBody != nil {
				a.expect(inv, http.StatusBadRequest, admin.CodeInvalid, method, p, `{"name": `)
				a.expect(inv, http.StatusBadRequest, admin.CodeInvalid, method, p, `{"zzz": 1}`)
				huge := `{"description": "` + strings.Repeat("a", admin.DefaultMaxBodyBytes) + `"}`
				a.expect(inv, http.StatusRequestEntityTooLarge, admin.CodeTooLarge, method, p, huge)
			}
		}
	}
}
