package redissync

import (
	"bytes"
	"context"
	"testing"

	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/wire"
)

// groupSealed returns the value Redis holds for key i after checking it is sealed in a
// group (wire.SealBatch).
func (e *env) groupSealed(t *testing.T, i int) []byte {
	t.Helper()
	b, err := e.rdb.Get(context.Background(), wire.RedisKey(testHash(i))).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("s2:")) {
		t.Fatalf("key %d: not sealed in a group: %.3s…", i, b)
	}
	return b
}

// TestFullSyncSealsInGroups: a full sync seals its records in groups, every one of which
// verifies for its own key; an admin that never wrote them (no digests) checks them
// exactly by verifying, finds them equal and rewrites nothing; a value whose path or
// payload was changed, or a group member moved to another key, is found and rewritten.
func TestFullSyncSealsInGroups(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	const n = 3*wire.MaxTreeLeaves + 5
	e.fill(n)
	if st, err := e.s.Reconcile(ctx); err != nil || st.Written != n {
		t.Fatalf("full sync: %+v, %v", st, err)
	}
	for i := range n {
		e.groupSealed(t, i)
		if r, ok := e.record(t, testHash(i)); !ok || r.KeyID != testRecord(i).KeyID {
			t.Fatalf("key %d: %+v", i, r)
		}
	}

	fresh := newSyncer(t, e.rdb, e.src, Config{})
	st, err := fresh.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.NewEpoch || st.Checked != n || st.Unchanged != n || st.Written+st.Removed != 0 {
		t.Fatalf("a fresh admin's repair: %+v, want %d checked and unchanged, nothing written", st, n)
	}

	// Key 1: a sibling on its path changed. Key 2: a role added to its payload. Key 3:
	// key 4's value, a valid member of the same group, but for another key.
	v1 := e.groupSealed(t, 1)
	v1[wire.TreePathOffset+1] ^= 1
	v2 := bytes.Replace(e.groupSealed(t, 2), []byte(`"state"`), []byte(`"roles":{"*":"owner"},"state"`), 1)
	if bytes.Equal(v2, e.groupSealed(t, 2)) {
		t.Fatal("the test record has no state field to insert a role before")
	}
	for h, v := range map[int][]byte{1: v1, 2: v2, 3: e.groupSealed(t, 4)} {
		e.rdb.Set(ctx, wire.RedisKey(testHash(h)), v, 0)
	}
	st, err = newSyncer(t, e.rdb, e.src, Config{}).Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Written != 3 {
		t.Errorf("repair of three damaged values: %+v, want 3 written", st)
	}
	if msg := e.mismatch(t); msg != "" {
		t.Fatal(msg)
	}
}

// TestWriteScriptReadsGroupRevisions: the rev-checked script reads the revision of a
// value sealed in a group as it does a single seal's, so an older write loses to it.
func TestWriteScriptReadsGroupRevisions(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	h := []keystore.KeyHash{testHash(1), testHash(2)}
	ws, err := sealWrites(e.s.key, []pending{pendingRecord(h[0], testRecord(1), 10), pendingRecord(h[1], testRecord(2), 10)}, wire.MaxTreeLeaves, now())
	if err != nil {
		t.Fatal(err)
	}
	if applied, err := e.s.execWrites(ctx, ws); err != nil || !applied[0] || !applied[1] {
		t.Fatalf("writing a group: %v, %v", applied, err)
	}
	e.groupSealed(t, 1)
	for _, tc := range []struct {
		rev  int64
		want bool
	}{{9, false}, {10, true}, {11, true}} {
		older, err := sealWrites(e.s.key, []pending{pendingTomb(h[1], tc.rev, wire.Record{})}, wire.MaxTreeLeaves, now())
		if err != nil {
			t.Fatal(err)
		}
		applied, err := e.s.execWrites(ctx, older)
		if err != nil || applied[0] != tc.want {
			t.Fatalf("a write at rev %d over a group member at rev 10: applied %v (%v), want %v", tc.rev, applied, err, tc.want)
		}
	}
}

