// Command soak is sagate's soak test (`make soak`). It starts a
// redis-server, the admin (`sagate serve` on SQLite), a Caddy sidecar with sagate and an
// upstream, all on loopback, then for -duration sends requests at full speed with a mix
// of live, revoked and garbage keys while it revokes keys and changes roles through the
// admin. Every answer is checked against what the admin had acknowledged at the time
// (allowing -window for a change to reach the sidecar); the sidecar's RSS and goroutine
// count are sampled every second and must stay flat (first third against last third).
// It prints a summary and exits 1 on any wrong decision, on growth, or when more than
// -max-unavailable of the answers were 503. It stops everything it started.
//
//	soak -sagate bin/sagate -caddy bin/caddy -duration 60s
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// config is the command line.
type config struct {
	sagateBin, caddyBin string
	duration, window    time.Duration
	mutateEvery, warmup time.Duration
	workers, accounts   int
	maxUnavailable      float64
	flat                flatness
}

func main() {
	var c config
	flag.StringVar(&c.sagateBin, "sagate", "bin/sagate", "the sagate binary")
	flag.StringVar(&c.caddyBin, "caddy", "bin/caddy", "the Caddy binary with sagate")
	flag.DurationVar(&c.duration, "duration", 60*time.Second, "how long the load runs")
	flag.DurationVar(&c.window, "window", time.Second, "propagation allowance after an acknowledged change (the promise: ≤ 1 s)")
	flag.DurationVar(&c.mutateEvery, "mutate-every", 100*time.Millisecond, "interval between admin changes")
	flag.DurationVar(&c.warmup, "warmup", 5*time.Second, "resource samples ignored at the start")
	flag.IntVar(&c.workers, "workers", 32, "concurrent request loops")
	flag.IntVar(&c.accounts, "accounts", 20, "service accounts")
	flag.Float64Var(&c.maxUnavailable, "max-unavailable", 0.001, "largest tolerated fraction of 503 answers")
	flag.Float64Var(&c.flat.rssFrac, "rss-growth", 0.25, "tolerated RSS growth, first to last third (fraction)")
	flag.Float64Var(&c.flat.gFrac, "goroutine-growth", 0.25, "tolerated goroutine growth, first to last third (fraction)")
	flag.Parse()
	c.flat.rssSlack, c.flat.gSlack = 8<<10, 10

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ok, err := run(ctx, c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

// run sets everything up, runs the soak and reports whether it passed.
func run(ctx context.Context, c config) (bool, error) {
	dir, err := os.MkdirTemp("", "sagate-soak-")
	if err != nil {
		return false, fmt.Errorf("making a work directory: %w", err)
	}
	defer os.RemoveAll(dir)
	var procs []*proc
	defer func() {
		for i := len(procs) - 1; i >= 0; i-- {
			procs[i].stop()
		}
	}()
	start := func(name, bin string, env []string, args ...string) (*proc, error) {
		p, err := startProc(dir, name, bin, env, args...)
		if err == nil {
			procs = append(procs, p)
		}
		return p, err
	}
	addrs := make([]string, 5)
	for i := range addrs {
		if addrs[i], err = freeAddr(); err != nil {
			return false, err
		}
	}
	redisAddr, adminAddr, sidecarAddr, caddyAdmin, upAddr := addrs[0], addrs[1], addrs[2], addrs[3], addrs[4]

	redisBin, err := exec.LookPath("redis-server")
	if err != nil {
		return false, fmt.Errorf("redis-server is required (apt-get install -y redis-server): %w", err)
	}
	_, redisPort, _ := net.SplitHostPort(redisAddr)
	if _, err := start("redis", redisBin, nil, "--port", redisPort, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir); err != nil {
		return false, err
	}
	if err := waitTCP(redisAddr, 10*time.Second); err != nil {
		return false, err
	}
	redisURL := "redis://" + redisAddr + "/0"

	tok := make([]byte, 32)
	_, _ = rand.Read(tok)
	token := "soak-" + hex.EncodeToString(tok)
	keyFile := filepath.Join(dir, "signing.key")
	pub, err := writeSigningKey(keyFile)
	if err != nil {
		return false, err
	}
	if _, err := start("admin", c.sagateBin, []string{"SAGATE_ADMIN_TOKEN=" + token}, "serve", "--listen", adminAddr,
		"--store", "sqlite://"+filepath.Join(dir, "sagate.db"), "--signing-key-file", keyFile, "--redis", redisURL, "--log-level", "warn"); err != nil {
		return false, err
	}
	adminURL := "http://" + adminAddr
	if err := waitStatus(ctx, adminURL+"/readyz", http.StatusOK, 30*time.Second); err != nil {
		return false, err
	}
	admin := &adminClient{url: adminURL, token: token, c: &http.Client{Timeout: 10 * time.Second}}
	pools, err := setup(ctx, admin, c.accounts)
	if err != nil {
		return false, fmt.Errorf("setting up accounts: %w", err)
	}
	junk, err := garbage()
	if err != nil {
		return false, err
	}

	up := &http.Server{Addr: upAddr, Handler: http.HandlerFunc(upstreamHandler), ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", upAddr)
	if err != nil {
		return false, fmt.Errorf("starting the upstream: %w", err)
	}
	go func() { _ = up.Serve(ln) }()
	defer up.Close()

	cfgPath := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(cfgPath, []byte(caddyfile(caddyAdmin, sidecarAddr, redisURL, pub, upAddr)), 0o600); err != nil {
		return false, fmt.Errorf("writing the Caddyfile: %w", err)
	}
	home := filepath.Join(dir, "home")
	caddy, err := start("caddy", c.caddyBin, []string{"HOME=" + home, "XDG_DATA_HOME=" + home + "/data", "XDG_CONFIG_HOME=" + home + "/config"},
		"run", "--config", cfgPath, "--adapter", "caddyfile")
	if err != nil {
		return false, err
	}
	sidecarURL := "http://" + sidecarAddr
	if err := waitStatus(ctx, sidecarURL+"/", http.StatusUnauthorized, 60*time.Second); err != nil {
		return false, fmt.Errorf("the sidecar did not come up (log %s): %w", caddy.log, err)
	}

	fmt.Printf("sagate soak: %v at full speed, %d workers, %d accounts, one sidecar (pid %d), admin change every %v, window %v\n",
		c.duration, c.workers, c.accounts, caddy.cmd.Process.Pid, c.mutateEvery, c.window)
	o := &oracle{window: c.window}
	res := &results{}
	lctx, cancel := context.WithTimeout(ctx, c.duration)
	defer cancel()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: c.workers, MaxIdleConns: c.workers}}

	var wg sync.WaitGroup
	for range c.workers {
		wg.Add(1)
		go func() { defer wg.Done(); work(lctx, client, sidecarURL, o, pools, junk, res) }()
	}
	var (
		muts    mutations
		mutErr  error
		samples []sample
		sampErr error
	)
	wg.Add(2)
	go func() { defer wg.Done(); muts, mutErr = mutate(lctx, admin, o, pools, c.mutateEvery) }()
	go func() {
		defer wg.Done()
		samples, sampErr = sampleLoop(lctx, caddy.cmd.Process.Pid, caddyAdmin, c.warmup)
	}()
	began := time.Now()
	wg.Wait()
	elapsed := time.Since(began)
	if ctx.Err() != nil {
		return false, errors.New("interrupted")
	}
	if mutErr != nil {
		return false, fmt.Errorf("admin changes: %w", mutErr)
	}
	if sampErr != nil {
		return false, sampErr
	}
	return report(c, res, muts, samples, elapsed), nil
}

// sampleLoop reads the sidecar's RSS and goroutines every second, after warmup.
func sampleLoop(ctx context.Context, pid int, adminAddr string, warmup time.Duration) ([]sample, error) {
	var out []sample
	t := time.NewTicker(time.Second)
	defer t.Stop()
	began := time.Now()
	for {
		select {
		case <-ctx.Done():
			return out, nil
		case now := <-t.C:
			if now.Sub(began) < warmup {
				continue
			}
			rss, err := readRSS(pid)
			if err != nil {
				return out, err
			}
			g, err := readGoroutines(ctx, adminAddr)
			if err != nil {
				if ctx.Err() != nil {
					return out, nil
				}
				return out, err
			}
			out = append(out, sample{at: now, rssKB: rss, goroutines: g})
		}
	}
}

// report prints the summary and returns whether the soak passed.
func report(c config, res *results, m mutations, samples []sample, elapsed time.Duration) bool {
	n := res.requests.Load()
	fmt.Printf("requests:   %d in %v (%.0f/s); transport errors %d\n", n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), res.transport.Load())
	var codes []int
	res.byStatus.Range(func(k, _ any) bool { codes = append(codes, k.(int)); return true })
	sort.Ints(codes)
	fmt.Print("statuses:  ")
	for _, code := range codes {
		v, _ := res.byStatus.Load(code)
		fmt.Printf(" %d×%d", code, v.(*atomic.Int64).Load())
	}
	fmt.Println()
	fmt.Printf("admin:      %d revokes, %d replacement keys, %d role changes acknowledged (%d answers lost)\n",
		m.revokes, m.creates, m.roleChanges, m.unknown)
	pass := true
	fmt.Printf("decisions:  %d wrong, %d unavailable (503)\n", res.wrong.Load(), res.unavailable.Load())
	for _, e := range res.examples {
		fmt.Println("  wrong:", e)
	}
	if res.wrong.Load() > 0 || n == 0 {
		pass = false
	}
	if n > 0 && float64(res.unavailable.Load())/float64(n) > c.maxUnavailable {
		fmt.Printf("FAIL: more than %.2f%% of the answers were 503\n", 100*c.maxUnavailable)
		pass = false
	}
	g, err := thirds(samples)
	if err != nil {
		fmt.Println("FAIL:", err)
		return false
	}
	fmt.Printf("sidecar:    RSS %.1f MB → %.1f MB, goroutines %.0f → %.0f (mean of first → last third of %d samples)\n",
		g.firstRSS/1024, g.lastRSS/1024, g.firstG, g.lastG, len(samples))
	for _, p := range g.problems(c.flat) {
		fmt.Println("FAIL:", p)
		pass = false
	}
	if pass {
		fmt.Println("PASS")
	} else {
		fmt.Println("FAIL")
	}
	return pass
}
