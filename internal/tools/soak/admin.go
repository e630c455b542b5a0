package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/sagate/sagate/internal/testing/history"
)

// adminClient speaks the documented admin HTTP API.
type adminClient struct {
	url, token string
	c          *http.Client
}

// do sends one request; status 0 with an error means the answer is unknown.
func (a *adminClient) do(ctx context.Context, method, path string, body any) (int, map[string]any, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, fmt.Errorf("encoding %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.url+path, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("building %s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.c.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			return resp.StatusCode, nil, fmt.Errorf("%s %s: answer is not JSON", method, path)
		}
	}
	return resp.StatusCode, out, nil
}

// must is do that turns any status but want into an error.
func (a *adminClient) must(ctx context.Context, want int, method, path string, body any) (map[string]any, error) {
	code, out, err := a.do(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	if code != want {
		return nil, fmt.Errorf("%s %s = %d, want %d: %v", method, path, code, want, out["error"])
	}
	return out, nil
}

// keyFrom reads a created key object.
func keyFrom(m any, acct *account) (*key, error) {
	o, _ := m.(map[string]any)
	id, _ := o["id"].(string)
	secret, _ := o["key"].(string)
	if id == "" || secret == "" {
		return nil, fmt.Errorf("the admin returned an incomplete key object")
	}
	return &key{id: id, secret: secret, acct: acct, live: history.New(true)}, nil
}

const workspace = "soak"

// projects the requests address; p3 is never granted.
var projects = []string{"p1", "p2", "p3"}

// pools are the keys the workers pick from. Safe for concurrent use.
type pools struct {
	mu      sync.RWMutex
	accts   []*account
	live    []*key
	revoked []*key
}

func (p *pools) pick(fromLive bool) *key {
	p.mu.RLock()
	defer p.mu.RUnlock()
	src := p.revoked
	if fromLive || len(src) == 0 {
		src = p.live
	}
	if len(src) == 0 {
		return nil
	}
	return src[rand.IntN(len(src))]
}

// setup creates the workspace, accounts with grants on p1 and p2, and one revoked
// key per account.
func setup(ctx context.Context, a *adminClient, n int) (*pools, error) {
	if _, err := a.must(ctx, http.StatusCreated, "POST", "/v1/workspaces", map[string]any{"name": workspace}); err != nil {
		return nil, err
	}
	p := &pools{}
	roles := []string{"viewer", "contributor", "owner"}
	for i := range n {
		acct := &account{name: fmt.Sprintf("sa%02d", i), roles: map[string]*history.History[string]{}}
		acct.fullName = acct.name + "@" + workspace
		base := "/v1/workspaces/" + workspace + "/service-accounts"
		out, err := a.must(ctx, http.StatusCreated, "POST", base, map[string]any{"name": acct.name})
		if err != nil {
			return nil, err
		}
		k, err := keyFrom(out["api_key"], acct)
		if err != nil {
			return nil, err
		}
		p.live = append(p.live, k)
		for _, proj := range projects[:2] {
			r := roles[rand.IntN(len(roles))]
			path := "/v1/workspaces/" + workspace + "/projects/" + proj + "/service-accounts/" + acct.name
			if _, err := a.must(ctx, http.StatusOK, "PUT", path, map[string]any{"role": r}); err != nil {
				return nil, err
			}
			acct.roles[proj] = history.New(r)
		}
		out, err = a.must(ctx, http.StatusCreated, "POST", base+"/"+acct.name+"/keys", map[string]any{})
		if err != nil {
			return nil, err
		}
		old, err := keyFrom(out, acct)
		if err != nil {
			return nil, err
		}
		if _, err := a.must(ctx, http.StatusNoContent, "DELETE", base+"/"+acct.name+"/keys/"+old.id, nil); err != nil {
			return nil, err
		}
		old.live = history.New(false)
		p.revoked = append(p.revoked, old)
		p.accts = append(p.accts, acct)
	}
	return p, nil
}

// mutations counts acknowledged admin changes.
type mutations struct {
	revokes, creates, roleChanges, unknown int
}

// mutate revokes keys (issuing a replacement) and changes roles every `every` until
// ctx ends. A change the admin refuses is an error; one whose answer is lost stays
// "possibly in effect" in the oracle for the rest of the run.
func mutate(ctx context.Context, a *adminClient, o *oracle, p *pools, every time.Duration) (mutations, error) {
	var m mutations
	t := time.NewTicker(every)
	defer t.Stop()
	base := "/v1/workspaces/" + workspace + "/service-accounts/"
	for {
		select {
		case <-ctx.Done():
			return m, nil
		case <-t.C:
		}
		actx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := func() error {
			if rand.IntN(100) < 40 {
				return revokeOne(actx, a, o, p, base, &m)
			}
			return changeRole(actx, a, o, p, &m)
		}()
		cancel()
		if err != nil {
			return m, err
		}
	}
}

func revokeOne(ctx context.Context, a *adminClient, o *oracle, p *pools, base string, m *mutations) error {
	p.mu.Lock()
	if len(p.live) == 0 {
		p.mu.Unlock()
		return nil
	}
	i := rand.IntN(len(p.live))
	k := p.live[i]
	p.live = append(p.live[:i], p.live[i+1:]...)
	p.revoked = append(p.revoked, k)
	p.mu.Unlock()

	ack := oracleChange(o, k.live, false, time.Now())
	code, _, err := a.do(ctx, "DELETE", base+k.acct.name+"/keys/"+k.id, nil)
	switch {
	case err != nil:
		m.unknown++ // the revoke may or may not have happened: both stay possible
	case code != http.StatusNoContent:
		return fmt.Errorf("revoking a key: status %d", code)
	default:
		ack(time.Now())
		m.revokes++
	}
	out, err := a.must(ctx, http.StatusCreated, "POST", base+k.acct.name+"/keys", map[string]any{})
	if err != nil {
		return fmt.Errorf("issuing a replacement key: %w", err)
	}
	nk, err := keyFrom(out, k.acct)
	if err != nil {
		return err
	}
	m.creates++
	p.mu.Lock()
	p.live = append(p.live, nk)
	p.mu.Unlock()
	return nil
}

func changeRole(ctx context.Context, a *adminClient, o *oracle, p *pools, m *mutations) error {
	p.mu.RLock()
	acct := p.accts[rand.IntN(len(p.accts))]
	p.mu.RUnlock()
	proj := projects[rand.IntN(2)]
	h := acct.roles[proj]
	o.mu.Lock()
	cur := h.Last()
	o.mu.Unlock()
	choices := []string{"viewer", "contributor", "owner", ""}
	next := choices[rand.IntN(len(choices))]
	if next == cur {
		return nil
	}
	path := "/v1/workspaces/" + workspace + "/projects/" + proj + "/service-accounts/" + acct.name
	ack := oracleChange(o, h, next, time.Now())
	var (
		code int
		err  error
		want = http.StatusOK
	)
	if next == "" {
		want = http.StatusNoContent
		code, _, err = a.do(ctx, "DELETE", path, nil)
	} else {
		code, _, err = a.do(ctx, "PUT", path, map[string]any{"role": next})
	}
	switch {
	case err != nil:
		m.unknown++
	case code != want:
		return fmt.Errorf("changing a role: status %d", code)
	default:
		ack(time.Now())
		m.roleChanges++
	}
	return nil
}