// TestRepairReplacesWhatItCannotRead: a value that does not read as a sealed record in
// Go but whose JSON the script would read with a revision from the future (a path of
// the wrong length) is replaced by compare-and-set, not left to the rev-checked script.
func TestRepairReplacesWhatItCannotRead(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	e.fill(2 * wire.MaxTreeLeaves)
	if _, err := e.s.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	v := e.groupSealed(t, 5)
	cut := append(bytes.Clone(v[:wire.TreePathOffset+1]), v[wire.TreePathOffset+2:]...) // 42 characters short
	cut = bytes.Replace(cut, []byte(`"rev":`), []byte(`"rev":999999999,"x":`), 1)
	if _, ok := wire.RecordPayload(cut); ok {
		t.Fatal("the damaged value still reads as sealed")
	}
	e.rdb.Set(ctx, wire.RedisKey(testHash(5)), cut, 0)
	st, err := newSyncer(t, e.rdb, e.src, Config{}).Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Written != 1 {
		t.Errorf("repair: %+v, want the damaged value rewritten", st)
	}
	if msg := e.mismatch(t); msg != "" {
		t.Fatal(msg)
	}
}

// TestSingleSeals: an admin told to seal records on their own (for sidecars that
// predate group seals) writes only single seals, in a full sync and in a change.
func TestSingleSeals(t *testing.T) {
	e := newEnv(t, Config{SingleSeals: true})
	ctx := context.Background()
	const n = wire.MaxTreeLeaves + 3
	e.fill(n)
	if _, err := e.s.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	r := testRecord(1)
	r.State = keystore.KeyDeactivated
	rev := e.src.put(testHash(1), r)
	e.src.put(testHash(2), r)
	if err := e.s.Apply(ctx, keystore.Change{Rev: rev + 1, Hashes: []keystore.KeyHash{testHash(1), testHash(2)}}); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		b, err := e.rdb.Get(ctx, wire.RedisKey(testHash(i))).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("s1:")) {
			t.Fatalf("key %d: %.3s…, want a single seal", i, b)
		}
	}
	if msg := e.mismatch(t); msg != "" {
		t.Fatal(msg)
	}
}

// TestRepairReplacesWhatDoesNotVerify: a value whose JSON the script and Go read with
// different revisions (a later "Rev" field, which Go's decoder takes case-insensitively
// and the script ignores) is replaced by compare-and-set, single seal or group member,
// instead of being kept for the revision the script reads.
func TestRepairReplacesWhatDoesNotVerify(t *testing.T) {
	for _, form := range []string{"s1", "s2"} {
		t.Run(form, func(t *testing.T) {
			e := newEnv(t, Config{SingleSeals: form == "s1"})
			ctx := context.Background()
			e.fill(2 * wire.MaxTreeLeaves)
			if _, err := e.s.Reconcile(ctx); err != nil {
				t.Fatal(err)
			}
			v, err := e.rdb.Get(ctx, wire.RedisKey(testHash(5))).Bytes()
			if err != nil {
				t.Fatal(err)
			}
			p, _ := wire.RecordPayload(v)
			forged := append(bytes.Clone(v[:len(v)-len(p)]),
				`{"key_id":"key_5","sa_id":"sa_1","sa":"bot-1@ws","ws":"ws","state":"active","roles":{"*":"owner"},"rev":999999999,"Rev":1}`...)
			if r, err := wire.DecodeRecord(forged[len(v)-len(p):]); err != nil || r.Rev != 1 {
				t.Fatalf("Go reads the forged JSON as %+v, %v; want rev 1", r, err)
			}
			e.rdb.Set(ctx, wire.RedisKey(testHash(5)), forged, 0)
			st, err := newSyncer(t, e.rdb, e.src, Config{}).Reconcile(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.Written != 1 {
				t.Errorf("repair: %+v, want the forged value rewritten", st)
			}
			if msg := e.mismatch(t); msg != "" {
				t.Fatal(msg)
			}
		})
	}
}
