package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sagate/sagate/keystore/redisops"
)

// Environment variables that give the passwords of the Redis users.
const (
	envSidecarRedisPassword = "SAGATE_REDIS_SIDECAR_PASSWORD"
	envAdminRedisPassword   = "SAGATE_REDIS_ADMIN_PASSWORD"
	// aclPlaceholder is the password written when none is given: never a secret.
	aclPlaceholder = "CHANGE-ME"
)

// redisACLCmd prints the Redis ACL users of least privilege for the sidecars and the
// admin (keystore/redisops/acl.go).
func (a *app) redisACLCmd() *cobra.Command {
	var sidecarUser, adminUser, format string
	cmd := &cobra.Command{
		Use:   "redis-acl",
		Short: "Print Redis ACL users of least privilege for the sidecars and the admin",
		Long: "Prints one ACL SETUSER command per user, for redis-cli (sagate redis-acl | redis-cli), or with\n" +
			"--format aclfile the lines of a Redis ACL file. The sidecar user reads key records, the epoch\n" +
			"and revision markers and the events stream and writes only its use reports; the admin user\n" +
			"reads and writes sagate:* keys and runs scripts. Neither runs server administration commands.\n" +
			"Key permissions %R~/%W~ need Redis 7.\n\n" +
			"Passwords come from $" + envSidecarRedisPassword + " and $" + envAdminRedisPassword + " and are\n" +
			"written as their SHA-256 (#<hex>). Without them the placeholder >" + aclPlaceholder + " is written:\n" +
			"replace it before applying. Then give each its user in the Redis URL:\n" +
			"redis://" + redisops.DefaultSidecarACLUser + ":PASSWORD@host:6379/0 in the sidecars' Caddyfile,\n" +
			"redis://" + redisops.DefaultAdminACLUser + ":PASSWORD@host:6379/0 for sagate serve --redis.",
		Args: nArgs(0, "none"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			line := redisops.ACLSetUser
			switch format {
			case "setuser":
			case "aclfile":
				line = redisops.ACLFileUser
			default:
				return usagef("--format must be setuser or aclfile, not %q", format)
			}
			for _, u := range []struct {
				name, env string
				rules     []string
			}{
				{sidecarUser, envSidecarRedisPassword, redisops.SidecarACLRules()},
				{adminUser, envAdminRedisPassword, redisops.AdminACLRules()},
			} {
				if !validACLUser(u.name) {
					return usagef("Redis user name %q: use letters, digits, '-', '_', '.', '@'", u.name)
				}
				pass := a.getenv(u.env)
				if pass == "" {
					fmt.Fprintf(a.stderr, "sagate: $%s is not set: the password of %s is the placeholder %q; replace it before applying\n",
						u.env, u.name, aclPlaceholder)
				}
				fmt.Fprintln(a.stdout, line(u.name, redisops.ACLPassword(pass, aclPlaceholder), u.rules))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&sidecarUser, "sidecar-user", redisops.DefaultSidecarACLUser, "Redis user of the sidecars")
	f.StringVar(&adminUser, "admin-user", redisops.DefaultAdminACLUser, "Redis user of the admin")
	f.StringVar(&format, "format", "setuser", "setuser (ACL SETUSER commands) or aclfile (lines of an ACL file)")
	return cmd
}

// validACLUser reports whether name can be written in an ACL command unquoted.
func validACLUser(name string) bool {
	if name == "" || len(name) > 128 {
		return false
	}
	for _, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '@'
		if !ok {
			return false
		}
	}
	return true
}
