package redissync

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"hash/maphash"
	"math"
	"reflect"
	"sync"

	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/wire"
)

// digestSet remembers, per key, what this Syncer last wrote there or found there equal
// to the store: a fingerprint of the content it stands for and a digest of the sealed
// bytes. The periodic repair (repairPass) compares the store's records with the
// fingerprints and Redis' bytes with the digests, and seals only the keys where either
// differs, instead of a signature per key per pass.
//
// The digest is keyed SHA-256 (a random secret of this process comes first), cut to 64
// bits: what Redis holds is untrusted, and to pass for a key its bytes must have the
// digest of a value this Syncer sealed for that very key hash, without the secret ever
// leaving the process. It stays SHA-256 because it is the security boundary: with
// SHA-NI it is about as fast as any keyed hash of the standard library, and the faster
// universal hashes (GHASH, Poly1305) need a fresh key or nonce per message and are
// weaker cut to 64 bits. The fingerprint hashes what the store says, which is trusted,
// with maphash (randomly seeded): the key's own fields with a fingerprint of its
// account's, which a store's scan computes once per account. An entry is found by the
// first 8 bytes of the key hash (entryTable); every fingerprint and digest covers the
// whole hash, so two keys sharing an entry only cost a seal.
//
// An entry may be stale (another admin wrote since, a write was refused for a newer
// record, Redis lost it): a stale entry fails the comparison and sends the key to the
// exact check, never the reverse. It is safe for concurrent use.
type digestSet struct {
	secret [32]byte
	seed   maphash.Seed
	mu     sync.Mutex
	m      *entryTable
	// fresh is the flag (flagFreshA or flagFreshB) that notes set; startPass flips it.
	fresh uint64
	// confirmed is the flag that stands for "equal to the store's live record" in the
	// current pass: flagConfirmed when it scans the store, flagLive when it does not.
	confirmed uint64
	// quiet is the revision up to which the entries flagged flagLive are the store's
	// live records, and what moves it (quiet.go).
	quiet quietStore
}

// digestEntry is one key's fingerprint and digest; the low bits of content are flags.
type digestEntry struct {
	content uint64
	value   uint64
}

// fingerprint is e's content without its flags but flagTomb: what the store's record
// is compared with.
func (e *digestEntry) fingerprint() uint64 { return e.content &^ (passFlags | keptFlags) }

// Flags in the low bits of digestEntry.content.
const (
	// flagConfirmed: the current repair pass found the store's live record of the key
	// equal to the entry's content.
	flagConfirmed uint64 = 1 << iota
	// flagSeen: the current pass found the entry's bytes in Redis.
	flagSeen
	// flagFreshA and flagFreshB: written, or checked by the exact path, since the
	// current pass began; digestSet.fresh says which of the two is current (the other
	// marks what was noted before the pass).
	flagFreshA
	flagFreshB
	// flagTomb: the entry stands for a tombstone.
	flagTomb
	// flagLive: the entry's content is the store's live record of the key as of the
	// quiet revision (digestSet.quiet.rev) or later, any later change being logged. A
	// pass with a store scan sets it on the entries it confirmed; note and confirm set
	// it on what they write or find read at that revision or above (putLive). A pass
	// that skips the scan takes it for flagConfirmed (quiet.go).
	flagLive
	// flagWritten: the entry's value is one this Syncer wrote (note), not one it found
	// equal to the store (confirm): the watch takes only those for its own.
	flagWritten
	// passFlags are the flags a repair pass sets and clears at its end; keptFlags, the
	// others that are not part of the content.
	passFlags = flagConfirmed | flagSeen | flagFreshA | flagFreshB
	keptFlags = flagLive | flagWritten
	flagMask  = passFlags | keptFlags | flagTomb
)

func newDigestSet() *digestSet {
	d := &digestSet{fresh: flagFreshA, confirmed: flagConfirmed, seed: maphash.MakeSeed()}
	if _, err := rand.Read(d.secret[:]); err != nil {
		panic("redissync: no randomness for the digest secret: " + err.Error())
	}
	d.m = newEntryTable(maphash.Comparable(d.seed, 0))
	return d
}

