package main

import (
	"slices"

	"github.com/spf13/cobra"
)

// shortAliases are the short names every command of these names also answers to, as in
// most CLIs: "ls" for list, "rm" for delete and remove.
var shortAliases = map[string]string{"list": "ls", "delete": "rm", "remove": "rm"}

// addShortAliases gives every command under cmd its short alias, unless a sibling
// already has that name or alias (so "rm" is never ambiguous).
func addShortAliases(cmd *cobra.Command) {
	for _, c := range cmd.Commands() {
		addShortAliases(c)
		alias, ok := shortAliases[c.Name()]
		if !ok || slices.ContainsFunc(cmd.Commands(), func(s *cobra.Command) bool { return s.Name() == alias || s.HasAlias(alias) }) {
			continue
		}
		c.Aliases = append(c.Aliases, alias)
	}
}
