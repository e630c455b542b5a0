package caddymodule

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sagate/sagate/keystore/wire"
)

// validRealm reports whether s can be quoted in WWW-Authenticate as is.
func validRealm(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || c <= 0x20 || c == 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// validateOmitHeaders checks that each name is one of headerFields, once.
func validateOmitHeaders(names []string) error {
	for i, n := range names {
		if !slices.Contains(headerFields[:], n) {
			return fmt.Errorf("omit_headers: unknown header %q (want %s)", n, strings.Join(headerFields[:], ", "))
		}
		if slices.Contains(names[:i], n) {
			return fmt.Errorf("omit_headers: %s given more than once", n)
		}
	}
	return nil
}

// AnyWorkspace, alone in Handler.Workspaces, lets keys of every workspace in.
const AnyWorkspace = "*"

// errNoWorkspace is the error of a site that does not say whom it serves.
var errNoWorkspace = errors.New("say which workspaces this site serves: workspace NAME… or workspace *")

// workspaceList is Workspaces with Workspace, the single-name form, added.
func (h *Handler) workspaceList() []string {
	if h.Workspace == "" || slices.Contains(h.Workspaces, h.Workspace) {
		return h.Workspaces
	}
	return append(slices.Clip(h.Workspaces), h.Workspace)
}

// validateWorkspaces checks that a site names its workspaces, each once, or
// says "*" alone.
func validateWorkspaces(names []string) error {
	if len(names) == 0 {
		return errNoWorkspace
	}
	for i, n := range names {
		if n == AnyWorkspace {
			if len(names) > 1 {
				return errors.New(`workspace: "*" (any workspace) stands alone`)
			}
			continue
		}
		if !wire.ValidSlug(n) {
			return fmt.Errorf("workspace: %q must match ^[a-z][a-z0-9-]{0,62}$", n)
		}
		if slices.Contains(names[:i], n) {
			return fmt.Errorf("workspace: %s given more than once", n)
		}
	}
	return nil
}
