// Command propagation measures how long a revocation takes to reach every sidecar:
// for each of the keys in -keys it makes sure all sidecars answer 200 with it (so it is
// cached in each), starts one poller per sidecar sending that key as fast as one
// connection allows, revokes the key through the admin API, and takes the time from
// the admin's 2xx to the first 401 at the last sidecar. A sidecar that answered 401
// before the admin's answer arrived counts 0. The harness runs it while wrk loads the
// sidecars with other keys.
//
//	SAGATE_ADMIN_TOKEN=… propagation -admin http://127.0.0.1:8081 -ws bench -sa revoke \
//	    -keys revoke.tsv -sidecars http://127.0.0.1:8001,http://127.0.0.1:8002,http://127.0.0.1:8003
//
// The resolution is one request round trip through a loaded sidecar divided by the
// pollers per sidecar (-pollers, default 3, each on its own connection). poll_p99_us is
// the 99th percentile of those round trips while waiting for the 401s: the first 401
// is itself such a round trip, so at a load where it exceeds 10 ms the figure cannot
// be below it, however fast the revocation travels.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/internal/tools/bench"
)

func main() {
	adminURL := flag.String("admin", "http://127.0.0.1:8081", "admin endpoint")
	ws := flag.String("ws", "bench", "workspace of the keys")
	sa := flag.String("sa", "revoke", "service account of the keys")
	keysFile := flag.String("keys", "", "keys file (id<TAB>key): each key is revoked once")
	sidecars := flag.String("sidecars", "", "comma-separated sidecar base URLs")
	limit := flag.Duration("limit", 2*time.Second, "give up on one revocation after this long")
	per := flag.Int("pollers", 3, "pollers per sidecar, each on its own connection (finer resolution)")
	label := flag.String("label", "", "what the run is, for the TARGET line (e.g. \"under load\")")
	metrics := flag.String("metrics", "", "comma-separated metrics URLs of the sidecars (Caddy admin /metrics): "+
		"also report their sagate_event_lag_seconds over the run")
	flag.Parse()
	var lag *lagReader
	if *metrics != "" {
		var err error
		if lag, err = startLag(strings.Split(*metrics, ",")); err != nil {
			log.Fatalf("propagation: %v", err)
		}
	}
	if err := run(*adminURL, *ws, *sa, *keysFile, strings.Split(*sidecars, ","), *per, *limit, *label); err != nil {
		log.Fatalf("propagation: %v", err)
	}
	if lag != nil {
		if err := lag.report(); err != nil {
			log.Fatalf("propagation: %v", err)
		}
	}
}

// lagReader reads the sidecars' event lag histograms before and after a run.
type lagReader struct {
	urls   []string
	before bench.Histogram
}

const lagMetric = "sagate_event_lag_seconds"

func startLag(urls []string) (*lagReader, error) {
	l := &lagReader{urls: urls}
	var err error
	l.before, err = l.read()
	return l, err
}

// read returns the sum of the sidecars' histograms.
func (l *lagReader) read() (bench.Histogram, error) {
	var sum bench.Histogram
	for _, u := range l.urls {
		h, err := bench.FetchHistogram(u, lagMetric)
		if err != nil {
			return sum, err
		}
		if sum, err = sum.Add(h); err != nil {
			return sum, err
		}
	}
	return sum, nil
}

// report prints the lag of the events applied during the run, over every sidecar:
// the bucket bounds that hold the median and the 99th percentile.
func (l *lagReader) report() error {
	after, err := l.read()
	if err != nil {
		return err
	}
	d, err := after.Sub(l.before)
	if err != nil {
		return err
	}
	fmt.Printf("EVENT_LAG events=%.0f sidecars=%d p50_le_ms=%g p99_le_ms=%g (published in Redis -> applied by the sidecar's cache, bucket bounds)\n",
		d.Total(), len(l.urls), d.Quantile(50)*1000, d.Quantile(99)*1000)
	return nil
}

