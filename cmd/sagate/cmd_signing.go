package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/sagate/sagate/keystore/sqlstore"
	"github.com/sagate/sagate/keystore/wire"
)

// Signing-key defaults.
const (
	envSigningKeyFile = "SAGATE_SIGNING_KEY_FILE"
	// defaultSigningKeyName is the key file a SQLite store uses by default, beside the database.
	defaultSigningKeyName = "signing.key"
)

// signingKeyHelp explains the key in serve's and signing-key's help.
const signingKeyHelp = `The admin signs everything it writes to Redis (key records, tombstones, events, the
epoch and revision markers) with an Ed25519 signing key; sidecars are configured with its
public key (Caddyfile: signing_keys <public key>) and refuse what does not verify, so a
writer to Redis cannot mint or alter a key's identity or roles.

Rotation without downtime: generate a new key; add its public key to every sidecar's
signing_keys, next to the old one; restart every admin with the new key (together, when
several share a PostgreSQL store): the full sync at each start rewrites every record and
marker with the new key; then drop the old public key from the sidecars. The admin itself
trusts only its current key: whatever the old key signed is rewritten, not kept.`

// signingKeyCmd: sagate signing-key generate|public.
func (a *app) signingKeyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "signing-key",
		Short: "Create the admin's signing key or show its public key",
		Long:  signingKeyHelp,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "generate FILE",
		Short: "Write a new signing key to FILE (mode 0600; never overwrites) and print its public key",
		Args:  nArgs(1, "FILE"),
		RunE: func(_ *cobra.Command, args []string) error {
			k, err := writeNewSigningKey(args[0])
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(a.stdout, k.Public().String())
			return err
		},
	}, &cobra.Command{
		Use:   "public FILE",
		Short: "Print the public key of the signing key in FILE (for the sidecars' signing_keys)",
		Args:  nArgs(1, "FILE"),
		RunE: func(_ *cobra.Command, args []string) error {
			k, err := wire.LoadSigningKey(args[0])
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(a.stdout, k.Public().String())
			return err
		},
	})
	return cmd
}

// writeNewSigningKey generates a signing key and writes it to path, which must not exist.
func writeNewSigningKey(path string) (wire.SigningKey, error) {
	k, err := wire.GenerateSigningKey()
	if err != nil {
		return wire.SigningKey{}, err
	}
	text, err := k.MarshalText()
	if err != nil {
		return wire.SigningKey{}, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return wire.SigningKey{}, fmt.Errorf("refusing to overwrite %s: it exists", path)
	}
	if err != nil {
		return wire.SigningKey{}, fmt.Errorf("writing the signing key: %w", err)
	}
	_, err = f.Write(append(text, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return wire.SigningKey{}, fmt.Errorf("writing the signing key %s: %w", path, err)
	}
	return k, nil
}

// loadServeSigningKey returns serve's signing key: from --signing-key-file, else
// $SAGATE_SIGNING_KEY_FILE, else (SQLite store only) signing.key beside the database,
// created on first start. A PostgreSQL store, shared by several admins, needs the flag.
func (a *app) loadServeSigningKey(file, store string, log *zap.Logger) (wire.SigningKey, error) {
	if file == "" {
		file = a.getenv(envSigningKeyFile)
	}
	if file == "" {
		db, ok := strings.CutPrefix(store, sqlstore.SchemeSQLite)
		if !ok {
			return wire.SigningKey{}, fmt.Errorf("refusing to start: --signing-key-file (or $%s) is required with a PostgreSQL store, "+
				"so that every admin signs with the same key; create one with `sagate signing-key generate FILE`, "+
				"give it to every admin, and give the sidecars its public key (`sagate signing-key public FILE`)", envSigningKeyFile)
		}
		file = filepath.Join(filepath.Dir(db), defaultSigningKeyName)
		if _, err := os.Stat(file); errors.Is(err, fs.ErrNotExist) {
			k, err := writeNewSigningKey(file)
			if err != nil {
				return wire.SigningKey{}, err
			}
			log.Info("created a new signing key; configure the sidecars with its public key",
				zap.String("file", file), zap.String("public_key", k.Public().String()))
		}
	}
	k, err := wire.LoadSigningKey(file)
	if err != nil {
		return wire.SigningKey{}, err
	}
	log.Info("signing what Redis holds", zap.String("file", file), zap.String("public_key", k.Public().String()))
	return k, nil
}
