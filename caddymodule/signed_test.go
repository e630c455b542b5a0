package caddymodule

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/sagate/sagate/internal/testing/keytest"
	"github.com/sagate/sagate/keystore/wire"
)

// The attacks of a writer to Redis who is not the admin, against a sidecar with a
// real Redis: what the admin did not sign never answers, neither 200 nor 401.

// serve sends a request with key through h and returns the status and the
// WWW-Authenticate header.
func serve(t *testing.T, h *Handler, key string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := h.ServeHTTP(rec, newRequest(key), &nextRecorder{}); err != nil {
		t.Fatal(err)
	}
	return rec.Code, rec.Header().Get("WWW-Authenticate")
}

// forgedOwner is the record one SET would mint: owner everywhere, at a revision the
// admin never reaches.
func forgedOwner(t *testing.T, state wire.KeyState) []byte {
	t.Helper()
	b, err := wire.EncodeRecord(wire.Record{KeyID: "key_forged", SAID: "sa_forged", SA: "forged@ml-team",
		Workspace: "ml-team", State: state, Roles: map[string]wire.Role{wire.AllProjects: wire.RoleOwner},
		Rev: 9000000000000000000})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestForgedRecordsGet503(t *testing.T) {
	s := newStore(t)
	alice := s.newAccount("alice", "ml-team", nil)
	h := newHandler(t, s, Handler{StaleIfError: -1})

	minted := keytest.New(t)
	s.setRaw(wire.RedisKey(wire.HashKey(minted)), forgedOwner(t, wire.KeyActive))

	copied := keytest.New(t)
	aliceSealed, err := s.rdb.Get(context.Background(), wire.RedisKey(wire.HashKey(alice.key))).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	s.setRaw(wire.RedisKey(wire.HashKey(copied)), aliceSealed)

	locked := s.newAccount("locked", "ml-team", nil)
	s.setRaw(wire.RedisKey(wire.HashKey(locked.key)), forgedOwner(t, wire.KeyRevoked))

	for _, tc := range []struct{ name, key string }{
		{"an unsigned owner record", minted},
		{"a record sealed for another key hash", copied},
		{"an unsigned tombstone over a valid key", locked.key},
	} {
		for range 2 { // nothing cached: the second request is refused the same way
			if code, www := serve(t, h, tc.key); code != 503 || www != "" {
				t.Fatalf("%s: %d %q, want 503", tc.name, code, www)
			}
		}
	}
	if code, _ := serve(t, h, alice.key); code != 204 {
		t.Fatalf("the key whose record was copied: %d, want 204", code)
	}
	if got := h.cache.Stats().SignatureFailures.Records; got != 6 {
		t.Errorf("%d record signature failures, want 6", got)
	}
}

// TestForgedGoneEventChangesNothing: an event that does not verify neither refuses the
// key it flags gone nor drops the cache: the valid key goes on answering from it.
func TestForgedGoneEventChangesNothing(t *testing.T) {
	s := newStore(t)
	alice := s.newAccount("alice", "ml-team", nil)
	h := newHandler(t, s, Handler{})
	waitUntil(t, "alice from the cache", func() bool {
		before := h.cache.Stats().Hits
		code, _ := serve(t, h, alice.key)
		return code == 204 && h.cache.Stats().Hits > before
	})
	before := h.cache.Stats()
	ev := wire.Event{Rev: 9000000000000000000, Kind: wire.EventKeys, Epoch: "e1",
		Hashes: []wire.KeyHash{wire.HashKey(alice.key)}, Gone: []bool{true}}
	if _, _, err := wire.PublishEvent(context.Background(), s.rdb, ev, 0); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the forged event", func() bool { return h.cache.Stats().SignatureFailures.Events > 0 })
	st := h.cache.Stats()
	if st.SignatureFailures.Events != 1 || st.Flushes != before.Flushes || st.EventsApplied != before.EventsApplied {
		t.Fatalf("after a forged event: %d event failures, flushes %d → %d, events applied %d → %d; want 1 and no change",
			st.SignatureFailures.Events, before.Flushes, st.Flushes, before.EventsApplied, st.EventsApplied)
	}
	if code, _ := serve(t, h, alice.key); code != 204 {
		t.Fatalf("the valid key after a forged gone event: %d, want 204", code)
	}
	if h.cache.Stats().Misses != st.Misses {
		t.Error("the valid key was read again from Redis: the forged event dropped it")
	}
}

func TestRevisionMarkerBehindGets503(t *testing.T) {
	s := newStore(t)
	alice := s.newAccount("alice", "ml-team", nil)
	bob := s.newAccount("bob", "ml-team", nil) // revision 2: the marker says 2
	h := newHandler(t, s, Handler{StaleIfError: -1})
	if code, _ := serve(t, h, alice.key); code != 204 {
		t.Fatalf("alice: %d", code)
	}
	s.setRev(1) // Redis back from a snapshot older than what this sidecar saw
	for range 2 {
		if code, _ := serve(t, h, bob.key); code != 503 {
			t.Fatalf("a key first seen while the marker is behind: %d, want 503", code)
		}
	}
	if h.cache.Stats().RedisBehind == 0 {
		t.Error("no reply counted behind")
	}
	s.setRev(2) // the admin repaired Redis
	if code, _ := serve(t, h, bob.key); code != 204 {
		t.Fatalf("bob after the repair: %d, want 204", code)
	}
}