func run(adminURL, ws, sa, keysFile string, sidecars []string, per int, limit time.Duration, label string) error {
	token := os.Getenv("SAGATE_ADMIN_TOKEN")
	if token == "" {
		return errors.New("SAGATE_ADMIN_TOKEN is not set")
	}
	if len(sidecars) == 0 || sidecars[0] == "" {
		return errors.New("no -sidecars given")
	}
	keys, err := bench.ReadKeys(keysFile)
	if err != nil {
		return err
	}
	cl, err := admin.NewClient(adminURL, token)
	if err != nil {
		return fmt.Errorf("creating the admin client: %w", err)
	}
	var pollers []*poller
	for i, u := range sidecars {
		for range max(per, 1) {
			pollers = append(pollers, newPoller(i, u))
		}
	}
	var lat []time.Duration
	early := 0
	for n, k := range keys {
		d, before, err := revokeOne(cl, ws, sa, k, pollers, limit)
		if err != nil {
			return fmt.Errorf("revocation %d (key id %s): %w", n+1, k.ID, err)
		}
		lat = append(lat, d)
		early += before
	}
	worst := slices.Max(lat)
	p50, p99 := bench.Percentile(lat, 50), bench.Percentile(lat, 99)
	var polls []time.Duration
	for _, p := range pollers {
		polls = append(polls, p.lat...)
	}
	fmt.Printf("PROPAGATION revocations=%d sidecars=%d p50_us=%d p99_us=%d max_us=%d sidecar_401_before_admin_2xx=%d poll_p99_us=%d\n",
		len(lat), len(sidecars), p50.Microseconds(), p99.Microseconds(), worst.Microseconds(), early,
		bench.Percentile(polls, 99).Microseconds())
	verdict := "met"
	if p99 > 10*time.Millisecond {
		verdict = "MISSED"
	}
	what := fmt.Sprintf("revocation reaches the last of %d sidecars", len(sidecars))
	if label != "" {
		what += " " + label
	}
	fmt.Printf("TARGET %-66s %8.2f ms (≤ 10): %s\n", what+", p99", float64(p99.Microseconds())/1000, verdict)
	return nil
}

// revokeOne measures one revocation. It returns the time from the admin's 2xx to the
// first 401 at the last sidecar (0 when every sidecar refused before the 2xx arrived)
// and how many sidecars refused before the 2xx. A sidecar's first 401 is the earliest
// of its pollers'.
func revokeOne(cl *admin.Client, ws, sa string, k bench.IssuedKey, ps []*poller, limit time.Duration) (time.Duration, int, error) {
	// Every sidecar must know the key first (cached), else we would measure a lookup.
	for _, p := range ps {
		if err := p.expect(k.Key, http.StatusOK, limit); err != nil {
			return 0, 0, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit+5*time.Second)
	defer cancel()
	results := make([]pollResult, len(ps))
	started := make(chan struct{}, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = p.until401(ctx, k.Key, started)
		}()
	}
	for range ps {
		<-started // each poller has had a 200 with the key
	}
	if err := cl.RevokeKey(ctx, ws, sa, k.ID); err != nil {
		cancel()
		wg.Wait()
		return 0, 0, fmt.Errorf("revoking: %w", err)
	}
	acked := time.Now()
	wg.Wait()
	first := map[int]time.Time{} // sidecar → its first 401
	for i, r := range results {
		if r.err != nil {
			return 0, 0, fmt.Errorf("sidecar %s: %w", ps[i].base, r.err)
		}
		if t, ok := first[ps[i].sidecar]; !ok || r.at.Before(t) {
			first[ps[i].sidecar] = r.at
		}
	}
	var worst time.Duration
	before := 0
	for _, t := range first {
		d := t.Sub(acked)
		if d <= 0 {
			before++
		}
		worst = max(worst, d)
	}
	if worst > limit {
		return 0, 0, fmt.Errorf("the last sidecar refused the key only after %v", worst)
	}
	return worst, before, nil
}

// poller sends requests to one sidecar over one kept-alive connection.
type poller struct {
	sidecar int // index in -sidecars
	base    string
	hc      *http.Client
	lat     []time.Duration // of every request while waiting for the 401
}

func newPoller(sidecar int, base string) *poller {
	tr := &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1, DisableCompression: true}
	return &poller{sidecar: sidecar, base: strings.TrimRight(base, "/"), hc: &http.Client{Transport: tr, Timeout: 5 * time.Second}}
}

// get sends one request with the key and returns the status.
func (p *poller) get(ctx context.Context, key string) (int, error) {
	return bench.Get(ctx, p.hc, p.base+"/propagation", key)
}

// expect polls until the sidecar answers want (or limit passes).
func (p *poller) expect(key string, want int, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	last := 0
	for ctx.Err() == nil {
		st, err := p.get(ctx, key)
		if err == nil && st == want {
			return nil
		}
		last = st
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("sidecar %s: want %d, last answer %d", p.base, want, last)
}

type pollResult struct {
	at  time.Time // when the first 401 arrived
	err error
}

// until401 sends the key until the sidecar answers 401. It signals started after its
// first answer, which must be 200. Any status other than 200 and 401 is an error.
func (p *poller) until401(ctx context.Context, key string, started chan<- struct{}) pollResult {
	first := true
	for {
		t0 := time.Now()
		st, err := p.get(ctx, key)
		if err == nil {
			p.lat = append(p.lat, time.Since(t0))
		}
		if first {
			started <- struct{}{}
			first = false
			if err == nil && st != http.StatusOK {
				return pollResult{err: fmt.Errorf("first answer %d, want 200", st)}
			}
		}
		switch {
		case err != nil:
			return pollResult{err: err}
		case st == http.StatusUnauthorized:
			return pollResult{at: time.Now()}
		case st != http.StatusOK:
			return pollResult{err: fmt.Errorf("answer %d while waiting for 401", st)}
		}
	}
}
