// Command fleet measures what a fleet of sidecars costs one Redis: for each fleet size
// N it runs min(N, -real) Caddy sidecars as processes and N-min(N, -real) simulated
// followers (each a keycache.Cache with a go-redis client, connections and events
// follower of its own, doing lookups, in this process), all on one redis-server with
// the admin (sagate serve, SQLite) writing to it, and measures:
//
//   - revocation: the time from the admin's answer to a revocation to the moment the
//     last of the N refuses the key (p50, p99 and the largest over -revocations keys:
//     by nearest rank, the p99 of fewer than 100 is the largest). A Caddy is watched
//     by an event stream opened through it with the key, which the sidecar cuts once
//     the key no longer passes (-poll: by a request every millisecond instead); a
//     simulated follower by Cache.Watch. The parts of the time (the admin's call, the
//     event's entry in Redis, the last follower notified, the last Caddy) are logged;
//   - connections: the fleet's established connections to Redis (from /proc, the
//     more of: after the revocations with lookups running, after the idle window) ÷ N;
//   - idle CPU: Redis' used_cpu_sys+used_cpu_user over -idle with the fleet idle, less
//     the same without it, in ms per second per sidecar;
//   - a Redis restart (SAVE, kill -9, start again from the snapshot): the time from
//     the restarted Redis accepting connections to each sidecar answering a key from
//     Redis again (the slowest of the N), and the connections and commands the fleet
//     sent Redis meanwhile.
//
// It starts everything it uses in -work and stops it on exit, then writes one CSV row
// per size to -csv.
//
//	fleet -bin bin -sizes 1,10,50,100 -real 5 -csv docs/bench/sidecars.csv
package main

import (
	"bufio"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/internal/tools/bench"
	"github.com/sagate/sagate/keystore/keycache"
	"github.com/sagate/sagate/keystore/wire"
)

const (
	workspace = "fleet"
	account   = "fleet"
)

type config struct {
	bin, work, csv  string
	sizes           []int
	real            int
	revocations     int
	idle            time.Duration
	lookupEvery     time.Duration
	recoveryLimit   time.Duration
	lookupKeysCount int
	cpuProfile      string
	poll            bool
}

func main() {
	var cfg config
	sizes := flag.String("sizes", "1,10,50,100", "fleet sizes, comma-separated")
	flag.StringVar(&cfg.bin, "bin", "bin", "directory with sagate, caddy and upstream")
	flag.StringVar(&cfg.work, "work", "", "working directory (default: a new temporary one)")
	flag.StringVar(&cfg.csv, "csv", "docs/bench/sidecars.csv", "CSV written, one row per size")
	flag.IntVar(&cfg.real, "real", 5, "most Caddy processes in a fleet; the rest are simulated followers")
	flag.IntVar(&cfg.revocations, "revocations", 200, "revocations measured per size (a p99 needs 100 or more)")
	flag.DurationVar(&cfg.idle, "idle", 30*time.Second, "idle window for Redis' CPU")
	flag.DurationVar(&cfg.lookupEvery, "lookup-every", 100*time.Millisecond, "each simulated follower looks a key up this often while not idle")
	flag.DurationVar(&cfg.recoveryLimit, "recovery-limit", 30*time.Second, "give up waiting for a sidecar after a Redis restart")
	flag.IntVar(&cfg.lookupKeysCount, "lookup-keys", 200, "keys the followers look up (besides the revoked ones)")
	flag.BoolVar(&cfg.poll, "poll", false, "watch each Caddy for a refusal by polling it every millisecond, as before, instead of by an open event stream it cuts")
	flag.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of this process over the revocations of the last size here")
	flag.Parse()
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			log.Fatalf("fleet: -sizes: %q is not a positive number", s)
		}
		cfg.sizes = append(cfg.sizes, n)
	}
	redis.SetLogger(quiet{}) // a fleet losing Redis would print a line per client and dial
	h := &harness{cfg: cfg}
	err := h.run()
	h.stop()
	if err != nil {
		log.Fatalf("fleet: %v", err)
	}
}

// lagLog collects the simulated followers' event lags (keycache.Config.EventLag).
type lagLog struct {
	mu   sync.Mutex
	lags []time.Duration
}

func (l *lagLog) add(d time.Duration) {
	l.mu.Lock()
	l.lags = append(l.lags, d)
	l.mu.Unlock()
}

// take returns the lags collected since the last take.
func (l *lagLog) take() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.lags
	l.lags = nil
	return out
}

