package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sagate/sagate/internal/testing/redistest"
	"github.com/sagate/sagate/internal/testing/systest"
	"github.com/sagate/sagate/keystore"
)

// The admin killed with SIGKILL during a burst loses no
// acknowledged change, and a change whose Redis write failed after its durable commit
// still reaches Redis and the sidecars.

// burstLog records what the admin acknowledged during a burst. Safe for concurrent use.
type burstLog struct {
	mu          sync.Mutex
	created     map[string]string // key id → key, every 201
	revokeSent  map[string]bool   // key ids whose revoke was sent
	revokeAcked map[string]bool   // key ids whose revoke got 204
}

// burstCall sends one admin request without failing the test (the admin may be
// gone): it returns the status, 0 on a transport error, and the decoded body.
func burstCall(ctx context.Context, a *admin, method, path string, body any) (int, map[string]any) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(ctx, method, a.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// storeKeys lists the keys of an account through the admin API: key id → state.
func storeKeys(t *testing.T, a *admin, ws, sa string) map[string]string {
	t.Helper()
	states := map[string]string{}
	token := ""
	for {
		path := fmt.Sprintf("/v1/workspaces/%s/service-accounts/%s/keys?page_size=%d", ws, sa, keystore.MaxPageSize)
		if token != "" {
			path += "&page_token=" + token
		}
		out := a.must(http.StatusOK, "GET", path, nil)
		items, _ := out["items"].([]any)
		for _, it := range items {
			m, _ := it.(map[string]any)
			id, _ := m["id"].(string)
			st, _ := m["state"].(string)
			states[id] = st
		}
		token, _ = out["next_page_token"].(string)
		if token == "" {
			return states
		}
	}
}

func TestAdminSIGKILLDuringBurst(t *testing.T) {
	e := newEnv(t)
	const ws, sa = "f5", "burst"
	e.admin.must(http.StatusCreated, "POST", "/v1/workspaces", map[string]any{"name": ws})
	e.admin.newAccount(ws, sa, "viewer")
	rdb := e.redis.Client()
	epochBefore := epochOf(rdb)
	keysPath := "/v1/workspaces/" + ws + "/service-accounts/" + sa + "/keys"

	log := &burstLog{created: map[string]string{}, revokeSent: map[string]bool{}, revokeAcked: map[string]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		wg       sync.WaitGroup
		acks     atomic.Int64
		toRevoke = make(chan string, 1024)
	)
	for range 4 { // creators: every other key they create goes to the revokers
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				code, out := burstCall(ctx, e.admin, "POST", keysPath, map[string]any{})
				if code == 0 {
					return // the admin is gone
				}
				if code != http.StatusCreated {
					continue
				}
				id, _ := out["id"].(string)
				key, _ := out["key"].(string)
				log.mu.Lock()
				log.created[id] = key
				log.mu.Unlock()
				acks.Add(1)
				if i%2 == 0 {
					select {
					case toRevoke <- id:
					default:
					}
				}
			}
		}()
	}
	for range 2 { // revokers
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				var id string
				select {
				case <-ctx.Done():
					return
				case id = <-toRevoke:
				}
				log.mu.Lock()
				log.revokeSent[id] = true
				log.mu.Unlock()
				code, _ := burstCall(ctx, e.admin, "DELETE", keysPath+"/"+id, nil)
				if code == 0 {
					return
				}
				if code == http.StatusNoContent {
					log.mu.Lock()
					log.revokeAcked[id] = true
					log.mu.Unlock()
					acks.Add(1)
				}
			}
		}()
	}
	systest.Eventually(t, 30*time.Second, "60 acknowledged changes in the burst", func() bool { return acks.Load() >= 60 })
	e.admin.proc.Kill() // SIGKILL, mid-burst
	cancel()
	wg.Wait()

	e.admin.proc.Start()
	systest.WaitHTTP(t, e.admin.url+"/readyz", http.StatusOK, 30*time.Second)
	log.mu.Lock()
	defer log.mu.Unlock()
	t.Logf("acknowledged before the kill: %d creates, %d revokes (%d revokes sent)",
		len(log.created), len(log.revokeAcked), len(log.revokeSent))

	// Every acknowledged change is in the store.
	states := storeKeys(t, e.admin, ws, sa)
	for id := range log.created {
		st, ok := states[id]
		switch {
		case !ok:
			t.Errorf("acknowledged key %s is missing from the store after the restart", id)
		case log.revokeAcked[id] && st != string(keystore.KeyRevoked):
			t.Errorf("key %s: revoke was acknowledged, store says %q", id, st)
		case !log.revokeSent[id] && st != string(keystore.KeyActive):
			t.Errorf("key %s: created and never revoked, store says %q", id, st)
		}
	}

	// After the restarted admin's reconcile (a full sync with a new epoch), Redis
	// matches the store: a live record for each active key, none for the others.
	systest.Eventually(t, resyncBound, "the restarted admin's full sync (new epoch)", func() bool {
		ep := epochOf(rdb)
		return ep != "" && ep != epochBefore
	})
	for id, key := range log.created {
		rec, ok := recordOf(t, rdb, key)
		live := ok && rec.State == keystore.KeyActive
		if states[id] == string(keystore.KeyActive) {
			if !live || rec.KeyID != id {
				t.Errorf("active key %s: Redis record present=%v state=%q key_id=%q", id, ok, rec.State, rec.KeyID)
			}
		} else if live {
			t.Errorf("key %s is %q in the store but live in Redis", id, states[id])
		}
	}
}

func TestRedisWriteLostAfterCommit(t *testing.T) {
	r := redistest.Start(t)
	p := systest.StartProxy(t, r.Addr())
	a := startAdmin(t, "redis://"+p.Addr()+"/0", filepath.Join(t.TempDir(), "sagate.db"))
	up := startUpstream(t)
	s := startSidecar(t, r.URL(), up.srv.URL, "") // the sidecar reaches Redis directly
	a.must(http.StatusCreated, "POST", "/v1/workspaces", map[string]any{"name": "lost"})
	doomed := a.newAccount("lost", "doomed", "")
	if got := s.status(t, doomed.Key); got != http.StatusOK {
		t.Fatalf("key before the cut = %d", got)
	}

	// The admin loses Redis; its changes commit in the store and their Redis writes fail.
	p.Cut()
	a.must(http.StatusNoContent, "DELETE", "/v1/workspaces/lost/service-accounts/doomed/keys/"+doomed.ID, nil)
	out := a.must(http.StatusCreated, "POST", "/v1/workspaces/lost/service-accounts/doomed/keys", map[string]any{"name": "born-in-the-dark"})
	born := keyOf(t, out)
	if rec, ok := recordOf(t, r.Client(), doomed.Key); !ok || rec.State != keystore.KeyActive {
		t.Fatalf("the cut did not stop the admin's Redis write (record present=%v state=%q): the test proves nothing", ok, rec.State)
	}

	p.Restore()
	// docs/protocol.md ("Writes"): a failed Apply marks Redis dirty; the next epoch check (every 1 s)
	// runs a full sync with a new epoch once Redis answers.
	systest.Eventually(t, resyncBound+propagation, "the lost revocation and creation reach the sidecar", func() bool {
		return s.status(t, doomed.Key) == http.StatusUnauthorized && s.status(t, born.Key) == http.StatusOK
	})
}
