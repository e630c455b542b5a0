// Command memory measures the resident memory of a sidecar whose key cache is full:
// it reads the Caddy process's RSS, sends every key of -keys once through the sidecar
// at -url (each one must be allowed: a miss, then cached), and reads the RSS again.
// Started with cache_size equal to the number of keys, the cache then holds all of them.
//
//	memory -url http://127.0.0.1:8010 -pid 12345 -keys keys.tsv -c 32
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sagate/sagate/internal/tools/bench"
)

func main() {
	url := flag.String("url", "", "sidecar URL")
	pid := flag.Int("pid", 0, "the sidecar's Caddy process id")
	keysFile := flag.String("keys", "", "keys file (id<TAB>key)")
	c := flag.Int("c", 32, "requests in flight")
	limit := flag.Int64("limit-mb", 100, "RSS target in MB (10^6 bytes)")
	flag.Parse()
	if err := run(*url, *pid, *keysFile, *c, *limit); err != nil {
		log.Fatalf("memory: %v", err)
	}
}

func run(url string, pid int, keysFile string, c int, limitMB int64) error {
	if url == "" || pid <= 0 {
		return errors.New("-url and -pid are required")
	}
	keys, err := bench.ReadKeys(keysFile)
	if err != nil {
		return err
	}
	before, err := bench.ReadMemory(pid)
	if err != nil {
		return err
	}
	tr := &http.Transport{MaxIdleConnsPerHost: c, MaxConnsPerHost: c}
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var next, retries atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, c)
	start := time.Now()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(keys) {
					return
				}
				if err := sendRetry(hc, url, keys[i].Key, &retries); err != nil {
					errs <- fmt.Errorf("key %d (id %s): %w", i, keys[i].ID, err)
					next.Store(int64(len(keys)))
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	after, err := bench.ReadMemory(pid)
	if err != nil {
		return err
	}
	const mb = 1e6
	fmt.Printf("MEMORY keys=%d fill_seconds=%.1f retried_503=%d rss_before_mb=%.1f rss_after_mb=%.1f peak_rss_mb=%.1f"+
		" anon_before_mb=%.1f anon_after_mb=%.1f file_after_mb=%.1f\n",
		len(keys), elapsed.Seconds(), retries.Load(), float64(before.RSS)/mb, float64(after.RSS)/mb, float64(after.PeakRSS)/mb,
		float64(before.RSSAnon)/mb, float64(after.RSSAnon)/mb, float64(after.RSSFile)/mb)
	verdict := "met"
	if float64(after.RSS)/mb >= float64(limitMB) {
		verdict = "MISSED"
	}
	fmt.Printf("TARGET %-66s %8.1f MB (< %d): %s\n", fmt.Sprintf("RSS of a sidecar with %d keys cached", len(keys)),
		float64(after.RSS)/mb, limitMB, verdict)
	return nil
}

// sendRetry sends the key until it gets 200, at most 5 times: a 503 (the lookup took
// longer than the sidecar's lookup_timeout on a busy machine) is tried again and
// counted, anything else is an error.
func sendRetry(hc *http.Client, url, key string, retries *atomic.Int64) error {
	var err error
	for range 5 {
		if err = send(hc, url, key); !errors.Is(err, errUnavailable) {
			return err
		}
		retries.Add(1)
		time.Sleep(10 * time.Millisecond)
	}
	return err
}

// errUnavailable is a 503 answer.
var errUnavailable = errors.New("status 503")

// send makes one request with the key; anything but 200 is an error.
func send(hc *http.Client, url, key string) error {
	code, err := bench.Get(context.Background(), hc, url, key)
	switch {
	case err != nil:
		return err
	case code == http.StatusServiceUnavailable:
		return errUnavailable
	case code != http.StatusOK:
		return fmt.Errorf("status %d, want 200", code)
	}
	return nil
}
