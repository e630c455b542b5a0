package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/sagate/sagate/keystore"
)

// Supported store URL schemes.
const (
	SchemeSQLite = "sqlite://"
)

// Open opens the durable store named by url and applies its schema migrations.
// Supported: sqlite://PATH, with PATH relative ("sqlite://./sagate.db") or absolute
// ("sqlite:///var/lib/sagate/sagate.db"); and postgres://… or postgresql://… (a libpq
// URL, e.g. "postgres://sagate:secret@db:5432/sagate?sslmode=require") for PostgreSQL.
func Open(ctx context.Context, url string) (keystore.Store, error) {
	switch {
	case strings.HasPrefix(url, SchemeSQLite):
		st, err := OpenSQLite(ctx, strings.TrimPrefix(url, SchemeSQLite))
		if err != nil {
			return nil, err // not a typed nil *SQLiteStore inside a non-nil Store
		}
		return st, nil
	case strings.HasPrefix(url, SchemePostgres), strings.HasPrefix(url, SchemePostgreSQL):
		st, err := OpenPostgres(ctx, url)
		if err != nil {
			return nil, err // not a typed nil *PostgresStore inside a non-nil Store
		}
		return st, nil
	}
	const supported = "sqlite://PATH, postgres://USER:PASSWORD@HOST:PORT/DATABASE"
	scheme, _, ok := strings.Cut(url, "://")
	if !ok {
		return nil, fmt.Errorf("opening store: %q is not a store URL; supported: %s", truncate(url, 64), supported)
	}
	return nil, fmt.Errorf("opening store: unsupported scheme %q; supported: %s", truncate(scheme, 32), supported)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
