package admin

import (
	"context"
	"net/http"

	"github.com/sagate/sagate/keystore"
)

// groupPath is the path of group of ws, or of ws's groups when group is "".
func groupPath(ws, group string) string {
	p := "/v1/workspaces/" + seg(ws) + "/groups"
	if group != "" {
		p += "/" + seg(group)
	}
	return p
}

// CreateGroup creates a group of ws.
func (c *Client) CreateGroup(ctx context.Context, ws, name, description string) (keystore.Group, error) {
	var out keystore.Group
	return out, c.do(ctx, http.MethodPost, groupPath(ws, ""), nil,
		CreateGroupRequest{Name: name, Description: description}, &out, http.StatusCreated)
}

// ListGroups returns one page of the groups of ws, by name.
func (c *Client) ListGroups(ctx context.Context, ws string, o ListOptions) (List[keystore.Group], error) {
	var out List[keystore.Group]
	return out, c.do(ctx, http.MethodGet, groupPath(ws, ""), o.values(), nil, &out, http.StatusOK)
}

// AllGroups returns every group of ws.
func (c *Client) AllGroups(ctx context.Context, ws string) ([]keystore.Group, error) {
	return all(ctx, c.pageSize, func(ctx context.Context, o ListOptions) (List[keystore.Group], error) {
		return c.ListGroups(ctx, ws, o)
	})
}

// GetGroup reads a group with its grants.
func (c *Client) GetGroup(ctx context.Context, ws, group string) (keystore.GroupDetail, error) {
	var out keystore.GroupDetail
	return out, c.do(ctx, http.MethodGet, groupPath(ws, group), nil, nil, &out, http.StatusOK)
}

// UpdateGroup changes a group's description (nil: unchanged).
func (c *Client) UpdateGroup(ctx context.Context, ws, group string, description *string) (keystore.Group, error) {
	var out keystore.Group
	return out, c.do(ctx, http.MethodPatch, groupPath(ws, group), nil,
		UpdateGroupRequest{Description: description}, &out, http.StatusOK)
}

// DeleteGroup removes a group; its members lose its roles.
func (c *Client) DeleteGroup(ctx context.Context, ws, group string) error {
	return c.do(ctx, http.MethodDelete, groupPath(ws, group), nil, nil, nil, http.StatusNoContent)
}

// ListGroupMembers returns one page of a group's members, by principal.
func (c *Client) ListGroupMembers(ctx context.Context, ws, group string, o ListOptions) (List[keystore.GroupMember], error) {
	var out List[keystore.GroupMember]
	return out, c.do(ctx, http.MethodGet, groupPath(ws, group)+"/members", o.values(), nil, &out, http.StatusOK)
}

// AllGroupMembers returns every member of a group.
func (c *Client) AllGroupMembers(ctx context.Context, ws, group string) ([]keystore.GroupMember, error) {
	return all(ctx, c.pageSize, func(ctx context.Context, o ListOptions) (List[keystore.GroupMember], error) {
		return c.ListGroupMembers(ctx, ws, group, o)
	})
}

// AddGroupMember adds principal ("sa:NAME", "sa:ID", "sa:NAME@WS" or "person:NAME") to a
// group; created is false when it was a member already.
func (c *Client) AddGroupMember(ctx context.Context, ws, group, principal string) (m keystore.GroupMember, created bool, err error) {
	status, err := c.doStatus(ctx, http.MethodPut, groupPath(ws, group)+"/members/"+seg(principal), nil, nil, &m,
		http.StatusOK, http.StatusCreated)
	return m, status == http.StatusCreated, err
}

// RemoveGroupMember removes principal from a group.
func (c *Client) RemoveGroupMember(ctx context.Context, ws, group, principal string) error {
	return c.do(ctx, http.MethodDelete, groupPath(ws, group)+"/members/"+seg(principal), nil, nil, nil, http.StatusNoContent)
}

// SetGroupGrant gives a group role in project ("*": every project).
func (c *Client) SetGroupGrant(ctx context.Context, ws, project, group string, role keystore.Role) (keystore.GroupGrant, error) {
	var out keystore.GroupGrant
	return out, c.do(ctx, http.MethodPut, "/v1/workspaces/"+seg(ws)+"/projects/"+seg(project)+"/groups/"+seg(group), nil,
		SetGroupGrantRequest{Role: string(role)}, &out, http.StatusOK)
}

// RemoveGroupGrant removes a group's grant on project.
func (c *Client) RemoveGroupGrant(ctx context.Context, ws, project, group string) error {
	return c.do(ctx, http.MethodDelete, "/v1/workspaces/"+seg(ws)+"/projects/"+seg(project)+"/groups/"+seg(group),
		nil, nil, nil, http.StatusNoContent)
}

// ProjectGroups returns the groups' grants on project (and on "*").
func (c *Client) ProjectGroups(ctx context.Context, ws, project string) ([]keystore.GroupGrant, error) {
	out, err := c.projectFirstPage(ctx, ws, project)
	return out.Groups, err
}

// ListProjects returns one page of the projects of ws that hold a grant, by name.
func (c *Client) ListProjects(ctx context.Context, ws string, o ListOptions) (List[keystore.ProjectSummary], error) {
	var out List[keystore.ProjectSummary]
	return out, c.do(ctx, http.MethodGet, "/v1/workspaces/"+seg(ws)+"/projects", o.values(), nil, &out, http.StatusOK)
}

// AllProjects returns every project of ws that holds a grant.
func (c *Client) AllProjects(ctx context.Context, ws string) ([]keystore.ProjectSummary, error) {
	return all(ctx, c.pageSize, func(ctx context.Context, o ListOptions) (List[keystore.ProjectSummary], error) {
		return c.ListProjects(ctx, ws, o)
	})
}
