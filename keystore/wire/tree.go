package wire

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"hash"
	"strings"
	"sync"
)

// Sealed in groups. An Ed25519 signature costs about 30 µs, so signing 10 million records
// one by one is 300 s of CPU. SealBatch signs values in groups of up to MaxTreeLeaves:
// one signature covers the root of a Merkle tree over the group, and each value carries
// its index in the group and the sibling hashes on its path to the root:
//
//	s2:<signer id, 16 hex>:<signature, 86 base64url>:<index, 1 hex><sibling, 43 base64url>…:<payload>
//
// A leaf is SHA-256(0x00 ‖ m), where m is what a single signature would cover (domain,
// name and payload); an inner node is SHA-256(0x01 ‖ left ‖ right), and a missing right
// child (a group smaller than a power of two) is SHA-256(0x02). The signature covers the
// domain with "/tree" appended, no name, and the tree's depth (one byte) followed by its
// root. Leaves and nodes are hashed with different prefixes, so no path can pass an
// inner node off as a value; the signed depth fixes the path's length. A value sealed in
// a group therefore verifies exactly as a single seal does (the same domain, name and
// payload), for 4 × 43 more bytes at most, and a verifier that has seen a group's root
// verify skips the signature for the group's other values.
//
// A group of one is sealed as a single value (s1).

const (
	treeVersion = "s2"
	// MaxTreeLeaves is the most values one signature covers in SealBatch.
	MaxTreeLeaves = 1 << maxTreeDepth
	maxTreeDepth  = 4
	hashB64Len    = 43 // base64url without padding of 32 bytes
	// treeSigLen is the length of "s2:<id>:<sig>", before ":<index><siblings>:".
	treeSigLen = len(treeVersion) + 1 + SignerIDLen + 1 + sigB64Len
	// TreePathOffset is where the siblings start in a value sealed in a group; the
	// payload starts after the first ':' from there.
	TreePathOffset = treeSigLen + 2
)

var emptyNode = sha256.Sum256([]byte{2})

// leafHash is the tree leaf of a value that a single seal would sign as message(domain,
// name, payload).
func leafHash(domain, name string, payload []byte) [sha256.Size]byte {
	var l leafHasher
	return l.sum(domain, name, payload)
}

// leafHasher computes leaves with a reused hash and buffer; not safe for concurrent use.
type leafHasher struct {
	h   hash.Hash
	buf []byte
}

func (l *leafHasher) sum(domain, name string, payload []byte) [sha256.Size]byte {
	if l.h == nil {
		l.h = sha256.New()
	}
	l.h.Reset()
	l.buf = append(l.buf[:0], 0)
	l.buf = append(l.buf, "sagate\x00"+sigVersion+"\x00"...)
	l.buf = append(l.buf, domain...)
	l.buf = append(l.buf, 0)
	l.buf = append(l.buf, name...)
	l.buf = append(l.buf, 0)
	l.h.Write(l.buf)
	l.h.Write(payload)
	var out [sha256.Size]byte
	l.h.Sum(out[:0])
	return out
}

func nodeHash(l, r *[sha256.Size]byte) [sha256.Size]byte {
	var b [1 + 2*sha256.Size]byte
	b[0] = 1
	copy(b[1:], l[:])
	copy(b[1+sha256.Size:], r[:])
	return sha256.Sum256(b[:])
}

// treeMessage is what the signature of a tree covers.
func treeMessage(domain string, depth int, root *[sha256.Size]byte) []byte {
	p := make([]byte, 0, 1+sha256.Size)
	p = append(p, byte(depth))
	p = append(p, root[:]...)
	return message(domain+"/tree", "", p)
}

// SealBatch seals payloads[i] under names[i] (as Seal would), one signature per group of
// up to MaxTreeLeaves values. The results are in the order of payloads.
func (k SigningKey) SealBatch(domain string, names []string, payloads [][]byte) [][]byte {
	out := make([][]byte, len(payloads))
	for lo := 0; lo < len(payloads); lo += MaxTreeLeaves {
		hi := min(lo+MaxTreeLeaves, len(payloads))
		if hi-lo == 1 {
			out[lo] = k.Seal(domain, names[lo], payloads[lo])
			continue
		}
		k.sealTree(domain, names[lo:hi], payloads[lo:hi], out[lo:hi])
	}
	return out
}