type harness struct {
	lags       lagLog
	cfg        config
	procs      []*exec.Cmd
	redisPort  int
	redisCmd   *exec.Cmd
	redisURL   string
	rdb        *redis.Client // the harness' own connection (INFO, CLIENT LIST, SAVE)
	signPub    string
	verifier   *wire.Verifier
	adm        *admin.Client
	adminURL   string
	apiPort    int
	streamPort int // the harness' own event-stream upstream (the Caddies' /events)
	lookupKeys []bench.IssuedKey
	revoke     []bench.IssuedKey
}

type row struct {
	n                   int
	p50, p99, worst     time.Duration
	revocations         int
	connsPer            float64
	cpuIdlePer          float64 // ms of Redis CPU per second per sidecar
	recoveryMax         time.Duration
	reconnects, cmdsPer float64
}

func (h *harness) run() error {
	if h.cfg.work == "" {
		d, err := os.MkdirTemp("", "sagate-fleet-")
		if err != nil {
			return err
		}
		h.cfg.work = d
	}
	bin, err := filepath.Abs(h.cfg.bin)
	if err != nil {
		return err
	}
	h.cfg.bin = bin
	if err := os.MkdirAll(h.cfg.work, 0o700); err != nil {
		return err
	}
	if err := h.startRedis(); err != nil {
		return err
	}
	if err := h.startAdmin(); err != nil {
		return err
	}
	if err := h.issueKeys(); err != nil {
		return err
	}
	if err := h.startUpstream(); err != nil {
		return err
	}
	if err := h.startStreams(); err != nil {
		return err
	}
	var rows []row
	for i, n := range h.cfg.sizes {
		keys := h.revoke[i*h.cfg.revocations : (i+1)*h.cfg.revocations]
		r, err := h.measure(n, keys)
		if err != nil {
			return fmt.Errorf("%d sidecars: %w", n, err)
		}
		rows = append(rows, r)
		if err := writeCSV(h.cfg.csv, rows); err != nil { // each size as it is done
			return err
		}
		fmt.Printf("FLEET sidecars=%d real=%d revocation_p50_ms=%.2f revocation_p99_ms=%.2f revocation_max_ms=%.2f conns_per_sidecar=%.2f redis_cpu_idle_ms_per_s_per_sidecar=%.4f restart_recovery_max_s=%.2f reconnects_per_sidecar=%.1f commands_per_sidecar_during_recovery=%.1f\n",
			r.n, min(n, h.cfg.real), ms(r.p50), ms(r.p99), ms(r.worst), r.connsPer, r.cpuIdlePer, r.recoveryMax.Seconds(), r.reconnects, r.cmdsPer)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func writeCSV(path string, rows []row) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("sidecars,revocations,revocation_p50_ms,revocation_p99_ms,revocation_max_ms,redis_conns_per_sidecar,redis_cpu_idle_ms_per_s_per_sidecar,restart_recovery_max_s\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "%d,%d,%.2f,%.2f,%.2f,%.2f,%.4f,%.2f\n", r.n, r.revocations, ms(r.p50), ms(r.p99), ms(r.worst), r.connsPer, r.cpuIdlePer, r.recoveryMax.Seconds())
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// freePort returns a port nothing listens on now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitPort(port int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
		if err == nil {
			_ = c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("nothing listens on port %d after %v", port, limit)
}

func (h *harness) start(name string, env []string, args ...string) (*exec.Cmd, error) {
	f, err := os.Create(filepath.Join(h.cfg.work, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	h.procs = append(h.procs, cmd)
	return cmd, nil
}

func (h *harness) stop() {
	for _, p := range slices.Backward(h.procs) {
		if p.ProcessState == nil && p.Process != nil {
			_ = p.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = p.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				_ = p.Process.Kill()
			}
		}
	}
}

func (h *harness) startRedis() error {
	if h.redisPort == 0 {
		p, err := freePort()
		if err != nil {
			return err
		}
		h.redisPort = p
		h.redisURL = fmt.Sprintf("redis://127.0.0.1:%d/0", p)
	}
	cmd, err := h.start("redis", nil, "redis-server", "--port", strconv.Itoa(h.redisPort), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", h.cfg.work, "--dbfilename", "fleet.rdb", "--maxclients", "10000")
	if err != nil {
		return err
	}
	h.redisCmd = cmd
	if err := waitPort(h.redisPort, 10*time.Second); err != nil {
		return err
	}
	if h.rdb == nil {
		h.rdb = redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", h.redisPort), PoolSize: 1, MaxRetries: -1})
	}
	return nil
}

func (h *harness) startAdmin() error {
	keyFile := filepath.Join(h.cfg.work, "signing.key")
	out, err := exec.Command(filepath.Join(h.cfg.bin, "sagate"), "signing-key", "generate", keyFile).Output()
	if err != nil {
		return fmt.Errorf("generating the signing key: %w", err)
	}
	h.signPub = strings.TrimSpace(string(out))
	pk, err := wire.ParsePublicKey(h.signPub)
	if err != nil {
		return err
	}
	h.verifier = wire.NewVerifier(pk)
	port, err := freePort()
	if err != nil {
		return err
	}
	var tok [32]byte
	if _, err := crand.Read(tok[:]); err != nil {
		return err
	}
	token := hex.EncodeToString(tok[:])
	h.adminURL = fmt.Sprintf("http://127.0.0.1:%d", port)
	if _, err := h.start("admin", []string{"SAGATE_ADMIN_TOKEN=" + token}, filepath.Join(h.cfg.bin, "sagate"), "serve",
		"--listen", fmt.Sprintf("127.0.0.1:%d", port), "--store", "sqlite://"+filepath.Join(h.cfg.work, "sagate.db"),
		"--signing-key-file", keyFile, "--redis", h.redisURL, "--log-level", "warn"); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(h.adminURL + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			return errors.New("the admin is not ready after 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	h.adm, err = admin.NewClient(h.adminURL, token)
	return err
}

func (h *harness) issueKeys() error {
	ctx := context.Background()
	if _, err := h.adm.CreateWorkspace(ctx, admin.CreateWorkspaceRequest{Name: workspace}); err != nil {
		return fmt.Errorf("creating the workspace: %w", err)
	}
	noKey := false
	if _, err := h.adm.CreateServiceAccount(ctx, workspace, admin.CreateServiceAccountRequest{
		Name: account, AllProjectsRole: string(wire.RoleViewer), CreateKey: &noKey,
	}); err != nil {
		return fmt.Errorf("creating the service account: %w", err)
	}
	n := h.cfg.lookupKeysCount + h.cfg.revocations*len(h.cfg.sizes)
	keys := make([]bench.IssuedKey, n)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				k, err := h.adm.CreateKey(ctx, workspace, account, admin.CreateKeyRequest{Name: "fleet-" + strconv.Itoa(i)})
				if err != nil {
					errs <- fmt.Errorf("issuing key %d: %w", i, err)
					return
				}
				keys[i] = bench.IssuedKey{ID: k.ID, Key: k.Key}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	h.lookupKeys, h.revoke = keys[:h.cfg.lookupKeysCount], keys[h.cfg.lookupKeysCount:]
	log.Printf("issued %d keys", n)
	return nil
}

func (h *harness) startUpstream() error {
	p, err := freePort()
	if err != nil {
		return err
	}
	h.apiPort = p
	if _, err := h.start("upstream", nil, filepath.Join(h.cfg.bin, "upstream"), "-quiet", "-listen", fmt.Sprintf("127.0.0.1:%d", p)); err != nil {
		return err
	}
	return waitPort(p, 10*time.Second)
}

// startStreams serves the Caddies' /events: an event stream that sends one frame and
// stays open until the client goes. A Caddy watches such a request (it was flushed)
// and cuts it the moment its key no longer passes, so the harness learns a Caddy's
// refusal from one blocking read instead of polling it.
func (h *harness) startStreams() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	h.streamPort = l.Addr().(*net.TCPAddr).Port
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		if _, err := io.WriteString(w, "data: open\n\n"); err != nil {
			return
		}
		if err := http.NewResponseController(w).Flush(); err != nil {
			return
		}
		<-r.Context().Done()
	})}
	go func() { _ = srv.Serve(l) }()
	return nil
}

// refusal is when a member refused a revoked key.
type refusal struct {
	// notified is when a simulated follower's watch was first called (the event
	// applied to its cache); zero for a Caddy.
	notified time.Time
	// refused is when the member first refused the key: for a Caddy watched by an
	// open stream, when the stream was cut (its refusal was decided before that).
	refused time.Time
}

// sidecar is one member of the fleet: a Caddy process or a simulated follower.
type sidecar interface {
	// allowed reports whether the sidecar answers the key as allowed now.
	allowed(ctx context.Context, k bench.IssuedKey) (bool, error)
	// watchRefusal returns once the member is watched for refusing k; wait then
	// returns when it refuses k, with when it did.
	watchRefusal(ctx context.Context, k bench.IssuedKey) (wait func() (refusal, error), err error)
	// servesAgain returns the first time after from at which the sidecar answered
	// k from Redis (not a stale entry).
	servesAgain(ctx context.Context, k bench.IssuedKey) (time.Time, error)
	close()
}

// follower is a simulated sidecar.
type follower struct {
	client *redis.Client
	cache  *keycache.Cache
	stopLU chan struct{}
	luDone chan struct{}
}

func (h *harness) newFollower() (*follower, error) {
	opts, err := redis.ParseURL(h.redisURL)
	if err != nil {
		return nil, err
	}
	opts.MaxIdleConns = keycache.MaxIdleConns // as a sidecar's client (caddymodule)
	cl := redis.NewClient(opts)
	c := keycache.New(cl, keycache.Config{Verifier: h.verifier, Size: 1000, EventLag: h.lags.add})
	c.Start()
	return &follower{client: cl, cache: c}, nil
}

func (f *follower) startLookups(keys []bench.IssuedKey, every time.Duration) {
	f.stopLU, f.luDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(f.luDone)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-f.stopLU:
				return
			case <-t.C:
				k := keys[rand.IntN(len(keys))]
				_, _, _ = f.cache.Lookup(context.Background(), wire.HashKey(k.Key), keycache.Policy{})
			}
		}
	}()
}

