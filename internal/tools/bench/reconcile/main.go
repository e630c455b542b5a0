// Command reconcile measures the admin's full reconcile of a large store into an empty
// Redis: it fills a fresh SQLite store with -n live keys (spread over -accounts service
// accounts, each with a grant on every project and one on a project of its own), then
// runs one full reconcile (redissync.Syncer.Reconcile, what `sagate serve` runs at start
// and whenever Redis has lost its epoch marker) into the Redis at -redis, which must be
// empty, and prints how long it took.
//
//	reconcile -redis redis://127.0.0.1:7000/0 -db /tmp/x/1m.db -n 1000000 -keys-out keys.tsv -keys-count 100000
//
// The first -keys-count keys are real keys (keystore.GenerateKey) written to -keys-out
// for the memory step; the others are stored by hash only.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/internal/tools/bench"
	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/redissync"
	"github.com/sagate/sagate/keystore/sqlstore"
	"github.com/sagate/sagate/keystore/wire"
)

func main() {
	redisURL := flag.String("redis", "", "an EMPTY Redis to reconcile into")
	db := flag.String("db", "", "SQLite file to create (must not exist)")
	n := flag.Int("n", 1_000_000, "live keys in the store")
	accounts := flag.Int("accounts", 50, "service accounts the keys are spread over")
	keysOut := flag.String("keys-out", "", "write the first -keys-count keys (id<TAB>key) here")
	keysCount := flag.Int("keys-count", 0, "how many real keys to write to -keys-out")
	reuse := flag.Bool("reuse", false, "reuse -db and -keys-out when both exist (filled by an earlier run with the same -n)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the reconcile (not the fill) here")
	signingKey := flag.String("signing-key-file", "", "the admin's signing key (default: a new one, for this run only)")
	flag.Parse()
	o := options{redisURL: *redisURL, db: *db, n: *n, accounts: *accounts, keysOut: *keysOut,
		keysCount: *keysCount, reuse: *reuse, cpuProfile: *cpuProfile, signingKey: *signingKey}
	if err := run(o); err != nil {
		log.Fatalf("reconcile: %v", err)
	}
}

// options are the command's flags.
type options struct {
	redisURL, db, keysOut, cpuProfile string
	signingKey                        string
	n, accounts, keysCount            int
	reuse                             bool
}

