package admin

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/sagate/sagate/keystore"
)

// One method per route of the admin API. {sa} is an account id, name or full name
// (name@workspace, of the path's workspace); {key} a key id or last6.

func wsPath(ws string) string     { return "/v1/workspaces/" + seg(ws) }
func saPath(ws, sa string) string { return wsPath(ws) + "/service-accounts/" + seg(sa) }
func keyPath(ws, sa, key string) string {
	return saPath(ws, sa) + "/keys/" + seg(key)
}
func grantsPath(ws, project string) string {
	return wsPath(ws) + "/projects/" + seg(project) + "/service-accounts"
}

// CreateWorkspace creates a workspace.
func (c *Client) CreateWorkspace(ctx context.Context, in CreateWorkspaceRequest) (keystore.Workspace, error) {
	var out keystore.Workspace
	return out, c.do(ctx, http.MethodPost, "/v1/workspaces", nil, in, &out, http.StatusCreated)
}

// ListWorkspaces returns one page of workspaces.
func (c *Client) ListWorkspaces(ctx context.Context, o ListOptions) (List[keystore.Workspace], error) {
	var out List[keystore.Workspace]
	return out, c.do(ctx, http.MethodGet, "/v1/workspaces", o.values(), nil, &out, http.StatusOK)
}

// AllWorkspaces returns every workspace, following next_page_token.
func (c *Client) AllWorkspaces(ctx context.Context) ([]keystore.Workspace, error) {
	return all(ctx, c.pageSize, c.ListWorkspaces)
}

// UpdateWorkspace changes a workspace's max_service_accounts.
func (c *Client) UpdateWorkspace(ctx context.Context, ws string, in UpdateWorkspaceRequest) (keystore.Workspace, error) {
	var out keystore.Workspace
	return out, c.do(ctx, http.MethodPatch, wsPath(ws), nil, in, &out, http.StatusOK)
}

// CreateServiceAccount creates an account and, unless CreateKey is false, its first key.
func (c *Client) CreateServiceAccount(ctx context.Context, ws string, in CreateServiceAccountRequest) (ServiceAccountWithKey, error) {
	var out ServiceAccountWithKey
	return out, c.do(ctx, http.MethodPost, wsPath(ws)+"/service-accounts", nil, in, &out, http.StatusCreated)
}

// ListServiceAccounts returns one page of a workspace's accounts.
func (c *Client) ListServiceAccounts(ctx context.Context, ws string, o ListOptions) (List[keystore.ServiceAccount], error) {
	return c.FindServiceAccounts(ctx, ws, keystore.AccountFilter{}, o)
}

// FindServiceAccounts returns one page of the workspace's accounts that f matches.
func (c *Client) FindServiceAccounts(ctx context.Context, ws string, f keystore.AccountFilter, o ListOptions) (List[keystore.ServiceAccount], error) {
	q := o.values()
	if f.Owner != "" {
		q.Set("owner", f.Owner)
	}
	if f.State != "" {
		q.Set("state", string(f.State))
	}
	var out List[keystore.ServiceAccount]
	return out, c.do(ctx, http.MethodGet, wsPath(ws)+"/service-accounts", q, nil, &out, http.StatusOK)
}

// AllServiceAccounts returns every account of a workspace that f matches.
func (c *Client) AllServiceAccounts(ctx context.Context, ws string, f keystore.AccountFilter) ([]keystore.ServiceAccount, error) {
	return all(ctx, c.pageSize, func(ctx context.Context, o ListOptions) (List[keystore.ServiceAccount], error) {
		return c.FindServiceAccounts(ctx, ws, f, o)
	})
}

// GetServiceAccount reads an account.
func (c *Client) GetServiceAccount(ctx context.Context, ws, sa string) (keystore.ServiceAccount, error) {
	var out keystore.ServiceAccount
	return out, c.do(ctx, http.MethodGet, saPath(ws, sa), nil, nil, &out, http.StatusOK)
}

// UpdateServiceAccount changes an account's description, owner or rate limit.
func (c *Client) UpdateServiceAccount(ctx context.Context, ws, sa string, in UpdateServiceAccountRequest) (keystore.ServiceAccount, error) {
	var out keystore.ServiceAccount
	return out, c.do(ctx, http.MethodPatch, saPath(ws, sa), nil, in, &out, http.StatusOK)
}

// DeleteServiceAccount revokes every key of the account, removes its grants and frees its name.
func (c *Client) DeleteServiceAccount(ctx context.Context, ws, sa string) error {
	return c.do(ctx, http.MethodDelete, saPath(ws, sa), nil, nil, nil, http.StatusNoContent)
}

// DeactivateServiceAccount stops every key of the account.
func (c *Client) DeactivateServiceAccount(ctx context.Context, ws, sa string) (keystore.ServiceAccount, error) {
	var out keystore.ServiceAccount
	return out, c.do(ctx, http.MethodPost, saPath(ws, sa)+"/deactivate", nil, nil, &out, http.StatusOK)
}

// ReactivateServiceAccount revokes every old key and issues one fresh key.
func (c *Client) ReactivateServiceAccount(ctx context.Context, ws, sa string) (ServiceAccountWithKey, error) {
	var out ServiceAccountWithKey
	return out, c.do(ctx, http.MethodPost, saPath(ws, sa)+"/reactivate", nil, nil, &out, http.StatusOK)
}

// CreateKey issues a key to an account.
func (c *Client) CreateKey(ctx context.Context, ws, sa string, in CreateKeyRequest) (keystore.IssuedKey, error) {
	var out keystore.IssuedKey
	return out, c.do(ctx, http.MethodPost, saPath(ws, sa)+"/keys", nil, in, &out, http.StatusCreated)
}

