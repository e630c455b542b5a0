package keycache

import (
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/sagate/sagate/keystore/wire"
)

// Entry is the answer to a lookup: a copy of a cached record, live or not, taken
// under its shard's lock, so that it stays the same whatever the cache does next. The
// zero Entry is "no such key" (Found is false). Entries are small values (72 bytes);
// their methods do not allocate, but for KeyID and Record.
//
// What the keys of one service account share (its id, name, workspace and roles) is
// held once per cache and pointed to; the rest of a cached record lives in a slot of
// the cache's slab (slab.go), outside the Go heap.
type Entry struct {
	acc *account
	exp int64 // Unix milliseconds; 0: never expires
	// Where the record is cached, for RecordUse (shard nil: not cached).
	shard *shard
	slot  int32
	ver   uint32
	state uint8
	// useDue: no use of this key was reported within UsageInterval when it was looked up.
	useDue bool
	kidLen uint8
	kid    [MaxKeyIDLen]byte
}

// Found reports whether the entry holds a record: false for an unknown key.
func (e *Entry) Found() bool { return e.acc != nil }

// KeyID returns the id of the key, in a new string. See KeyIDBytes.
func (e *Entry) KeyID() string { return string(e.kid[:e.kidLen]) }

// KeyIDBytes returns the id of the key as bytes inside the entry, which the caller
// must not modify: KeyID without the allocation.
func (e *Entry) KeyIDBytes() []byte { return e.kid[:e.kidLen:e.kidLen] }

// ServiceAccountID returns the id of the key's service account.
func (e *Entry) ServiceAccountID() string { return e.acc.said }

// ServiceAccount returns the account's name@workspace.
func (e *Entry) ServiceAccount() string { return e.acc.sa }

// Workspace returns the account's workspace.
func (e *Entry) Workspace() string { return e.acc.ws }

// State returns the key's state: active, deactivated, or revoked (a tombstone); ""
// for a state this version does not know, which is never live.
func (e *Entry) State() wire.KeyState { return stateNames[e.state] }

// Expires returns the key's expiry in Unix milliseconds, 0 if it never expires.
func (e *Entry) Expires() int64 { return e.exp }

// Live reports whether the key lets a request in at time now (ignoring roles); see
// wire.Record.Live.
func (e *Entry) Live(now time.Time) bool {
	return e.state == stateActive && (e.exp == 0 || now.UnixMilli() < e.exp)
}

// Limit returns the account's rate limit (wire.Record.Limit); the zero RateLimit for
// none, or for an entry that is not Found.
func (e *Entry) Limit() wire.RateLimit {
	if e.acc == nil {
		return wire.RateLimit{}
	}
	return e.acc.limit
}

// RoleFor resolves the account's role in project: the higher of its grants on project
// and on "*"; see wire.Record.RoleFor.
func (e *Entry) RoleFor(project string) (wire.Role, bool) {
	role, ok := e.acc.roles[project]
	if all, star := e.acc.roles[wire.AllProjects]; star && (!ok || all.Rank() > role.Rank()) {
		return all, true
	}
	return role, ok
}

// Record returns the record the entry was made from, without its Rev (which the cache
// does not keep). Its Roles map is shared and must not be modified. The zero Record
// for an entry that is not Found.
func (e *Entry) Record() wire.Record {
	if !e.Found() {
		return wire.Record{}
	}
	return wire.Record{
		KeyID: e.KeyID(), SAID: e.acc.said, SA: e.acc.sa, Workspace: e.acc.ws,
		State: e.State(), Exp: e.exp, Roles: e.acc.roles, RPS: e.acc.limit.RPS, Burst: e.acc.limit.Burst,
	}
}

// Key states as slots keep them.
const (
	stateOther uint8 = iota
	stateActive
	stateDeactivated
	stateRevoked
)

var stateNames = [...]wire.KeyState{
	stateOther: "", stateActive: wire.KeyActive,
	stateDeactivated: wire.KeyDeactivated, stateRevoked: wire.KeyRevoked,
}

// stateCode returns the code of a record's state.
func stateCode(s wire.KeyState) uint8 {
	switch s {
	case wire.KeyActive:
		return stateActive
	case wire.KeyDeactivated:
		return stateDeactivated
	case wire.KeyRevoked:
		return stateRevoked
	}
	return stateOther
}

// entryOf fills e from positive slot i of s; useAt is the time of the lookup in Unix
// nanoseconds, interval the Config's UsageInterval. The caller holds s.mu.
func (s *shard) entryOf(e *Entry, i int32, useAt int64, interval time.Duration) {
	sl := &s.slots[i]
	e.acc = s.accs[sl.acc]
	e.exp = sl.exp
	e.shard, e.slot, e.ver = s, i, sl.ver
	e.state = sl.state
	e.useDue = useDue(sl.lastUse, useAt, interval)
	e.kidLen = sl.kidLen
	e.kid = sl.kid
}