func (f *follower) stopLookups() {
	if f.stopLU != nil {
		close(f.stopLU)
		<-f.luDone
		f.stopLU = nil
	}
}

func (f *follower) allowed(ctx context.Context, k bench.IssuedKey) (bool, error) {
	e, _, err := f.cache.Lookup(ctx, wire.HashKey(k.Key), keycache.Policy{})
	if err != nil {
		return false, err
	}
	return e.Found() && e.State() == wire.KeyActive && e.Live(time.Now()), nil
}

// watchRefusal registers a Cache.Watch on k; wait looks k up at each call of it.
func (f *follower) watchRefusal(ctx context.Context, k bench.IssuedKey) (func() (refusal, error), error) {
	h := wire.HashKey(k.Key)
	changed := make(chan time.Time, 1)
	stop := f.cache.Watch(h, func() {
		select {
		case changed <- time.Now():
		default:
		}
	})
	return func() (refusal, error) {
		defer stop()
		var r refusal
		for {
			ok, err := f.allowed(ctx, k)
			if err == nil && !ok {
				r.refused = time.Now()
				return r, nil
			}
			select {
			case <-ctx.Done():
				return r, fmt.Errorf("a follower still allows the key: %w", ctx.Err())
			case t := <-changed:
				if r.notified.IsZero() {
					r.notified = t
				}
			case <-time.After(time.Second): // a missed notification costs a second, not the run
			}
		}
	}, nil
}

