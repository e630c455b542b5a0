package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/internal/testing/keytest"
	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/wire"
)

// Helpers shared by the fault and hostile-input tests.

// unknownKey returns a well-formed key with a valid checksum that no admin issued.
func unknownKey(t testing.TB) string {
	t.Helper()
	k, err := keystore.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// tally counts the statuses one key got while a hammer ran.
type tally struct {
	mu     sync.Mutex
	counts map[int]int
}

func (c *tally) add(code int) {
	c.mu.Lock()
	c.counts[code]++
	c.mu.Unlock()
}

// snapshot returns a copy of the counts (status 0: the request failed at the transport).
func (c *tally) snapshot() map[int]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[int]int, len(c.counts))
	for k, v := range c.counts {
		out[k] = v
	}
	return out
}

// hammer sends requests with each of its keys in a loop, from one goroutine per key,
// until stop, and records every status. It never calls t from its goroutines.
type hammer struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	byKey  map[string]*tally
}

// startHammer hammers s with every key (names are for messages only).
func startHammer(s *sidecar, keys map[string]string) *hammer {
	ctx, cancel := context.WithCancel(context.Background())
	h := &hammer{cancel: cancel, byKey: map[string]*tally{}}
	client := &http.Client{Timeout: 10 * time.Second}
	for name, key := range keys {
		c := &tally{counts: map[int]int{}}
		h.byKey[name] = c
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/hammer", nil)
				req.Header.Set("Authorization", "Bearer "+key)
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						c.add(0)
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				c.add(resp.StatusCode)
			}
		}()
	}
	return h
}

// stop ends the hammer and returns the statuses per key name.
func (h *hammer) stop() map[string]map[int]int {
	h.cancel()
	h.wg.Wait()
	out := map[string]map[int]int{}
	for name, c := range h.byKey {
		out[name] = c.snapshot()
	}
	return out
}

// onlyStatuses fails the test when counts holds a status outside allowed, or nothing.
func onlyStatuses(t testing.TB, what string, counts map[int]int, allowed ...int) {
	t.Helper()
	total := 0
	for code, n := range counts {
		total += n
		ok := false
		for _, a := range allowed {
			ok = ok || code == a
		}
		if !ok {
			t.Errorf("%s: %d answers with status %d (all: %v; allowed: %v)", what, n, code, counts, allowed)
		}
	}
	if total == 0 {
		t.Errorf("%s: no request completed", what)
	}
}

// goroutines reads the sidecar's goroutine count from Caddy's admin endpoint.
func (s *sidecar) goroutines(t testing.TB) int {
	t.Helper()
	resp, err := http.Get("http://" + s.adminAddr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatalf("reading the sidecar's goroutine profile: %v", err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the sidecar's goroutine profile: %v", err)
	}
	// "goroutine profile: total 42"
	f := strings.Fields(line)
	n, err := strconv.Atoi(f[len(f)-1])
	if resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("unexpected goroutine profile header %q (%s)", line, resp.Status)
	}
	return n
}

// followerIDs returns the CLIENT IDs of the connections blocked in XREAD (the
// sidecars' events followers), as seen by the Redis that c talks to.
func followerIDs(t testing.TB, c *redis.Client) []int64 {
	t.Helper()
	list, err := c.ClientList(context.Background()).Result()
	if err != nil {
		t.Fatalf("CLIENT LIST: %v", err)
	}
	var ids []int64
	for _, line := range strings.Split(list, "\n") {
		if !strings.Contains(line, " cmd=xread ") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "id="); ok {
				id, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					t.Fatalf("CLIENT LIST id %q: %v", v, err)
				}
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// epochOf returns the epoch marker in Redis ("" when missing, or when Redis is down).
func epochOf(c *redis.Client) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	v, err := c.Get(ctx, wire.RedisEpoch).Result()
	if err != nil {
		return ""
	}
	return v
}

// recordOf returns the Redis record of key; ok is false when there is none.
func recordOf(t testing.TB, c *redis.Client, key string) (wire.Record, bool) {
	t.Helper()
	raw, err := c.Get(context.Background(), wire.RedisKey(keystore.HashKey(key))).Bytes()
	if errors.Is(err, redis.Nil) {
		return wire.Record{}, false
	}
	if err != nil {
		t.Fatalf("reading a key record: %v", err)
	}
	r, err := wire.OpenRecord(wire.NewVerifier(keytest.SigningKey(t).Public()), keystore.HashKey(key), raw)
	if err != nil {
		t.Fatalf("verifying a key record: %v", err)
	}
	return r, true
}

// rawResponse is what a handwritten HTTP/1.1 exchange gave: the status (0 when the
// server closed the connection without an answer) and the body.
type rawResponse struct {
	status int
	header http.Header
	body   string
}

// rawRequests writes req (one or more handwritten HTTP/1.1 requests) on a new
// connection to addr and reads up to n answers. The write runs concurrently with the
// reads: the server may answer (and close) before a huge request is fully sent.
func rawRequests(t testing.TB, addr, req string, n int) []rawResponse {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dialing the sidecar: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	go func() { _, _ = io.WriteString(conn, req) }()
	br := bufio.NewReader(conn)
	var out []rawResponse
	for range n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			out = append(out, rawResponse{})
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		out = append(out, rawResponse{status: resp.StatusCode, header: resp.Header, body: string(b)})
	}
	return out
}

// connsTo counts the established loopback TCP connections whose remote end is addr
// (host:port), from /proc/net/tcp: the client side of every connection to it.
func connsTo(t testing.TB, addr string) int {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatalf("reading /proc/net/tcp: %v", err)
	}
	want := fmt.Sprintf(":%04X", p)
	n := 0
	for _, line := range strings.Split(string(raw), "\n")[1:] {
		f := strings.Fields(line)
		// f[2] is rem_address (hex ip:port), f[3] the state (01: established).
		if len(f) > 3 && strings.HasSuffix(f[2], want) && f[3] == "01" {
			n++
		}
	}
	return n
}

// redisDials returns how many connections the Redis that c talks to has accepted.
func redisDials(t testing.TB, c *redis.Client) int64 {
	t.Helper()
	info, err := c.Info(context.Background(), "stats").Result()
	if err != nil {
		t.Fatalf("INFO stats: %v", err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "total_connections_received:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("INFO total_connections_received %q: %v", v, err)
			}
			return n
		}
	}
	t.Fatal("INFO stats has no total_connections_received")
	return 0
}
