package admin

import (
	"context"
	"net/http"
	"net/url"

	"github.com/sagate/sagate/keystore"
)

// WhoAmI returns the principal the client acts as: an operator, or the service account
// whose sak_ key it holds.
func (c *Client) WhoAmI(ctx context.Context) (WhoAmI, error) {
	var out WhoAmI
	return out, c.do(ctx, http.MethodGet, "/v1/whoami", nil, nil, &out, http.StatusOK)
}

// GetWorkspace reads a workspace.
func (c *Client) GetWorkspace(ctx context.Context, ws string) (keystore.Workspace, error) {
	var out keystore.Workspace
	return out, c.do(ctx, http.MethodGet, "/v1/workspaces/"+seg(ws), nil, nil, &out, http.StatusOK)
}

// ListWorkspaceAdmins returns one page of the admins of ws.
func (c *Client) ListWorkspaceAdmins(ctx context.Context, ws string, o ListOptions) (List[keystore.WorkspaceAdmin], error) {
	var out List[keystore.WorkspaceAdmin]
	return out, c.do(ctx, http.MethodGet, "/v1/workspaces/"+seg(ws)+"/admins", o.values(), nil, &out, http.StatusOK)
}

// AllWorkspaceAdmins returns every admin of ws.
func (c *Client) AllWorkspaceAdmins(ctx context.Context, ws string) ([]keystore.WorkspaceAdmin, error) {
	return all(ctx, c.pageSize, func(ctx context.Context, o ListOptions) (List[keystore.WorkspaceAdmin], error) {
		return c.ListWorkspaceAdmins(ctx, ws, o)
	})
}

// SetWorkspaceAdmin makes principal ("sa:<id or name>" or "person:<name>") an admin of ws.
func (c *Client) SetWorkspaceAdmin(ctx context.Context, ws, principal string) (keystore.WorkspaceAdmin, error) {
	var out keystore.WorkspaceAdmin
	_, err := c.doStatus(ctx, http.MethodPut, "/v1/workspaces/"+seg(ws)+"/admins/"+seg(principal), nil, nil, &out,
		http.StatusOK, http.StatusCreated)
	return out, err
}

// RemoveWorkspaceAdmin removes an admin of ws.
func (c *Client) RemoveWorkspaceAdmin(ctx context.Context, ws, principal string) error {
	return c.do(ctx, http.MethodDelete, "/v1/workspaces/"+seg(ws)+"/admins/"+seg(principal), nil, nil, nil, http.StatusNoContent)
}

// SetPersonRole gives a person a role in project ("*": every project).
func (c *Client) SetPersonRole(ctx context.Context, ws, project, person string, role keystore.Role) (keystore.PersonRole, error) {
	var out keystore.PersonRole
	return out, c.do(ctx, http.MethodPut, "/v1/workspaces/"+seg(ws)+"/projects/"+seg(project)+"/people/"+seg(person), nil,
		SetPersonRoleRequest{Role: string(role)}, &out, http.StatusOK)
}

// RemovePersonRole removes a person's role in project.
func (c *Client) RemovePersonRole(ctx context.Context, ws, project, person string) error {
	return c.do(ctx, http.MethodDelete, "/v1/workspaces/"+seg(ws)+"/projects/"+seg(project)+"/people/"+seg(person),
		nil, nil, nil, http.StatusNoContent)
}

// ProjectPeople returns the people's roles in project (and in "*").
func (c *Client) ProjectPeople(ctx context.Context, ws, project string) ([]keystore.PersonRole, error) {
	out, err := c.projectFirstPage(ctx, ws, project)
	return out.People, err
}

// projectFirstPage reads the first page of a project's grants, which carries the
// people's roles and the groups' grants.
func (c *Client) projectFirstPage(ctx context.Context, ws, project string) (GrantList, error) {
	var out GrantList
	q := url.Values{"page_size": {"1"}}
	err := c.do(ctx, http.MethodGet, "/v1/workspaces/"+seg(ws)+"/projects/"+seg(project)+"/service-accounts", q, nil, &out, http.StatusOK)
	return out, err
}
