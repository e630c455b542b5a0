package keycache

import (
	"maps"
	"sync/atomic"

	"github.com/sagate/sagate/keystore"
)

// Entry is a cached, live-or-not record with header values prepared once for injection.
// Entries are shared between requests and must not be modified. The []string values have
// cap == len, so an append by a later handler copies instead of writing into shared memory.
//
// The keys of one service account share one copy of what they have in common: the
// strings SAID, SA and Workspace, the Roles map and the header values of those three.
type Entry struct {
	Record keystore.Record
	// Precomputed header values.
	SAIDValue, SAValue, WorkspaceValue, KeyIDValue []string

	// lastUse is the Unix nanosecond time of the last reported use of this key. An entry
	// that replaces another for the same key starts from its value, so that a refetch
	// does not report the key again within UsageInterval.
	lastUse atomic.Int64
	// acc is the shared account part, released when the entry's node leaves the cache.
	acc *account
	// keyID backs KeyIDValue, inside the entry rather than in an allocation of its own.
	keyID [1]string
}

// entryNode is a positive node and its entry in one allocation: a cached key costs
// one heap object besides its key id string.
type entryNode struct {
	node
	entry Entry
}

// account is what the keys of one service account share. It is immutable but for
// refs, which belongs to the shard whose table holds it.
type account struct {
	said, sa, ws                string
	roles                       map[string]keystore.Role
	saidValue, saValue, wsValue []string
	// refs counts the shard's nodes whose entry uses it; at 0 it leaves the table.
	refs int
}

// newAccount returns the shared part of r, not yet in any table.
func newAccount(r *keystore.Record) *account {
	return &account{
		said: r.SAID, sa: r.SA, ws: r.Workspace, roles: r.Roles,
		saidValue: []string{r.SAID}, saValue: []string{r.SA}, wsValue: []string{r.Workspace},
	}
}

// matches reports whether r's shared part equals a's.
func (a *account) matches(r *keystore.Record) bool {
	return a.said == r.SAID && a.sa == r.SA && a.ws == r.Workspace && maps.Equal(a.roles, r.Roles)
}

// newEntryNode returns a positive node for h holding r, whose shared part is acc.
func newEntryNode(h keystore.KeyHash, r keystore.Record, acc *account) *entryNode {
	en := &entryNode{node: node{h: h}}
	e := &en.entry
	en.e = e
	r.SAID, r.SA, r.Workspace, r.Roles = acc.said, acc.sa, acc.ws, acc.roles
	r.State = internState(r.State)
	e.Record = r
	e.acc = acc
	e.keyID[0] = r.KeyID
	e.SAIDValue, e.SAValue, e.WorkspaceValue = acc.saidValue, acc.saValue, acc.wsValue
	e.KeyIDValue = e.keyID[:]
	return en
}

// internState returns the package constant for a known state, so that the decoded
// copy of the string can go.
func internState(s keystore.KeyState) keystore.KeyState {
	switch s {
	case keystore.KeyActive:
		return keystore.KeyActive
	case keystore.KeyDeactivated:
		return keystore.KeyDeactivated
	case keystore.KeyRevoked:
		return keystore.KeyRevoked
	}
	return s
}

// account returns the shard's shared part equal to r's, or a new one that is added to
// the table when add is set (the node using it is about to be stored). The caller
// holds s.mu and, for an added or found account that is stored, counts the reference
// with s.hold.
func (s *shard) account(r *keystore.Record, add bool) *account {
	for _, a := range s.accounts[r.SAID] {
		if a.matches(r) {
			return a
		}
	}
	a := newAccount(r)
	if add {
		s.accounts[a.said] = append(s.accounts[a.said], a)
	}
	return a
}

// hold counts a stored node's use of its entry's account.
func (s *shard) hold(n *node) {
	if n.e != nil && n.e.acc != nil {
		n.e.acc.refs++
	}
}

// release drops a node's use of its entry's account, and the account from the table
// when no node of the shard uses it any more. Entries still held by requests keep
// theirs: the table only shares, it does not own.
func (s *shard) release(n *node) {
	if n.e == nil || n.e.acc == nil {
		return
	}
	a := n.e.acc
	if a.refs--; a.refs > 0 {
		return
	}
	list := s.accounts[a.said]
	for i, b := range list {
		if b == a {
			list[i] = list[len(list)-1]
			list[len(list)-1] = nil
			list = list[:len(list)-1]
			break
		}
	}
	if len(list) == 0 {
		delete(s.accounts, a.said)
	} else {
		s.accounts[a.said] = list
	}
}
