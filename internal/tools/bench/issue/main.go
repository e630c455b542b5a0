// Command issue measures admin key issuance and hands the keys to the rest of the
// harness: it creates a workspace and a service account through the admin API, issues
// -n keys with -c requests in flight (each one a POST …/keys, a durable SQLite commit
// and a Redis write-through), prints the rate, and writes the keys to -out.
//
//	SAGATE_ADMIN_TOKEN=… issue -admin http://127.0.0.1:8081 -ws bench -sa load -n 10000 -c 8 -out keys.tsv
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/internal/tools/bench"
	"github.com/sagate/sagate/keystore"
)

func main() {
	adminURL := flag.String("admin", "http://127.0.0.1:8081", "admin endpoint")
	ws := flag.String("ws", "bench", "workspace (created if missing)")
	sa := flag.String("sa", "load", "service account (created if missing, role owner on every project)")
	n := flag.Int("n", 10000, "keys to issue")
	c := flag.Int("c", 8, "requests in flight")
	out := flag.String("out", "", "keys file to write (id<TAB>key per line)")
	minRate := flag.Float64("min-rate", 0, "print a TARGET line against this many keys/s (0: none)")
	flag.Parse()
	if err := run(*adminURL, *ws, *sa, *n, *c, *out, *minRate); err != nil {
		log.Fatalf("issue: %v", err)
	}
}

func run(adminURL, ws, sa string, n, c int, out string, minRate float64) error {
	token := os.Getenv("SAGATE_ADMIN_TOKEN")
	if token == "" {
		return errors.New("SAGATE_ADMIN_TOKEN is not set")
	}
	tr := &http.Transport{MaxIdleConnsPerHost: c, MaxConnsPerHost: c}
	cl, err := admin.NewClient(adminURL, token, admin.WithHTTPClient(&http.Client{Transport: tr, Timeout: 30 * time.Second}))
	if err != nil {
		return fmt.Errorf("creating the admin client: %w", err)
	}
	ctx := context.Background()
	if err := ensureAccount(ctx, cl, ws, sa); err != nil {
		return err
	}

	keys := make([]bench.IssuedKey, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, c)
	start := time.Now()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				k, err := cl.CreateKey(ctx, ws, sa, admin.CreateKeyRequest{Name: "bench-" + strconv.Itoa(i)})
				if err != nil {
					errs <- fmt.Errorf("issuing key %d: %w", i, err)
					next.Store(int64(n)) // stop the others
					return
				}
				keys[i] = bench.IssuedKey{ID: k.ID, Key: k.Key}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	rate := float64(n) / elapsed.Seconds()
	fmt.Printf("ISSUE keys=%d concurrency=%d seconds=%.3f keys_per_s=%.0f\n", n, c, elapsed.Seconds(), rate)
	if minRate > 0 {
		verdict := "met"
		if rate < minRate {
			verdict = "MISSED"
		}
		fmt.Printf("TARGET %-66s %8.0f keys/s (≥ %g): %s\n", "admin key issuance over HTTP on SQLite", rate, minRate, verdict)
	}
	if out == "" {
		return nil
	}
	return bench.WriteKeys(out, keys)
}

// ensureAccount creates the workspace and the account unless they exist.
func ensureAccount(ctx context.Context, cl *admin.Client, ws, sa string) error {
	if _, err := cl.CreateWorkspace(ctx, admin.CreateWorkspaceRequest{Name: ws}); err != nil && !isConflict(err) {
		return fmt.Errorf("creating workspace %s: %w", ws, err)
	}
	noKey := false
	_, err := cl.CreateServiceAccount(ctx, ws, admin.CreateServiceAccountRequest{
		Name: sa, AllProjectsRole: string(keystore.RoleOwner), CreateKey: &noKey,
	})
	if err != nil && !isConflict(err) {
		return fmt.Errorf("creating service account %s: %w", sa, err)
	}
	return nil
}

func isConflict(err error) bool {
	var ae *admin.APIError
	return errors.As(err, &ae) && ae.Status == http.StatusConflict
}