// useDue reports whether a use at useAt is to be reported, the last one being at last
// (0: never).
func useDue(last, useAt int64, interval time.Duration) bool {
	return last == 0 || useAt-last >= int64(interval)
}

// account is what the keys of one service account share, as one shard holds it. It is
// immutable but for refs and idx, which belong to the shard whose table holds it. Its
// strings and roles map are those of the cache-wide accountData, so that an account
// with keys in every shard is held once, not once per shard.
type account struct {
	said, sa, ws string
	roles        map[string]wire.Role
	limit        wire.RateLimit
	data         *accountData // nil: not in any table
	// refs counts the shard's slots that use it; at 0 it leaves the table.
	refs int
	idx  int32 // its index in shard.accs
}

// accountData is the content of an account, interned cache-wide.
type accountData struct {
	said, sa, ws string
	roles        map[string]wire.Role
	limit        wire.RateLimit
	refs         int // shard accounts that use it, under accountIntern.mu
}

// accountIntern holds every accountData of a cache, by service account id. Shards
// take its lock (after their own) only when an account enters or leaves their table.
type accountIntern struct {
	mu sync.Mutex
	m  map[string][]*accountData
}

// matches reports whether r's shared part equals a's.
func (a *account) matches(r *wire.Record) bool {
	return a.said == r.SAID && a.sa == r.SA && a.ws == r.Workspace && a.limit == r.Limit() && maps.Equal(a.roles, r.Roles)
}

// newAccount returns the shared part of r, not in any table: a reply that is not
// cached. Its strings are copied into one of their own: the record's may be cut from
// the text of the whole record (wire.DecodeRecord), which they would keep alive.
func newAccount(r *wire.Record) *account {
	all := strings.Clone(r.SAID + r.SA + r.Workspace)
	a, b := len(r.SAID), len(r.SAID)+len(r.SA)
	return &account{said: all[:a], sa: all[a:b], ws: all[b:], roles: r.Roles, limit: r.Limit(), idx: -1}
}

// hold returns the interned content equal to r's, counting one more user.
func (in *accountIntern) hold(r *wire.Record) *accountData {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, d := range in.m[r.SAID] {
		if d.sa == r.SA && d.ws == r.Workspace && d.limit == r.Limit() && maps.Equal(d.roles, r.Roles) {
			d.refs++
			return d
		}
	}
	a := newAccount(r)
	d := &accountData{said: a.said, sa: a.sa, ws: a.ws, roles: a.roles, limit: a.limit, refs: 1}
	in.m[d.said] = append(in.m[d.said], d)
	return d
}

// drop counts one user less of d, and forgets d with its last.
func (in *accountIntern) drop(d *accountData) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if d.refs--; d.refs > 0 {
		return
	}
	in.m[d.said] = removeItem(in.m[d.said], d)
	if len(in.m[d.said]) == 0 {
		delete(in.m, d.said)
	}
}

// removeItem removes x from list, not keeping the order.
func removeItem[T comparable](list []T, x T) []T {
	for i, y := range list {
		if y == x {
			var zero T
			list[i] = list[len(list)-1]
			list[len(list)-1] = zero
			return list[:len(list)-1]
		}
	}
	return list
}

// account returns the shard's shared part equal to r's, or a new one that is added to
// the table when add is set (a slot is about to use it; the caller counts it in refs).
// The caller holds s.mu.
func (s *shard) account(r *wire.Record, add bool) *account {
	for _, a := range s.accounts[r.SAID] {
		if a.matches(r) {
			return a
		}
	}
	if !add {
		return newAccount(r)
	}
	d := s.intern.hold(r)
	a := &account{said: d.said, sa: d.sa, ws: d.ws, roles: d.roles, limit: d.limit, data: d}
	s.accounts[a.said] = append(s.accounts[a.said], a)
	if n := len(s.freeAccs); n > 0 {
		a.idx = s.freeAccs[n-1]
		s.freeAccs = s.freeAccs[:n-1]
		s.accs[a.idx] = a
	} else {
		a.idx = int32(len(s.accs))
		s.accs = append(s.accs, a)
	}
	return a
}

// release drops a slot's use of its account, and the account from the table when no
// slot of the shard uses it any more. Entries held by requests keep theirs: the table
// only shares, it does not own.
func (s *shard) release(sl *slot) {
	if sl.kind != slotPositive {
		return
	}
	a := s.accs[sl.acc]
	if a.refs--; a.refs > 0 {
		return
	}
	s.accounts[a.said] = removeItem(s.accounts[a.said], a)
	if len(s.accounts[a.said]) == 0 {
		delete(s.accounts, a.said)
	}
	s.intern.drop(a.data)
	s.accs[a.idx] = nil
	s.freeAccs = append(s.freeAccs, a.idx)
}
