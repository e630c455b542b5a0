// Command rate loads one or more sidecars at a fixed rate (an open loop, unlike wrk,
// which sends as fast as its connections allow): each of -c connections per URL sends
// the next key of -keys every c/rate seconds, on schedule, whatever the answers take.
// A slot missed because the previous request on that connection was still waiting is
// skipped and counted, not sent late in a burst. It runs for -d, then prints the rate
// achieved and the latency percentiles.
//
//	rate -urls http://127.0.0.1:8001,http://127.0.0.1:8002 -keys warm.tsv -rate 1500 -c 8 -d 60s
//
// scripts/bench.sh uses it for the revocation figure "at a steady rate": a sidecar in
// production serves a rate below its capacity, where a request does not queue behind
// 16 others as it does under wrk's closed loop.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sagate/sagate/internal/tools/bench"
)

func main() {
	urls := flag.String("urls", "", "comma-separated URLs to load, each at -rate")
	keysFile := flag.String("keys", "", "keys file (id<TAB>key); requests carry them in turn")
	rate := flag.Float64("rate", 1000, "requests per second per URL")
	conns := flag.Int("c", 8, "connections per URL")
	dur := flag.Duration("d", 10*time.Second, "how long to run")
	flag.Parse()
	if err := run(strings.Split(*urls, ","), *keysFile, *rate, *conns, *dur); err != nil {
		log.Fatalf("rate: %v", err)
	}
}

func run(urls []string, keysFile string, rate float64, conns int, dur time.Duration) error {
	if len(urls) == 0 || urls[0] == "" || rate <= 0 || conns <= 0 {
		return errors.New("-urls, a positive -rate and -c are required")
	}
	keys, err := bench.ReadKeys(keysFile)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return errors.New("no keys")
	}
	// SIGINT or SIGTERM ends the run early, with the figures so far.
	sig, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(sig, dur)
	defer cancel()
	interval := time.Duration(float64(time.Second) * float64(conns) / rate)
	var (
		mu                    sync.Mutex
		lat                   []time.Duration
		sent, failed, skipped atomic.Int64
		wg                    sync.WaitGroup
	)
	start := time.Now()
	for u, url := range urls {
		for c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tr := &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1, DisableCompression: true}
				defer tr.CloseIdleConnections()
				hc := &http.Client{Transport: tr, Timeout: 5 * time.Second}
				// Spread the connections' slots evenly over one interval.
				next := start.Add(interval * time.Duration(c) / time.Duration(conns))
				var mine []time.Duration
				for i := u*conns + c; ; i += len(urls) * conns {
					if wait := time.Until(next); wait > 0 {
						select {
						case <-ctx.Done():
						case <-time.After(wait):
						}
					}
					if ctx.Err() != nil {
						break
					}
					t0 := time.Now()
					if err := send(ctx, hc, url, keys[i%len(keys)].Key); err != nil {
						if ctx.Err() != nil {
							break
						}
						failed.Add(1)
					}
					mine = append(mine, time.Since(t0))
					sent.Add(1)
					next = next.Add(interval)
					for now := time.Now(); next.Before(now); next = next.Add(interval) {
						skipped.Add(1)
					}
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(lat) == 0 {
		return errors.New("no request was answered")
	}
	fmt.Printf("RATE urls=%d target_per_url=%.0f achieved_per_url=%.0f p50_us=%d p99_us=%d failed=%d skipped_slots=%d\n",
		len(urls), rate, float64(sent.Load())/elapsed.Seconds()/float64(len(urls)),
		bench.Percentile(lat, 50).Microseconds(), bench.Percentile(lat, 99).Microseconds(), failed.Load(), skipped.Load())
	return nil
}

// send makes one request with the key; anything but 200 is an error.
func send(ctx context.Context, hc *http.Client, url, key string) error {
	code, err := bench.Get(ctx, hc, url, key)
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("status %d", code)
	}
	return err
}