// servesAgain waits for an answer that is not stale followed by one from the cache:
// a cached entry answers on its own only once the events follower is back and caught up.
func (f *follower) servesAgain(ctx context.Context, k bench.IssuedKey) (time.Time, error) {
	h := wire.HashKey(k.Key)
	for {
		at := time.Now()
		e, src, err := f.cache.Lookup(ctx, h, keycache.Policy{})
		if err == nil && e.Found() && src != keycache.SourceStale {
			if _, src, err := f.cache.Lookup(ctx, h, keycache.Policy{}); err == nil && src == keycache.SourceCache {
				return at, nil
			}
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("a follower does not answer from Redis: %w", ctx.Err())
		case <-time.After(time.Duration(20+rand.IntN(10)) * time.Millisecond):
		}
	}
}

func (f *follower) close() {
	f.stopLookups()
	_ = f.cache.Close()
	_ = f.client.Close()
}

// caddy is a real sidecar.
type caddy struct {
	cmd    *exec.Cmd
	url    string
	hc     *http.Client
	stream *http.Client // for /events: no overall timeout
	poll   bool         // watch for a refusal by polling (-poll)
	// polled counts the streams that ended without the key refused, after which
	// the refusal was polled for.
	polled atomic.Int64
}

func (h *harness) startCaddy(i int) (*caddy, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	aport, err := freePort()
	if err != nil {
		return nil, err
	}
	cf := fmt.Sprintf("{\n\tadmin 127.0.0.1:%d\n\tpersist_config off\n}\nhttp://127.0.0.1:%d {\n\tbind 127.0.0.1\n"+
		"\tsagate {\n\t\tredis %s\n\t\tsigning_keys %s\n\t\tworkspace %s\n\t\tstale_if_error off\n\t}\n"+
		"\treverse_proxy /events 127.0.0.1:%d\n\treverse_proxy 127.0.0.1:%d\n}\n",
		aport, port, h.redisURL, h.signPub, workspace, h.streamPort, h.apiPort)
	path := filepath.Join(h.cfg.work, fmt.Sprintf("caddy%d.Caddyfile", i))
	if err := os.WriteFile(path, []byte(cf), 0o600); err != nil {
		return nil, err
	}
	home := filepath.Join(h.cfg.work, "home")
	cmd, err := h.start(fmt.Sprintf("caddy%d", i), []string{"HOME=" + home, "XDG_DATA_HOME=" + home + "/data", "XDG_CONFIG_HOME=" + home + "/config"},
		filepath.Join(h.cfg.bin, "caddy"), "run", "--config", path, "--adapter", "caddyfile")
	if err != nil {
		return nil, err
	}
	if err := waitPort(port, 30*time.Second); err != nil {
		return nil, fmt.Errorf("caddy %d: %w", i, err)
	}
	return &caddy{cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d/", port),
		hc:     &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}},
		stream: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}, poll: h.cfg.poll}, nil
}

