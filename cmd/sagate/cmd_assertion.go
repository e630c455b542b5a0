package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sagate/sagate/caddymodule/assertion"
)

// assertionKeyHelp explains the sidecar's assertion key.
const assertionKeyHelp = `A sidecar can give every request it lets in a signed identity assertion (header
Sagate-Assertion: a JWS signed with EdDSA, valid 5 minutes), which the upstream verifies
instead of trusting headers (Caddyfile: assertion { key_file FILE; audience AUD } inside
sagate). The key is the sidecar's own, a PKCS#8 PEM file, never the admin's signing key.
The upstream verifies against the JWKS document that "public" prints; a site can serve
it (README, "Identity assertions"). To rotate: publish both public keys in the JWKS,
switch the sidecars to the new key, then drop the old one after 5 minutes.`

// assertionKeyCmd: sagate assertion-key generate|public.
func (a *app) assertionKeyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "assertion-key",
		Short: "Create a sidecar's assertion key or print its JWKS document",
		Long:  assertionKeyHelp,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "generate FILE",
		Short: "Write a new assertion key to FILE (mode 0600; never overwrites) and print its key id",
		Args:  nArgs(1, "FILE"),
		RunE: func(_ *cobra.Command, args []string) error {
			k, err := assertion.WriteNew(args[0])
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(a.stdout, k.ID())
			return err
		},
	}, &cobra.Command{
		Use:   "public FILE...",
		Short: "Print the JWKS document of the assertion keys in FILEs, for the upstreams",
		Args: func(cmd *cobra.Command, got []string) error {
			if len(got) == 0 {
				return usagef("%s takes one or more key files", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error {
			keys := make([]assertion.Key, len(args))
			for i, f := range args {
				k, err := assertion.Load(f)
				if err != nil {
					return err
				}
				keys[i] = k
			}
			_, err := a.stdout.Write(assertion.JWKS(keys...))
			return err
		},
	})
	return cmd
}
