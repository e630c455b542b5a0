package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/keystore/sqlstore"
	"github.com/sagate/sagate/keystore/wire"
)

// sidecarChecks checks what an API host's sidecar needs of t's Redis.
func sidecarChecks(ctx context.Context, t doctorTarget) []check {
	tk, err := parsePublicKeys(t.keys)
	if err != nil {
		return append([]check{{Name: "signing keys", Status: statusFail, Detail: err.Error(), Fix: fixPublicKey}},
			redisChecks(ctx, t.redis, roleSidecar, nil)...)
	}
	return redisChecks(ctx, t.redis, roleSidecar, tk)
}

// adminChecks checks what sagate serve needs on this host: its store, signing key,
// token and Redis.
func (a *app) adminChecks(ctx context.Context, o doctorOptions) []check {
	checks := []check{storeCheck(ctx, o.store)}
	keyFile := o.signingKeyFile
	if keyFile == "" {
		keyFile = a.getenv(envSigningKeyFile)
	}
	kc, tk := signingKeyCheck(keyFile)
	checks = append(checks, kc, a.tokenCheck(o.tokenFile))
	return append(checks, redisChecks(ctx, o.redis, roleAdmin, tk)...)
}

// storeCheck opens the store and pings it. A SQLite file must exist already: the doctor
// never creates one.
func storeCheck(ctx context.Context, url string) check {
	c := check{Name: "store"}
	if path, ok := strings.CutPrefix(url, sqlstore.SchemeSQLite); ok {
		if _, err := os.Stat(path); err != nil {
			c.Status, c.Detail = statusFail, "no SQLite database: "+err.Error()
			c.Fix = "give serve's --store; a new database is created by the first sagate serve"
			return c
		}
	}
	ctx, cancel := bounded(ctx)
	defer cancel()
	st, err := sqlstore.Open(ctx, url)
	if err == nil {
		err = st.Ping(ctx)
		if cerr := st.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		c.Status, c.Detail = statusFail, err.Error()
		c.Fix = "check the store URL (postgres://USER:PASSWORD@HOST:5432/DB?sslmode=verify-full), that PostgreSQL answers from this host, and the user's rights on the database"
		return c
	}
	c.Status, c.Detail = statusOK, "opens and answers"
	return c
}

// signingKeyCheck loads the signing key and checks that its file is private; it
// returns the key's public half to verify Redis with (nil when it did not load).
func signingKeyCheck(file string) (check, *trustedKeys) {
	c := check{Name: "signing key"}
	if file == "" {
		c.Status, c.Detail = statusFail, "no --signing-key-file (nor $"+envSigningKeyFile+")"
		c.Fix = "give the file serve uses; with PostgreSQL every admin needs the same one (`sagate signing-key generate FILE` once, then copy it)"
		return c, nil
	}
	// LoadSigningKey refuses a file that group or others may read, as serve does.
	k, err := wire.LoadSigningKey(file)
	if err != nil {
		c.Status, c.Detail = statusFail, err.Error()
		c.Fix = "chmod 600 " + file + " if it is readable by others; else give the file serve uses (`sagate signing-key generate FILE` makes one)"
		return c, nil
	}
	c.Status, c.Detail = statusOK, fmt.Sprintf("%s loads, private to its owner; public key %s", file, k.Public())
	return c, newTrustedKeys(k.Public())
}

// privateFile returns what is wrong with the mode of a secret's file ("" if nothing):
// group or others may read or write it.
func privateFile(file string) string {
	fi, err := os.Stat(file)
	if err != nil {
		return err.Error()
	}
	if m := fi.Mode().Perm(); m&0o077 != 0 {
		return fmt.Sprintf("%s has mode %04o: other users of this host may read it", file, m)
	}
	return ""
}

// tokenCheck reads the admin token as serve does and checks its strength with the
// check serve applies (admin.CheckToken). The token never appears in the output.
func (a *app) tokenCheck(file string) check {
	c := check{Name: "admin token"}
	fix := "openssl rand -hex 32 > FILE; chmod 600 FILE; then give it to serve with --admin-token-file FILE"
	tok := strings.TrimSpace(a.getenv(envAdminToken))
	from := "$" + envAdminToken
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			c.Status, c.Detail, c.Fix = statusFail, fmt.Sprintf("reading --admin-token-file: %v", err), fix
			return c
		}
		tok, from = strings.TrimSpace(string(b)), file
		if msg := privateFile(file); msg != "" {
			c.Status, c.Detail, c.Fix = statusFail, msg, "chmod 600 "+file
			return c
		}
	}
	if tok == "" {
		c.Status, c.Detail = statusWarn, "no admin token (--admin-token-file or $"+envAdminToken+"): serve then needs --operators-file"
		c.Fix = fix
		return c
	}
	if err := admin.CheckToken(tok); err != nil {
		c.Status, c.Detail, c.Fix = statusFail, err.Error(), fix
		return c
	}
	c.Status, c.Detail = statusOK, "from "+from+": strong enough for serve"
	return c
}