func (c *caddy) allowed(ctx context.Context, k bench.IssuedKey) (bool, error) {
	code, err := bench.Get(ctx, c.hc, c.url, k.Key)
	if err != nil {
		return false, err
	}
	switch code {
	case http.StatusOK:
		return true, nil
	case http.StatusUnauthorized, http.StatusForbidden:
		return false, nil
	}
	return false, fmt.Errorf("caddy answered %d", code)
}

// watchRefusal opens /events with k through the Caddy and reads its first frame: the
// request is then watched by the sidecar (it was flushed), which cuts it once k no
// longer passes. wait reads until the cut, then checks with one request that k is
// refused (a stream that ended otherwise falls back to polling). The cut comes after
// the sidecar's refusal (its watch is called once the event is applied, then it looks
// the key up again), so this is an upper bound of the refusal's time that costs the
// machine nothing meanwhile: polling a Caddy every millisecond is 1,000 requests a
// second through it and the sample API, per Caddy, on the cores the fleet shares.
func (c *caddy) watchRefusal(ctx context.Context, k bench.IssuedKey) (func() (refusal, error), error) {
	if c.poll {
		return func() (refusal, error) {
			t, err := c.waitRefused(ctx, k)
			return refusal{refused: t}, err
		}, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url+"events", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+k.Key)
	resp, err := c.stream.Do(req)
	if err != nil {
		return nil, fmt.Errorf("opening a stream through a caddy: %w", err)
	}
	br := bufio.NewReader(resp.Body)
	if resp.StatusCode != http.StatusOK {
		_ = resp.Body.Close()
		return nil, fmt.Errorf("opening a stream through a caddy: %s", resp.Status)
	}
	if _, err := br.ReadString('\n'); err != nil {
		_ = resp.Body.Close()
		return nil, fmt.Errorf("reading a stream through a caddy: %w", err)
	}
	return func() (refusal, error) {
		_, _ = io.Copy(io.Discard, br)
		t := time.Now()
		_ = resp.Body.Close()
		if ok, err := c.allowed(ctx, k); err == nil && !ok {
			return refusal{refused: t}, nil
		}
		c.polled.Add(1)
		t, err := c.waitRefused(ctx, k)
		return refusal{refused: t}, err
	}, nil
}

// waitRefused polls every millisecond or so: a poller flat out would take CPU from
// the rest of the fleet on a small machine, for a finer resolution than it can show.
func (c *caddy) waitRefused(ctx context.Context, k bench.IssuedKey) (time.Time, error) {
	for {
		ok, err := c.allowed(ctx, k)
		if err == nil && !ok {
			return time.Now(), nil
		}
		if ctx.Err() != nil {
			return time.Time{}, fmt.Errorf("a caddy still allows the key: %w", ctx.Err())
		}
		time.Sleep(time.Millisecond)
	}
}

func (c *caddy) servesAgain(ctx context.Context, k bench.IssuedKey) (time.Time, error) {
	for {
		// stale_if_error is off: a 200 is an answer Redis confirmed.
		if ok, err := c.allowed(ctx, k); err == nil && ok {
			return time.Now(), nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("a caddy does not answer: %w", ctx.Err())
		case <-time.After(time.Duration(20+rand.IntN(10)) * time.Millisecond):
		}
	}
}

func (c *caddy) close() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}

type idle struct {
	conns   int
	cpuPerS float64 // ms of Redis CPU per second
}

// connsTo counts the established TCP connections of process pid to port on loopback,
// from /proc: its socket descriptors matched against /proc/net/tcp.
func connsTo(pid, port int) (int, error) {
	ports, err := localPortsTo(pid, port)
	return len(ports), err
}

// localPortsTo returns the local ports of the established TCP connections of process
// pid to port on loopback, from /proc: its socket descriptors matched against
// /proc/net/tcp.
func localPortsTo(pid, port int) ([]int, error) {
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return nil, err
	}
	want := fmt.Sprintf(":%04X", port)
	local := map[string]int{} // socket inode link -> local port
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
		if len(f) < 10 || f[3] != "01" || !strings.HasSuffix(f[2], want) {
			continue
		}
		_, hexPort, _ := strings.Cut(f[1], ":")
		lp, _ := strconv.ParseInt(hexPort, 16, 32)
		local["socket:["+f[9]+"]"] = int(lp)
	}
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var ports []int
	for _, fd := range fds {
		if l, err := os.Readlink(filepath.Join(dir, fd.Name())); err == nil {
			if lp, ok := local[l]; ok {
				ports = append(ports, lp)
			}
		}
	}
	return ports, nil
}

