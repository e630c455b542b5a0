package sqlstore

import (
	"database/sql"

	"github.com/sagate/sagate/keystore"
)

// rateLimitMigration adds an account's rate limit (keystore.ServiceAccount.RateLimit):
// both columns NULL for none, which every account created before has. The same
// statements serve SQLite and PostgreSQL.
const rateLimitMigration = `
ALTER TABLE service_accounts ADD COLUMN rate_limit_rps DOUBLE PRECISION;
ALTER TABLE service_accounts ADD COLUMN rate_limit_burst BIGINT;
`

// rateLimitColumns are the values of the rate limit columns for rl (nil: both NULL).
func rateLimitColumns(rl *keystore.RateLimit) (sql.NullFloat64, sql.NullInt64) {
	if rl == nil {
		return sql.NullFloat64{}, sql.NullInt64{}
	}
	return sql.NullFloat64{Float64: rl.RPS, Valid: true}, sql.NullInt64{Int64: rl.Burst, Valid: true}
}

// rateLimitOf reads the rate limit columns: nil when the rate is NULL.
func rateLimitOf(rps sql.NullFloat64, burst sql.NullInt64) *keystore.RateLimit {
	if !rps.Valid {
		return nil
	}
	return &keystore.RateLimit{RPS: rps.Float64, Burst: burst.Int64}
}

// recordLimit sets the rate limit fields of a key record from the columns.
func recordLimit(rps sql.NullFloat64, burst sql.NullInt64) (float64, int64) {
	if !rps.Valid {
		return 0, 0
	}
	return rps.Float64, burst.Int64
}