// sealTree seals 2 to MaxTreeLeaves values under one signature into out.
func (k SigningKey) sealTree(domain string, names []string, payloads [][]byte, out [][]byte) {
	depth := 1
	for 1<<depth < len(payloads) {
		depth++
	}
	// levels[0] are the leaves, levels[depth] the root.
	levels := make([][][sha256.Size]byte, depth+1)
	levels[0] = make([][sha256.Size]byte, 1<<depth)
	var lh leafHasher
	for i := range levels[0] {
		if i < len(payloads) {
			levels[0][i] = lh.sum(domain, names[i], payloads[i])
		} else {
			levels[0][i] = emptyNode
		}
	}
	for d := 1; d <= depth; d++ {
		below := levels[d-1]
		levels[d] = make([][sha256.Size]byte, len(below)/2)
		for i := range levels[d] {
			if below[2*i] == emptyNode {
				levels[d][i] = emptyNode // padding only
				continue
			}
			levels[d][i] = nodeHash(&below[2*i], &below[2*i+1])
		}
	}
	sig := ed25519.Sign(k.priv, treeMessage(domain, depth, &levels[depth][0]))
	head := treeVersion + ":" + k.id + ":" + b64.EncodeToString(sig) + ":"
	size := 0
	for _, p := range payloads {
		size += len(head) + 1 + depth*hashB64Len + 1 + len(p)
	}
	buf := make([]byte, 0, size) // one allocation for the group's values
	for i, p := range payloads {
		v := buf[len(buf) : len(buf) : len(buf)+len(head)+1+depth*hashB64Len+1+len(p)]
		v = append(v, head...)
		v = append(v, hexDigit(i))
		for d, j := 0, i; d < depth; d, j = d+1, j>>1 {
			v = b64.AppendEncode(v, levels[d][j^1][:])
		}
		v = append(v, ':')
		out[i] = append(v, p...)
		buf = buf[:len(buf)+len(out[i])]
	}
}

func hexDigit(i int) byte { return "0123456789abcdef"[i] }

// splitTree splits a value sealed in a group into its signature, index, siblings
// (base64url) and payload, without verifying anything.
func splitTree(sealed []byte) (sig []byte, index int, siblings, payload []byte, ok bool) {
	const head = TreePathOffset
	if len(sealed) < head+hashB64Len+1 || !bytes.HasPrefix(sealed, []byte(treeVersion+":")) ||
		sealed[len(treeVersion)+1+SignerIDLen] != ':' || sealed[treeSigLen] != ':' {
		return nil, 0, nil, nil, false
	}
	index = strings.IndexByte("0123456789abcdef", sealed[treeSigLen+1])
	end := bytes.IndexByte(sealed[head:], ':')
	if index < 0 || end < hashB64Len || end%hashB64Len != 0 || end/hashB64Len > maxTreeDepth || index>>(end/hashB64Len) != 0 {
		return nil, 0, nil, nil, false
	}
	return sealed[:treeSigLen], index, sealed[head : head+end], sealed[head+end+1:], true
}

// openTree verifies a value sealed in a group and returns its payload.
func (v *Verifier) openTree(domain, name string, sealed []byte) ([]byte, error) {
	sig, index, siblings, payload, ok := splitTree(sealed)
	if !ok {
		return nil, ErrUnsigned
	}
	id := string(sig[len(treeVersion)+1 : len(treeVersion)+1+SignerIDLen])
	key, ok := v.keys[id]
	if !ok {
		return nil, ErrUnknownSigner
	}
	node := leafHash(domain, name, payload)
	depth := len(siblings) / hashB64Len
	for d := range depth {
		var sib [sha256.Size]byte
		if n, err := b64.Strict().Decode(sib[:], siblings[d*hashB64Len:(d+1)*hashB64Len]); err != nil || n != sha256.Size {
			return nil, ErrBadSignature
		}
		if index>>d&1 == 0 {
			node = nodeHash(&node, &sib)
		} else {
			node = nodeHash(&sib, &node)
		}
	}
	if v.roots.has(id, domain, depth, &node, sig) {
		return payload, nil
	}
	raw, err := b64.Strict().DecodeString(string(sig[len(treeVersion)+1+SignerIDLen+1:]))
	if err != nil || len(raw) != ed25519.SignatureSize {
		return nil, ErrBadSignature
	}
	if !ed25519.Verify(key, treeMessage(domain, depth, &node), raw) {
		return nil, ErrBadSignature
	}
	v.roots.add(id, domain, depth, &node, sig)
	return payload, nil
}

// rootCache remembers the tree roots whose signature verified, so that the other values
// of a group cost a few hashes instead of a signature check. It holds at most
// rootCacheSize roots and forgets them all when full.
type rootCache struct {
	mu sync.Mutex
	m  map[rootEntry]struct{}
}

// rootCacheSize bounds rootCache: 4,096 roots, about 400 KB.
const rootCacheSize = 4096

// rootEntry is a verified root with everything its signature covered and the signature
// itself, so that a root is only taken as verified with the signature it verified with.
type rootEntry struct {
	signer, domain string
	depth          int
	root           [sha256.Size]byte
	sig            string
}

func (c *rootCache) has(signer, domain string, depth int, root *[sha256.Size]byte, sig []byte) bool {
	c.mu.Lock()
	_, ok := c.m[rootEntry{signer, domain, depth, *root, string(sig)}]
	c.mu.Unlock()
	return ok
}

func (c *rootCache) add(signer, domain string, depth int, root *[sha256.Size]byte, sig []byte) {
	c.mu.Lock()
	if c.m == nil || len(c.m) >= rootCacheSize {
		c.m = make(map[rootEntry]struct{}, 64)
	}
	c.m[rootEntry{signer, domain, depth, *root, string(sig)}] = struct{}{}
	c.mu.Unlock()
}