// describeClients returns what Redis' CLIENT LIST says of the connections from the
// local ports: each one's age, idle time and last command.
func (h *harness) describeClients(ports []int) string {
	list, err := h.rdb.ClientList(context.Background()).Result()
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, line := range strings.Split(list, "\n") {
		f := map[string]string{}
		for _, kv := range strings.Fields(line) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				f[k] = v
			}
		}
		_, p, _ := strings.Cut(f["addr"], ":")
		if lp, err := strconv.Atoi(p); err == nil && slices.Contains(ports, lp) {
			out = append(out, fmt.Sprintf("age=%ss idle=%ss cmd=%s", f["age"], f["idle"], f["cmd"]))
		}
	}
	return strings.Join(out, "; ")
}

// fleetConns counts the fleet's connections to Redis: each Caddy's, and this
// process' less the harness' own.
func (h *harness) fleetConns(fleet []sidecar) (int, error) {
	if err := h.rdb.Ping(context.Background()).Err(); err != nil { // the harness' one connection is open
		return 0, err
	}
	own, err := connsTo(os.Getpid(), h.redisPort)
	if err != nil {
		return 0, err
	}
	n := own - 1
	for i, s := range fleet {
		switch s := s.(type) {
		case *caddy:
			ports, err := localPortsTo(s.cmd.Process.Pid, h.redisPort)
			if err != nil {
				return 0, err
			}
			if m := len(ports); m > 3 {
				log.Printf("sidecar %d (Caddy, pid %d) holds %d connections to Redis: %s", i, s.cmd.Process.Pid, m, h.describeClients(ports))
			}
			n += len(ports)
		case *follower:
			if st := s.client.PoolStats(); st.TotalConns > keycache.MaxIdleConns {
				log.Printf("sidecar %d (simulated) holds %d pool connections (%d idle), besides its follower's", i, st.TotalConns, st.IdleConns)
			}
		}
	}
	return n, nil
}

// clients counts Redis' client connections.
func (h *harness) clients(ctx context.Context) (int, error) {
	s, err := h.rdb.ClientList(ctx).Result()
	if err != nil {
		return 0, err
	}
	return strings.Count(s, "\n"), nil
}

// info returns the numeric fields of INFO section.
func (h *harness) info(ctx context.Context, section string) (map[string]float64, error) {
	s, err := h.rdb.Info(ctx, section).Result()
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok {
			continue
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			out[k] = f
		}
	}
	return out, nil
}

func (h *harness) redisCPU(ctx context.Context) (float64, error) {
	m, err := h.info(ctx, "cpu")
	if err != nil {
		return 0, err
	}
	return (m["used_cpu_sys"] + m["used_cpu_user"]) * 1000, nil
}

// idleWindow measures Redis' connections and CPU over the idle window.
func (h *harness) idleWindow() (idle, error) {
	ctx := context.Background()
	c0, err := h.redisCPU(ctx)
	if err != nil {
		return idle{}, err
	}
	t0 := time.Now()
	time.Sleep(h.cfg.idle)
	c1, err := h.redisCPU(ctx)
	if err != nil {
		return idle{}, err
	}
	conns, err := h.clients(ctx)
	if err != nil {
		return idle{}, err
	}
	return idle{conns: conns, cpuPerS: (c1 - c0) / time.Since(t0).Seconds()}, nil
}