// slot is the map key of h's entry.
func slot(h keystore.KeyHash) uint64 { return binary.LittleEndian.Uint64(h[:8]) }

// digester computes fingerprints and digests with a reused buffer; not safe for
// concurrent use.
type digester struct {
	d   *digestSet
	buf []byte
	// accounts caches, by account id, the account parts scanRecord computed.
	accounts map[string]accountPart
}

// accountPart is the part of a record that all the keys of one account share, and its
// fingerprint.
type accountPart struct {
	sa, ws string
	roles  map[string]wire.Role
	rps    float64
	burst  int64
	sum    uint64
}

func (d *digestSet) digester() *digester { return &digester{d: d, buf: make([]byte, 0, 512)} }

func (g *digester) sum(b []byte) uint64 {
	s := sha256.Sum256(b)
	g.buf = b[:0]
	return binary.LittleEndian.Uint64(s[:8])
}

func (g *digester) fingerprint(b []byte) uint64 {
	g.buf = b[:0]
	return maphash.Bytes(g.d.seed, b) &^ flagMask
}

func (g *digester) start(tag byte, h keystore.KeyHash) []byte {
	b := append(g.buf[:0], g.d.secret[:]...)
	b = append(b, tag)
	return append(b, h[:]...)
}

// value is the digest of the sealed bytes raw held for h.
func (g *digester) value(h keystore.KeyHash, raw []byte) uint64 {
	return g.sum(append(g.start('v', h), raw...))
}

// valueString is value for raw as a string (as MGET returns it), without a copy.
func (g *digester) valueString(h keystore.KeyHash, raw string) uint64 {
	return g.sum(append(g.start('v', h), raw...))
}

// appendString appends s with its length first, so that concatenations are unambiguous.
func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// record is the fingerprint of h's live record r as a sidecar sees it: every field but
// Rev (as sameRecord compares), flags clear. It hashes the key's own fields with the
// fingerprint of the account's (account).
func (g *digester) record(h keystore.KeyHash, r wire.Record) uint64 {
	return g.keyPart(h, r, g.account(r))
}

// scanRecord is record for the records of a store's scan, which share one Roles map per
// account (RecordSource.ScanAuthRecords): the account's part is computed again only
// when the account's fields differ from those cached for its id, or its Roles is another
// map (a store that builds one per record gains nothing, and loses nothing), so most
// rows hash only their own fields.
func (g *digester) scanRecord(h keystore.KeyHash, r wire.Record) uint64 {
	a, ok := g.accounts[r.SAID]
	if !ok || a.sa != r.SA || a.ws != r.Workspace || a.rps != r.RPS || a.burst != r.Burst ||
		len(r.Roles) != len(a.roles) ||
		len(r.Roles) != 0 && reflect.ValueOf(r.Roles).UnsafePointer() != reflect.ValueOf(a.roles).UnsafePointer() {
		if g.accounts == nil || len(g.accounts) >= maxCachedAccounts {
			g.accounts = make(map[string]accountPart)
		}
		a = accountPart{sa: r.SA, ws: r.Workspace, roles: r.Roles, rps: r.RPS, burst: r.Burst, sum: g.account(r)}
		g.accounts[r.SAID] = a
	}
	return g.keyPart(h, r, a.sum)
}

// maxCachedAccounts bounds scanRecord's cache; when full it starts again.
const maxCachedAccounts = 1 << 16

// keyPart is the fingerprint of h's record r whose account fields have fingerprint acct.
func (g *digester) keyPart(h keystore.KeyHash, r wire.Record, acct uint64) uint64 {
	b := append(g.buf[:0], 'r')
	b = append(b, h[:]...)
	b = appendString(b, r.KeyID)
	b = appendString(b, string(r.State))
	b = binary.AppendVarint(b, r.Exp)
	b = binary.LittleEndian.AppendUint64(b, acct)
	return g.fingerprint(b)
}

