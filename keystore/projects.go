package keystore

import "context"

// ProjectSummary is one project of a workspace that holds at least one grant, with how
// many accounts, groups and people hold a role on it by a grant on the project itself
// (not through "*"). Project "*" is the row of the grants on every project.
type ProjectSummary struct {
	Workspace string `json:"workspace"`
	Project   string `json:"project"`
	Accounts  int    `json:"accounts"`
	Groups    int    `json:"groups"`
	People    int    `json:"people"`
}

// ProjectTx lists the projects of a workspace: projects exist only through grants.
type ProjectTx interface {
	// ListProjects returns up to limit projects of ws with a grant (of an account, a group
	// or a person) whose name sorts after after, by name ("*" first).
	ListProjects(ctx context.Context, ws, after string, limit int) ([]ProjectSummary, error)
}

// ListProjects lists the projects of ws that hold a grant, by name, with their counts.
func (s *Service) ListProjects(ctx context.Context, ws string, p Page) ([]ProjectSummary, string, error) {
	size, after, err := parsePage(p, 1)
	if err != nil {
		return nil, "", err
	}
	var out []ProjectSummary
	err = s.view(ctx, "project.list", scope{ws: ws}, func(tx Tx) error {
		if _, err := getWorkspace(ctx, tx, ws); err != nil {
			return err
		}
		out, err = tx.ListProjects(ctx, ws, after[0], size+1)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	out, next := nextPage(out, size, func(p ProjectSummary) []string { return []string{p.Project} })
	return out, next, nil
}