func (h *harness) measure(n int, revoke []bench.IssuedKey) (row, error) {
	r := row{n: n}
	// Without the fleet: what the admin and this harness cost Redis now.
	base, err := h.idleWindow()
	if err != nil {
		return r, err
	}
	log.Printf("%d sidecars: baseline without them: %d connections, %.3f ms/s of Redis CPU", n, base.conns, base.cpuPerS)
	var fleet []sidecar
	var sims []*follower
	defer func() {
		for _, s := range fleet {
			s.close()
		}
	}()
	for i := range min(n, h.cfg.real) {
		c, err := h.startCaddy(i)
		if err != nil {
			return r, err
		}
		fleet = append(fleet, c)
	}
	for range n - min(n, h.cfg.real) {
		f, err := h.newFollower()
		if err != nil {
			return r, err
		}
		fleet = append(fleet, f)
		sims = append(sims, f)
	}
	ctx := context.Background()
	// Every member must answer a key before anything is measured.
	if err := each(fleet, func(s sidecar) error {
		ok, err := retryAllowed(ctx, s, h.lookupKeys[0], 30*time.Second)
		if err == nil && !ok {
			err = errors.New("a valid key was refused")
		}
		return err
	}); err != nil {
		return r, err
	}
	for _, f := range sims {
		f.startLookups(h.lookupKeys, h.cfg.lookupEvery)
	}

	// Revocations.
	h.lags.take()
	if h.cfg.cpuProfile != "" {
		f, err := os.Create(h.cfg.cpuProfile)
		if err != nil {
			return r, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return r, err
		}
		defer f.Close()
	}
	var lat []time.Duration
	var rvs []revocation
	for _, k := range revoke {
		rv, err := h.revokeOne(fleet, k)
		if err != nil {
			return r, err
		}
		lat = append(lat, max(rv.last, 0))
		rvs = append(rvs, rv)
	}
	if h.cfg.cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	r.p50, r.p99, r.worst = bench.Percentile(lat, 50), bench.Percentile(lat, 99), slices.Max(lat)
	r.revocations = len(lat)
	logRevocations(n, rvs)
	for i, s := range fleet {
		if c, ok := s.(*caddy); ok && c.polled.Load() > 0 {
			log.Printf("sidecar %d (Caddy): %d of its streams ended without the key refused; polled for the refusal instead", i, c.polled.Load())
		}
	}
	if lags := h.lags.take(); len(lags) > 0 {
		// From the event's entry in Redis (its id's millisecond clock) to a simulated
		// follower dropping the key: the part of the revocation the followers' own CPU makes.
		log.Printf("%d sidecars: event lag at the simulated followers (ms resolution): p50 %v, p99 %v over %d",
			n, bench.Percentile(lags, 50), bench.Percentile(lags, 99), len(lags))
	}

	busy, err := h.fleetConns(fleet) // with the lookups and the revocations' pollers
	if err != nil {
		return r, err
	}
	// Idle: no lookups.
	for _, f := range sims {
		f.stopLookups()
	}
	w, err := h.idleWindow()
	if err != nil {
		return r, err
	}
	conns, err := h.fleetConns(fleet)
	if err != nil {
		return r, err
	}
	log.Printf("%d sidecars: idle with them: %d connections (%d of the fleet's; %d while looking keys up), %.3f ms/s of Redis CPU",
		n, w.conns, conns, busy, w.cpuPerS)
	r.connsPer = float64(max(conns, busy)) / float64(n)
	r.cpuIdlePer = max(0, w.cpuPerS-base.cpuPerS) / float64(n)

	// A Redis restart with the fleet looking keys up.
	for _, f := range sims {
		f.startLookups(h.lookupKeys, h.cfg.lookupEvery)
	}
	r.recoveryMax, r.reconnects, r.cmdsPer, err = h.restart(fleet)
	return r, err
}

