package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sagate/sagate/keystore"
)

// upstreamHandler is the API behind the sidecar: it echoes the identity it was told in
// response headers, and flags any client-sent identity that got through.
func upstreamHandler(w http.ResponseWriter, r *http.Request) {
	forged := ""
	for name, vs := range r.Header {
		n := strings.ToLower(name)
		if strings.Contains(n, "_") || (strings.HasPrefix(n, "x-") && len(vs) > 1) {
			forged = "header " + name
		}
		for _, v := range vs {
			if strings.Contains(v, "evil") {
				forged = "value of " + name
			}
		}
	}
	h := w.Header()
	h.Set("Echo-Key-Id", r.Header.Get("X-Api-Key-Id"))
	h.Set("Echo-Sa", r.Header.Get("X-Service-Account"))
	h.Set("Echo-Role", r.Header.Get("X-Project-Role"))
	if forged != "" {
		h.Set("Echo-Forged", forged)
	}
	_, _ = io.WriteString(w, "ok\n")
}

// garbage are Authorization values (or "" for none) that must all get 401.
func garbage() ([]string, error) {
	var out []string
	for range 50 {
		k, err := keystore.GenerateKey()
		if err != nil {
			return nil, err
		}
		out = append(out, "Bearer "+k) // well formed, never issued
		c := []byte(k)
		switch c[10] { // one character changed, still base62: the CRC no longer matches
		case '9':
			c[10] = 'A'
		case 'Z':
			c[10] = 'a'
		case 'z':
			c[10] = '0'
		default:
			c[10]++
		}
		if keystore.CheckKey(string(c)) == nil {
			return nil, fmt.Errorf("a key with a changed character passed CheckKey")
		}
		out = append(out, "Bearer "+string(c), "Bearer "+k[:30], "Bearer "+k+"x")
	}
	return append(out, "", "Basic c29hazpzb2Fr", "Bearer", "Token abc"), nil
}

// results gathers every decision. Safe for concurrent use.
type results struct {
	requests, wrong, unavailable, transport atomic.Int64
	byStatus                                sync.Map // int → *atomic.Int64

	mu       sync.Mutex
	examples []string // the first wrong decisions, described without any key
}

func (r *results) status(code int) {
	v, _ := r.byStatus.LoadOrStore(code, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func (r *results) bad(format string, args ...any) {
	r.wrong.Add(1)
	r.mu.Lock()
	if len(r.examples) < 20 {
		r.examples = append(r.examples, fmt.Sprintf(format, args...))
	}
	r.mu.Unlock()
}

// work sends requests at full speed until ctx ends: 60% live keys, 20% revoked keys,
// 20% garbage, each on a random project and with spoofed identity headers.
func work(ctx context.Context, client *http.Client, sidecarURL string, o *oracle, p *pools, junk []string, res *results) {
	for ctx.Err() == nil {
		roll := rand.IntN(100)
		project := projects[rand.IntN(len(projects))]
		var (
			k    *key
			auth string
		)
		if roll < 80 {
			k = p.pick(roll < 60)
		}
		if k != nil {
			auth = "Bearer " + k.secret
		} else {
			auth = junk[rand.IntN(len(junk))]
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, sidecarURL+"/soak", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		req.Header.Set("X-Project", project)
		req.Header.Set("X-Service-Account", "root@evil")
		req.Header["X_Project_Role"] = []string{"evil-owner"}
		from := time.Now()
		resp, err := client.Do(req)
		to := time.Now()
		if err != nil {
			if ctx.Err() == nil {
				res.transport.Add(1)
			}
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		res.requests.Add(1)
		res.status(resp.StatusCode)
		judge(o, k, project, from, to, resp, res)
	}
}

// judge checks one answer against the oracle.
func judge(o *oracle, k *key, project string, from, to time.Time, resp *http.Response, res *results) {
	code := resp.StatusCode
	if f := resp.Header.Get("Echo-Forged"); f != "" {
		res.bad("forged identity reached the upstream (%s)", f)
	}
	if code == http.StatusServiceUnavailable {
		res.unavailable.Add(1)
		return
	}
	if k == nil {
		if code != http.StatusUnauthorized && code != http.StatusBadRequest {
			res.bad("garbage credential answered %d", code)
		}
		return
	}
	v := o.judgeKey(k, project, from, to, code, resp.Header.Get("Echo-Role"))
	if !v.ok {
		res.bad("key %s (last6 %s) on %s answered %d (upstream role %q), right: %v (roles %v)",
			k.id, keystore.Last6(k.secret), project, code, resp.Header.Get("Echo-Role"), v.allowed, v.roles)
	}
	if code == http.StatusOK {
		if got := resp.Header.Get("Echo-Key-Id"); got != k.id {
			res.bad("key %s: upstream was told key id %q", k.id, got)
		}
		if got := resp.Header.Get("Echo-Sa"); got != k.acct.fullName {
			res.bad("key %s: upstream was told account %q, want %q", k.id, got, k.acct.fullName)
		}
	}
}
