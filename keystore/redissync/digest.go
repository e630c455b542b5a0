package redissync

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"hash/maphash"
	"slices"
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
// leaving the process. The fingerprint hashes what the store says, which is trusted,
// with maphash (randomly seeded). An entry is found by the first 8 bytes of the key hash; every fingerprint and
// digest covers the whole hash, so two keys sharing an entry only cost a seal.
//
// An entry may be stale (another admin wrote since, a write was refused for a newer
// record, Redis lost it): a stale entry fails the comparison and sends the key to the
// exact check, never the reverse. It is safe for concurrent use.
type digestSet struct {
	secret [32]byte
	seed   maphash.Seed
	mu     sync.Mutex
	m      map[uint64]digestEntry
	// fresh is the flag (flagFreshA or flagFreshB) that notes set; startPass flips it.
	fresh uint64
}

// digestEntry is one key's fingerprint and digest; the low bits of content are flags.
type digestEntry struct {
	content uint64
	value   uint64
}

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
	// passFlags are the flags a repair pass sets and clears at its end.
	passFlags = flagConfirmed | flagSeen | flagFreshA | flagFreshB
	flagMask  = passFlags | flagTomb
)

func newDigestSet() *digestSet {
	d := &digestSet{m: make(map[uint64]digestEntry), fresh: flagFreshA, seed: maphash.MakeSeed()}
	if _, err := rand.Read(d.secret[:]); err != nil {
		panic("redissync: no randomness for the digest secret: " + err.Error())
	}
	return d
}

// slot is the map key of h's entry.
func slot(h keystore.KeyHash) uint64 { return binary.LittleEndian.Uint64(h[:8]) }

// digester computes fingerprints and digests with a reused buffer; not safe for
// concurrent use.
type digester struct {
	d   *digestSet
	buf []byte
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

// record is the fingerprint of h's live record r as a sidecar sees it: every field but
// Rev (as sameRecord compares), flags clear.
func (g *digester) record(h keystore.KeyHash, r wire.Record) uint64 {
	b := g.start('r', h)
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	str(r.KeyID)
	str(r.SAID)
	str(r.SA)
	str(r.Workspace)
	str(string(r.State))
	b = binary.AppendVarint(b, r.Exp)
	b = binary.AppendUvarint(b, uint64(len(r.Roles)))
	var small [8]string
	projects := small[:0]
	for p := range r.Roles {
		projects = append(projects, p)
	}
	slices.Sort(projects)
	for _, p := range projects {
		str(p)
		str(string(r.Roles[p]))
	}
	return g.fingerprint(b)
}

// tomb is the fingerprint of h's tombstone: any tombstone this Syncer sealed stands
// for "not live", whatever identity it carries.
func (g *digester) tomb(h keystore.KeyHash) uint64 {
	return g.fingerprint(g.start('t', h)) | flagTomb
}

// note remembers ws as this Syncer's last writes of their keys (sent, perhaps refused
// for a newer record: then the entry is stale, which costs a check).
func (d *digestSet) note(ws []write) {
	g := d.digester()
	type noted struct {
		k uint64
		e digestEntry
	}
	es := make([]noted, len(ws))
	for i, w := range ws {
		fp := g.tomb(w.hash)
		if !w.tomb {
			fp = g.record(w.hash, w.rec)
		}
		es[i] = noted{slot(w.hash), digestEntry{content: fp, value: g.value(w.hash, w.val)}}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, n := range es {
		n.e.content |= d.fresh
		d.m[n.k] = n.e
	}
}

// confirm remembers that Redis holds raw for h and that it equals the store's record
// of fingerprint fp (the exact check found it so).
func (d *digestSet) confirm(g *digester, h keystore.KeyHash, fp uint64, raw []byte) {
	e := digestEntry{content: fp, value: g.value(h, raw)}
	d.mu.Lock()
	e.content |= d.fresh
	d.m[slot(h)] = e
	d.mu.Unlock()
}

// len is the number of entries.
func (d *digestSet) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.m)
}
