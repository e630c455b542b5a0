package keycache

import (
	"fmt"
	"reflect"
	"testing"
	"unsafe"

	"github.com/sagate/sagate/keystore/wire"
)

// checkAccounts verifies the intern tables against the nodes: every account in a
// table is used by exactly refs of its shard's nodes, and no unused one is kept.
func checkAccounts(t *testing.T, c *Cache) (accounts int) {
	t.Helper()
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		uses := make(map[*account]int)
		for j := s.slots[posList].next; j != posList; j = s.slots[j].next {
			if sl := &s.slots[j]; sl.kind == slotPositive {
				if a := s.accs[sl.acc]; a == nil || a.idx != sl.acc {
					t.Errorf("shard %d: slot %d names account index %d, which is not there", i, j, sl.acc)
				} else {
					uses[a]++
				}
			}
		}
		for said, list := range s.accounts {
			if len(list) == 0 {
				t.Errorf("shard %d keeps an empty list for %s", i, said)
			}
			for _, a := range list {
				if a.refs != uses[a] || a.refs == 0 {
					t.Errorf("shard %d: account %s has refs %d, used by %d nodes", i, said, a.refs, uses[a])
				}
				accounts++
			}
		}
		for a := range uses {
			found := false
			for _, b := range s.accounts[a.said] {
				found = found || a == b
			}
			if !found {
				t.Errorf("shard %d: a cached entry's account %s is not in the table", i, a.said)
			}
		}
		s.mu.Unlock()
	}
	// The cache-wide content: each is used by exactly refs shard accounts.
	in := c.shards[0].intern
	in.mu.Lock()
	defer in.mu.Unlock()
	users := make(map[*accountData]int)
	for i := range c.shards {
		s := &c.shards[i]
		if s.intern != in {
			t.Fatalf("shard %d has an intern table of its own", i)
		}
		s.mu.Lock()
		for _, list := range s.accounts {
			for _, a := range list {
				users[a.data]++
				if a.roles == nil != (a.data.roles == nil) || a.said != a.data.said || a.sa != a.data.sa {
					t.Errorf("shard %d: account %s differs from its interned content", i, a.said)
				}
			}
		}
		s.mu.Unlock()
	}
	for said, list := range in.m {
		for _, d := range list {
			if d.refs != users[d] || d.refs == 0 {
				t.Errorf("interned account %s has refs %d, used by %d shard accounts", said, d.refs, users[d])
			}
			delete(users, d)
		}
	}
	if len(users) != 0 {
		t.Errorf("%d shard accounts use content that is not interned", len(users))
	}
	return accounts
}

func TestEntriesOfOneAccountShareItsParts(t *testing.T) {
	e := newEnv(t, envOpts{cfg: Config{Size: 8}}) // one shard
	base := activeRecord()
	base.Roles = map[string]wire.Role{"*": wire.RoleViewer, "p1": wire.RoleOwner}
	sibling := base
	sibling.KeyID += "-2"
	sibling.Exp = 4_000_000_000_000
	regranted := base // the account's roles changed; this record is already rewritten
	regranted.KeyID += "-3"
	regranted.Roles = map[string]wire.Role{"*": wire.RoleContributor}
	other := activeRecord()

	hashes := make([]wire.KeyHash, 4)
	ents := make([]*Entry, 4)
	for i, rec := range []wire.Record{base, sibling, regranted, other} {
		hashes[i] = newHash(t)
		e.put(hashes[i], rec)
		ents[i], _ = e.lookup(hashes[i])
		if ents[i] == nil {
			t.Fatalf("entry %d: not found", i)
		}
		checkRecord(t, ents[i], rec)
	}
	if ents[0].acc != ents[1].acc || unsafe.StringData(ents[0].ServiceAccount()) != unsafe.StringData(ents[1].ServiceAccount()) {
		t.Error("two keys of one account do not share its parts")
	}
	if ents[2].acc == ents[0].acc || ents[3].acc == ents[0].acc {
		t.Error("records that differ share an account")
	}
	if r, ok := ents[2].RoleFor("p1"); !ok || r != wire.RoleContributor {
		t.Errorf("regranted key's role in p1: %v %v, want contributor from *", r, ok)
	}
	if r, ok := ents[1].RoleFor("p1"); !ok || r != wire.RoleOwner {
		t.Errorf("sibling's role in p1: %v %v, want owner", r, ok)
	}
	if got := checkAccounts(t, e.cache); got != 3 {
		t.Errorf("%d accounts interned, want 3", got)
	}

	// Dropping the keys releases their parts with the last of them.
	e.publish(wire.EventKeys, hashes[0], hashes[2])
	e.waitEvents(1)
	if got := checkAccounts(t, e.cache); got != 2 {
		t.Errorf("%d accounts interned after dropping a key of each, want 2", got)
	}
	e.publish(wire.EventKeys, hashes...)
	e.waitEvents(2)
	if got := checkAccounts(t, e.cache); got != 0 {
		t.Errorf("%d accounts interned with no entry left, want 0", got)
	}
}