// account is the fingerprint of the fields of r that are its account's: SAID, SA,
// Workspace, Roles, RPS and Burst.
func (g *digester) account(r wire.Record) uint64 {
	b := append(g.buf[:0], 'a')
	b = appendString(b, r.SAID)
	b = appendString(b, r.SA)
	b = appendString(b, r.Workspace)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(r.RPS))
	b = binary.AppendVarint(b, r.Burst)
	b = binary.AppendUvarint(b, uint64(len(r.Roles)))
	var small [8]string
	for _, p := range wire.SortedProjects(r.Roles, small[:0]) {
		b = appendString(b, p)
		b = appendString(b, string(r.Roles[p]))
	}
	g.buf = b[:0]
	return maphash.Bytes(g.d.seed, b)
}

// tomb is the fingerprint of h's tombstone: any tombstone this Syncer sealed stands
// for "not live", whatever identity it carries.
func (g *digester) tomb(h keystore.KeyHash) uint64 {
	b := append(g.buf[:0], 't')
	return g.fingerprint(append(b, h[:]...)) | flagTomb
}

// note remembers ws as this Syncer's last writes of their keys (sent, perhaps refused
// for a newer record: then the entry is stale, which costs a check).
func (d *digestSet) note(ws []write) {
	g := d.digester()
	type noted struct {
		k   uint64
		e   digestEntry
		rev int64 // 0 for a tombstone
	}
	es := make([]noted, len(ws))
	for i, w := range ws {
		n := noted{k: slot(w.hash), e: digestEntry{value: g.value(w.hash, w.val)}}
		if w.tomb {
			n.e.content = g.tomb(w.hash)
		} else {
			n.e.content, n.rev = g.record(w.hash, w.rec), w.rev
		}
		es[i] = n
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, n := range es {
		n.e.content |= d.fresh | flagWritten
		d.putLive(n.k, n.e, n.rev)
	}
}

// putLive puts e as k's entry, with flagLive when e is a live record read at rev at or
// above the quiet revision (a later change of the key is logged, and clears the flag
// when the quiet revision passes it), or when the entry it replaces had the flag and
// the same content (a write of an older read that changed nothing). d.mu must be held.
func (d *digestSet) putLive(k uint64, e digestEntry, rev int64) {
	if rev > 0 && rev >= d.quiet.rev {
		e.content |= flagLive
	} else if old := d.m.get(k); old != nil && old.content&flagLive != 0 && old.fingerprint() == e.fingerprint() {
		e.content |= flagLive
	}
	d.m.put(k, e)
}

// confirm remembers that Redis holds raw for h and that it equals r, the store's live
// record of h at rev r.Rev (the exact check found it so).
func (d *digestSet) confirm(g *digester, h keystore.KeyHash, r wire.Record, raw []byte) {
	d.confirmEntry(h, digestEntry{content: g.record(h, r), value: g.value(h, raw)}, r.Rev)
}

// confirmTomb remembers that Redis holds raw, a tombstone this Syncer sealed, for h,
// which the store does not hold live.
func (d *digestSet) confirmTomb(g *digester, h keystore.KeyHash, raw []byte) {
	d.confirmEntry(h, digestEntry{content: g.tomb(h), value: g.value(h, raw)}, 0)
}

func (d *digestSet) confirmEntry(h keystore.KeyHash, e digestEntry, rev int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := slot(h)
	if old := d.m.get(k); old != nil && old.value == e.value {
		e.content |= old.content & flagWritten // still the value this Syncer wrote
	}
	e.content |= d.fresh
	d.putLive(k, e, rev)
}

// wrote reports whether sum is the digest (digester.value) of the value this Syncer
// last wrote to h's key: not one it only found there equal to the store, which another
// admin may have replaced since.
func (d *digestSet) wrote(h keystore.KeyHash, sum uint64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.m.get(slot(h))
	return e != nil && e.value == sum && e.content&flagWritten != 0
}