func run(o options) error {
	redisURL, db, n, accounts, keysOut, keysCount := o.redisURL, o.db, o.n, o.accounts, o.keysOut, o.keysCount
	if redisURL == "" || db == "" {
		return errors.New("-redis and -db are required")
	}
	if accounts <= 0 || accounts > keystore.DefaultMaxServiceAccounts || keysCount > n {
		return fmt.Errorf("-accounts must be 1..%d and -keys-count ≤ -n", keystore.DefaultMaxServiceAccounts)
	}
	ctx := keystore.WithPrincipal(context.Background(), keystore.Operator("bench"))
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		return fmt.Errorf("parsing the redis URL: %w", err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	if size, err := rdb.DBSize(ctx).Result(); err != nil || size != 0 {
		return fmt.Errorf("the redis at -redis must be empty (dbsize %d, %v)", size, err)
	}

	reused := o.reuse && exists(db) && (keysOut == "" || exists(keysOut))
	if !reused {
		_ = os.Remove(db) // a partial file of an interrupted run
	}
	st, err := sqlstore.OpenSQLite(ctx, db)
	if err != nil {
		return err
	}
	defer st.Close()
	if reused {
		fmt.Printf("RECONCILE_FILL reused %s (delete it to fill again)\n", db)
	} else {
		start := time.Now()
		secrets, err := fill(ctx, st, n, accounts, keysCount)
		if err != nil {
			return err
		}
		fmt.Printf("RECONCILE_FILL keys=%d accounts=%d seconds=%.1f\n", n, accounts, time.Since(start).Seconds())
		if keysOut != "" {
			if err := bench.WriteKeys(keysOut, secrets); err != nil {
				return err
			}
		}
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return fmt.Errorf("creating the cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("starting the cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}

	key, err := loadKey(o.signingKey)
	if err != nil {
		return err
	}
	s, err := redissync.New(rdb, st, redissync.Config{SigningKey: key})
	if err != nil {
		return err
	}
	stats, err := s.Reconcile(ctx)
	if err != nil {
		return fmt.Errorf("reconciling: %w", err)
	}
	if !stats.NewEpoch || stats.Written != n {
		return fmt.Errorf("reconcile wrote %d records (new epoch %v), want %d with a new epoch", stats.Written, stats.NewEpoch, n)
	}
	if err := s.Ready(ctx); err != nil {
		return fmt.Errorf("after the reconcile: %w", err)
	}
	mem, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		return fmt.Errorf("reading redis memory: %w", err)
	}
	fmt.Printf("RECONCILE keys=%d seconds=%.2f keys_per_s=%.0f redis_%s\n", n, stats.Duration.Seconds(),
		float64(n)/stats.Duration.Seconds(), usedMemory(mem))
	verdict := "met"
	if stats.Duration > 30*time.Second {
		verdict = "MISSED"
	}
	fmt.Printf("TARGET %-66s %8.2f s (≤ 30): %s\n", fmt.Sprintf("full reconcile of %d keys into an empty Redis", n), stats.Duration.Seconds(), verdict)
	return nil
}

// loadKey reads the signing key from path, or makes a new one when path is "".
func loadKey(path string) (wire.SigningKey, error) {
	if path == "" {
		return wire.GenerateSigningKey()
	}
	return wire.LoadSigningKey(path)
}

// fill creates a workspace, the accounts and n keys, in transactions of 20,000 keys.
// It returns the first keysCount keys with their secrets.
func fill(ctx context.Context, st *sqlstore.SQLiteStore, n, accounts, keysCount int) ([]bench.IssuedKey, error) {
	svc, err := keystore.NewService(st, keystore.ServiceOptions{})
	if err != nil {
		return nil, fmt.Errorf("creating the service: %w", err)
	}
	const ws = "bench"
	if _, err := svc.CreateWorkspace(ctx, ws, 0); err != nil {
		return nil, fmt.Errorf("creating the workspace: %w", err)
	}
	sas := make([]keystore.ServiceAccount, accounts)
	for i := range sas {
		sa, _, err := svc.CreateServiceAccount(ctx, ws, keystore.CreateServiceAccountInput{
			Name: fmt.Sprintf("bot-%02d", i), AllProjectsRole: keystore.RoleViewer,
		})
		if err != nil {
			return nil, fmt.Errorf("creating service account %d: %w", i, err)
		}
		if _, err := svc.SetGrant(ctx, ws, fmt.Sprintf("project-%02d", i), sa.ID, keystore.RoleOwner); err != nil {
			return nil, fmt.Errorf("granting service account %d: %w", i, err)
		}
		sas[i] = sa
	}
	// The keys go in in the order of their hashes, and their ids in the same order, so
	// that both unique indexes grow at their right edge: in random order each insert
	// reads and writes a random page of a 1M-entry index, which made the fill take two
	// minutes on a slow host (it is not what is measured: the reconcile is).
	type pending struct {
		hash   keystore.KeyHash
		secret string // "" for a key nobody will send
	}
	keys := make([]pending, n)
	for i := range keys {
		if i < keysCount {
			secret, err := keystore.GenerateKey()
			if err != nil {
				return nil, fmt.Errorf("generating key %d: %w", i, err)
			}
			keys[i] = pending{hash: keystore.HashKey(secret), secret: secret}
		} else {
			keys[i] = pending{hash: keystore.HashKey(fmt.Sprintf("fill-%d", i))}
		}
	}
	slices.SortFunc(keys, func(a, b pending) int { return bytes.Compare(a.hash[:], b.hash[:]) })
	secrets := make([]bench.IssuedKey, 0, keysCount)
	now := time.Now().UTC().Truncate(time.Microsecond)
	const batch = 20000
	for lo := 0; lo < n; lo += batch {
		_, err := st.Update(ctx, func(tx keystore.Tx) error {
			for i := lo; i < min(lo+batch, n); i++ {
				k := keystore.StoredKey{APIKey: keystore.APIKey{
					ID: fmt.Sprintf("key_%020d", i), ServiceAccountID: sas[i%accounts].ID,
					Name: "bench", State: keystore.KeyActive, CreatedAt: now, Last6: "000000",
				}, Hash: keys[i].hash}
				if keys[i].secret != "" {
					k.Last6 = keystore.Last6(keys[i].secret)
					secrets = append(secrets, bench.IssuedKey{ID: k.ID, Key: keys[i].secret})
				}
				if err := tx.InsertKey(ctx, k); err != nil {
					return fmt.Errorf("inserting key %d: %w", i, err)
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("filling the store: %w", err)
		}
	}
	return secrets, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// usedMemory picks used_memory_human from INFO memory.
func usedMemory(info string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory_human:"); ok {
			return "used_memory=" + v
		}
	}
	return "used_memory=?"
}