func TestEvictionReleasesAccounts(t *testing.T) {
	e := newEnv(t, envOpts{cfg: Config{Size: 32}})
	for i := range 200 {
		h, rec := newHash(t), activeRecord()
		rec.SAID = "sa_" + string(rune('a'+i%7)) // 7 accounts
		e.put(h, rec)
		e.lookup(h)
		if i%3 == 0 {
			e.lookup(h) // a hit, moving it to the front
		}
	}
	if got := checkAccounts(t, e.cache); got == 0 || got > e.cache.Stats().Entries {
		t.Errorf("%d accounts interned for %d entries", got, e.cache.Stats().Entries)
	}
}

func TestAccountContentIsSharedAcrossShards(t *testing.T) {
	e := newEnv(t, envOpts{cfg: Config{Size: 1024}})
	if len(e.cache.shards) < 2 {
		t.Fatalf("%d shards; the test needs several", len(e.cache.shards))
	}
	rec := activeRecord()
	rec.Roles = map[string]wire.Role{"*": wire.RoleViewer}
	var hashes []wire.KeyHash
	shardsUsed := map[*shard]bool{}
	var roles map[string]wire.Role
	for i := range 200 {
		h := newHash(t)
		r := rec
		r.KeyID = fmt.Sprintf("%s-%d", rec.KeyID, i)
		e.put(h, r)
		ent, _ := e.lookup(h)
		if ent == nil {
			t.Fatal("key not found")
		}
		if roles == nil {
			roles = ent.acc.roles
		} else if reflect.ValueOf(ent.acc.roles).UnsafePointer() != reflect.ValueOf(roles).UnsafePointer() {
			t.Fatalf("key %d: its account's roles are a copy, not the shared map", i)
		}
		hashes = append(hashes, h)
		shardsUsed[e.cache.shard(h)] = true
	}
	if len(shardsUsed) < 2 {
		t.Fatalf("all keys landed in %d shard", len(shardsUsed))
	}
	checkAccounts(t, e.cache)
	e.publish(wire.EventKeys, hashes...)
	e.waitEvents(1)
	checkAccounts(t, e.cache)
	in := e.cache.shards[0].intern
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.m) != 0 {
		t.Errorf("%d accounts still interned with no key cached", len(in.m))
	}
}

func TestEntryRoleForAddsUpGrants(t *testing.T) {
	e := newEnv(t, envOpts{})
	rec := activeRecord()
	rec.Roles = map[string]wire.Role{"*": wire.RoleContributor, "forecasting": wire.RoleViewer, "billing": wire.RoleOwner}
	h := newHash(t)
	e.put(h, rec)
	ent, _ := e.lookup(h)
	if ent == nil {
		t.Fatal("entry not found")
	}
	for _, tc := range []struct {
		project string
		want    wire.Role
	}{
		{"forecasting", wire.RoleContributor}, // a lower project grant does not lower "*"
		{"billing", wire.RoleOwner},           // a higher one raises it
		{"other", wire.RoleContributor},       // "*" alone
	} {
		if got, ok := ent.RoleFor(tc.project); !ok || got != tc.want {
			t.Errorf("RoleFor(%s) = %q %v, want %q", tc.project, got, ok, tc.want)
		}
		if got, _ := rec.RoleFor(tc.project); got != tc.want {
			t.Errorf("Record.RoleFor(%s) = %q, want %q (the admin and the sidecar must agree)", tc.project, got, tc.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = ent.RoleFor("forecasting") }); n != 0 {
		t.Errorf("Entry.RoleFor allocates %v times per call", n)
	}
}

// TestEntryCarriesTheRateLimit: an entry answers its account's rate limit; two keys of
// one account whose records carry different limits (one rewritten, the other not yet)
// do not share one account.
func TestEntryCarriesTheRateLimit(t *testing.T) {
	e := newEnv(t, envOpts{cfg: Config{Size: 8}})
	plain := activeRecord()
	limited := plain
	limited.KeyID += "-2"
	limited.RPS, limited.Burst = 2.5, 4
	var ents [2]*Entry
	for i, rec := range []wire.Record{plain, limited} {
		h := newHash(t)
		e.put(h, rec)
		if ents[i], _ = e.lookup(h); ents[i] == nil {
			t.Fatalf("entry %d: not found", i)
		}
		checkRecord(t, ents[i], rec)
	}
	if got := ents[0].Limit(); got.Limited() {
		t.Errorf("an unlimited record's entry: %+v", got)
	}
	if got := ents[1].Limit(); got != (wire.RateLimit{RPS: 2.5, Burst: 4}) {
		t.Errorf("a limited record's entry: %+v", got)
	}
	if ents[0].acc == ents[1].acc {
		t.Error("records with different limits share an account")
	}
	var none Entry
	if none.Limit().Limited() {
		t.Error("the zero Entry is limited")
	}
}