func retryAllowed(ctx context.Context, s sidecar, k bench.IssuedKey, limit time.Duration) (bool, error) {
	deadline := time.Now().Add(limit)
	for {
		ok, err := s.allowed(ctx, k)
		if err == nil || time.Now().After(deadline) {
			return ok, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// each runs fn on every member at once and returns the first error.
func each(fleet []sidecar, fn func(sidecar) error) error {
	errs := make([]error, len(fleet))
	var wg sync.WaitGroup
	for i, s := range fleet {
		wg.Go(func() { errs[i] = fn(s) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// revocation is one revocation's times, from the admin's answer (ack).
type revocation struct {
	call      time.Duration // the admin's revoke call, request to answer
	event     time.Duration // the event's entry in Redis (its id's ms clock) less ack
	notified  time.Duration // the last simulated follower's watch called (event applied)
	simulated time.Duration // the last simulated follower refusing
	real      time.Duration // the last Caddy refusing
	last      time.Duration // the last member refusing, 0 if all refused before ack
	haveEvent bool
	haveSim   bool
	haveCaddy bool
}

// revokeOne makes sure every member allows k (so that it is cached), watches each for
// refusing it, revokes it through the admin and returns the times from the admin's
// answer to the last member's refusal and its parts.
func (h *harness) revokeOne(fleet []sidecar, k bench.IssuedKey) (revocation, error) {
	var rv revocation
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := each(fleet, func(s sidecar) error {
		for range 2 { // the second answer comes from the cache
			// A miss can time out (LookupTimeout) while the machine is saturated:
			// that is a 503, not a wrong answer, so it is asked again.
			ok, err := retryAllowed(ctx, s, k, 10*time.Second)
			if err != nil {
				return err
			}
			if !ok {
				return errors.New("a key not yet revoked was refused")
			}
		}
		return nil
	}); err != nil {
		return rv, err
	}
	waits := make([]func() (refusal, error), len(fleet))
	if err := each(fleet, func(s sidecar) error {
		w, err := s.watchRefusal(ctx, k)
		waits[slices.Index(fleet, s)] = w
		return err
	}); err != nil {
		return rv, err
	}
	refused := make([]refusal, len(fleet))
	errs := make([]error, len(fleet))
	var wg sync.WaitGroup
	for i, w := range waits {
		wg.Go(func() { refused[i], errs[i] = w() })
	}
	t0 := time.Now()
	if err := h.adm.RevokeKey(ctx, workspace, account, k.ID); err != nil {
		cancel()
		wg.Wait()
		return rv, fmt.Errorf("revoking: %w", err)
	}
	ack := time.Now()
	rv.call = ack.Sub(t0)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return rv, err
	}
	for i, r := range refused {
		d := r.refused.Sub(ack)
		rv.last = max(rv.last, d)
		if _, ok := fleet[i].(*caddy); ok {
			rv.real = max(rv.real, d)
			rv.haveCaddy = true
			continue
		}
		rv.simulated = max(rv.simulated, d)
		rv.haveSim = true
		if !r.notified.IsZero() {
			rv.notified = max(rv.notified, r.notified.Sub(ack))
		}
	}
	if msgs, err := h.rdb.XRevRangeN(ctx, wire.RedisEvents, "+", "-", 1).Result(); err == nil && len(msgs) == 1 {
		if ms, _, ok := strings.Cut(msgs[0].ID, "-"); ok {
			if v, err := strconv.ParseInt(ms, 10, 64); err == nil {
				rv.event, rv.haveEvent = time.UnixMilli(v).Sub(ack), true
			}
		}
	}
	return rv, nil
}

// logRevocations prints the parts of the revocations' times, p50 and p99 each.
func logRevocations(n int, rvs []revocation) {
	pick := func(f func(revocation) (time.Duration, bool)) string {
		var ds []time.Duration
		for _, r := range rvs {
			if d, ok := f(r); ok {
				ds = append(ds, d)
			}
		}
		if len(ds) == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f/%.2f", ms(bench.Percentile(ds, 50)), ms(bench.Percentile(ds, 99)))
	}
	log.Printf("%d sidecars: revocation parts, p50/p99 ms from the admin's answer: admin call %s; event in Redis %s (ms clock); "+
		"last simulated follower notified %s, refusing %s; last Caddy refusing %s; last member %s",
		n,
		pick(func(r revocation) (time.Duration, bool) { return r.call, true }),
		pick(func(r revocation) (time.Duration, bool) { return r.event, r.haveEvent }),
		pick(func(r revocation) (time.Duration, bool) { return r.notified, r.haveSim }),
		pick(func(r revocation) (time.Duration, bool) { return r.simulated, r.haveSim }),
		pick(func(r revocation) (time.Duration, bool) { return r.real, r.haveCaddy }),
		pick(func(r revocation) (time.Duration, bool) { return r.last, true }))
}

// restart saves Redis' data, kills it, starts it again from the snapshot and returns
// the slowest member's time from Redis accepting connections to answering a key from
// Redis, with the connections and commands per member Redis received meanwhile.
func (h *harness) restart(fleet []sidecar) (time.Duration, float64, float64, error) {
	ctx := context.Background()
	if err := h.rdb.Save(ctx).Err(); err != nil {
		return 0, 0, 0, fmt.Errorf("SAVE: %w", err)
	}
	_ = h.redisCmd.Process.Kill()
	_ = h.redisCmd.Wait()
	time.Sleep(time.Second) // every member notices
	if err := h.startRedis(); err != nil {
		return 0, 0, 0, err
	}
	up := time.Now()
	rctx, cancel := context.WithTimeout(ctx, h.cfg.recoveryLimit)
	defer cancel()
	back := make([]time.Time, len(fleet))
	k := h.lookupKeys[len(h.lookupKeys)-1]
	if err := each(fleet, func(s sidecar) error {
		i := slices.Index(fleet, s)
		t, err := s.servesAgain(rctx, k)
		back[i] = t
		return err
	}); err != nil {
		return 0, 0, 0, err
	}
	last := slices.MaxFunc(back, func(a, b time.Time) int { return a.Compare(b) })
	m, err := h.info(ctx, "stats")
	if err != nil {
		return 0, 0, 0, err
	}
	n := float64(len(fleet))
	return last.Sub(up), m["total_connections_received"] / n, m["total_commands_processed"] / n, nil
}

// quiet drops go-redis' own log lines.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}