// ListKeys returns one page of an account's keys.
func (c *Client) ListKeys(ctx context.Context, ws, sa string, o ListOptions) (List[keystore.APIKey], error) {
	var out List[keystore.APIKey]
	return out, c.do(ctx, http.MethodGet, saPath(ws, sa)+"/keys", o.values(), nil, &out, http.StatusOK)
}

// AllKeys returns every key of an account.
func (c *Client) AllKeys(ctx context.Context, ws, sa string) ([]keystore.APIKey, error) {
	return all(ctx, c.pageSize, func(ctx context.Context, o ListOptions) (List[keystore.APIKey], error) {
		return c.ListKeys(ctx, ws, sa, o)
	})
}

// RotateKey issues the key's successor; the old key stays valid for in.Retain.
func (c *Client) RotateKey(ctx context.Context, ws, sa, key string, in RotateKeyRequest) (keystore.IssuedKey, error) {
	var out keystore.IssuedKey
	return out, c.do(ctx, http.MethodPost, keyPath(ws, sa, key)+"/rotate", nil, in, &out, http.StatusCreated)
}

// DeactivateKey pauses one key.
func (c *Client) DeactivateKey(ctx context.Context, ws, sa, key string) (keystore.APIKey, error) {
	var out keystore.APIKey
	return out, c.do(ctx, http.MethodPost, keyPath(ws, sa, key)+"/deactivate", nil, nil, &out, http.StatusOK)
}

// ActivateKey activates one deactivated key again.
func (c *Client) ActivateKey(ctx context.Context, ws, sa, key string) (keystore.APIKey, error) {
	var out keystore.APIKey
	return out, c.do(ctx, http.MethodPost, keyPath(ws, sa, key)+"/activate", nil, nil, &out, http.StatusOK)
}

// RevokeKey revokes one key for good.
func (c *Client) RevokeKey(ctx context.Context, ws, sa, key string) error {
	return c.do(ctx, http.MethodDelete, keyPath(ws, sa, key), nil, nil, nil, http.StatusNoContent)
}

// RevokeAllKeys revokes every key of an account.
func (c *Client) RevokeAllKeys(ctx context.Context, ws, sa string) (RevokeAllResponse, error) {
	var out RevokeAllResponse
	return out, c.do(ctx, http.MethodPost, saPath(ws, sa)+"/keys/revoke-all", nil, nil, &out, http.StatusOK)
}

// SetGrant grants or changes an account's role in project ("*": every project).
func (c *Client) SetGrant(ctx context.Context, ws, project, sa string, role keystore.Role) (keystore.Grant, error) {
	var out keystore.Grant
	return out, c.do(ctx, http.MethodPut, grantsPath(ws, project)+"/"+seg(sa), nil,
		SetGrantRequest{Role: string(role)}, &out, http.StatusOK)
}

// RemoveGrant removes an account's grant on project.
func (c *Client) RemoveGrant(ctx context.Context, ws, project, sa string) error {
	return c.do(ctx, http.MethodDelete, grantsPath(ws, project)+"/"+seg(sa), nil, nil, nil, http.StatusNoContent)
}

// ListGrants returns one page of who has which role in project.
func (c *Client) ListGrants(ctx context.Context, ws, project string, o ListOptions) (List[keystore.Grant], error) {
	var out List[keystore.Grant]
	return out, c.do(ctx, http.MethodGet, grantsPath(ws, project), o.values(), nil, &out, http.StatusOK)
}

// AllGrants returns every grant that covers project.
func (c *Client) AllGrants(ctx context.Context, ws, project string) ([]keystore.Grant, error) {
	return all(ctx, c.pageSize, func(ctx context.Context, o ListOptions) (List[keystore.Grant], error) {
		return c.ListGrants(ctx, ws, project, o)
	})
}

// ListAccountGrants returns one page of an account's grants, by project ("*" first).
func (c *Client) ListAccountGrants(ctx context.Context, ws, sa string, o ListOptions) (List[keystore.Grant], error) {
	var out List[keystore.Grant]
	return out, c.do(ctx, http.MethodGet, saPath(ws, sa)+"/projects", o.values(), nil, &out, http.StatusOK)
}

// AllAccountGrants returns every grant of an account.
func (c *Client) AllAccountGrants(ctx context.Context, ws, sa string) ([]keystore.Grant, error) {
	return all(ctx, c.pageSize, func(ctx context.Context, o ListOptions) (List[keystore.Grant], error) {
		return c.ListAccountGrants(ctx, ws, sa, o)
	})
}

// AccountGroupGrants returns the grants account sa holds through its groups.
func (c *Client) AccountGroupGrants(ctx context.Context, ws, sa string) ([]keystore.GroupGrant, error) {
	var out AccountGrantList
	err := c.do(ctx, http.MethodGet, saPath(ws, sa)+"/projects", url.Values{"page_size": {"1"}}, nil, &out, http.StatusOK)
	return out.Groups, err
}

// ListAudit returns one page of the admin actions f matches, newest first. Without
// f.Workspace, every workspace's, which only operators may read.
func (c *Client) ListAudit(ctx context.Context, f keystore.AuditFilter, o ListOptions) (List[keystore.AuditEvent], error) {
	var out List[keystore.AuditEvent]
	q := o.values()
	for k, v := range map[string]string{"workspace": f.Workspace, "action": f.Action, "actor": f.Actor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if !f.Since.IsZero() {
		q.Set("since", f.Since.Format(time.RFC3339Nano))
	}
	if !f.Until.IsZero() {
		q.Set("until", f.Until.Format(time.RFC3339Nano))
	}
	return out, c.do(ctx, http.MethodGet, "/v1/audit", q, nil, &out, http.StatusOK)
}
