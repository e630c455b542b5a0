package wire

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func batchInput(n int) (names []string, payloads [][]byte) {
	for i := range n {
		names = append(names, fmt.Sprintf("%064x", i))
		payloads = append(payloads, fmt.Appendf(nil, `{"key_id":"key_%d"}`, i))
	}
	return names, payloads
}

// Every value of a batch, whatever the group's size, opens under its own name with its
// own payload, and a group of one is an ordinary seal.
func TestSealBatchOpens(t *testing.T) {
	k := testSigningKey(t, 1)
	for _, n := range []int{1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 100} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			v := NewVerifier(k.Public())
			names, payloads := batchInput(n)
			sealed := k.SealBatch(DomainRecord, names, payloads)
			if len(sealed) != n {
				t.Fatalf("%d values, want %d", len(sealed), n)
			}
			for i, s := range sealed {
				got, err := v.Open(DomainRecord, names[i], s)
				if err != nil {
					t.Fatalf("value %d: %v", i, err)
				}
				if !bytes.Equal(got, payloads[i]) {
					t.Fatalf("value %d: payload %q, want %q", i, got, payloads[i])
				}
				if p, ok := RecordPayload(s); !ok || !bytes.Equal(p, payloads[i]) {
					t.Fatalf("value %d: RecordPayload %q %v", i, p, ok)
				}
				// The last value of the input is alone in its group when n%16 == 1.
				single := n%MaxTreeLeaves == 1 && i == n-1
				if got := bytes.HasPrefix(s, []byte("s1:")); got != single {
					t.Fatalf("value %d of %d: single seal %v, want %v", i, n, got, single)
				}
			}
		})
	}
}

// A group's signature covers its root only: the values are bound to their names, payloads,
// places and depth by the path, and a value of the group is refused after any change.
func TestSealBatchRefusesChanges(t *testing.T) {
	k := testSigningKey(t, 1)
	v := NewVerifier(k.Public())
	names, payloads := batchInput(5) // depth 3, padded with 3 empty leaves
	sealed := k.SealBatch(DomainRecord, names, payloads)
	s := sealed[2]
	_, index, siblings, _, ok := splitTree(s)
	if !ok || index != 2 || len(siblings) != 3*hashB64Len {
		t.Fatalf("split: index %d, %d sibling bytes, ok %v", index, len(siblings), ok)
	}
	at := bytes.IndexByte(s[treeSigLen+1:], ':') + treeSigLen + 1 // the ':' before the payload
	edit := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(s)) }
	otherKey := testSigningKey(t, 2)

	for _, tc := range []struct {
		name, bind, domain string
		value              []byte
		want               error
	}{
		{"good", names[2], DomainRecord, s, nil},
		{"another key's name", names[3], DomainRecord, s, ErrBadSignature},
		{"another domain", names[2], DomainEvent, s, ErrBadSignature},
		{"payload changed", names[2], DomainRecord, edit(func(b []byte) []byte { b[len(b)-2] ^= 1; return b }), ErrBadSignature},
		{"index changed", names[2], DomainRecord, edit(func(b []byte) []byte { b[treeSigLen+1] = '3'; return b }), ErrBadSignature},
		{"index beyond the depth", names[2], DomainRecord, edit(func(b []byte) []byte { b[treeSigLen+1] = '9'; return b }), ErrUnsigned},
		{"not an index", names[2], DomainRecord, edit(func(b []byte) []byte { b[treeSigLen+1] = 'x'; return b }), ErrUnsigned},
		{"sibling changed", names[2], DomainRecord, edit(func(b []byte) []byte { b[treeSigLen+3] ^= 1; return b }), ErrBadSignature},
		{"path cut by one", names[2], DomainRecord, append(bytes.Clone(s[:at-hashB64Len]), s[at:]...), ErrBadSignature},
		{"path longer than a group", names[2], DomainRecord,
			append(append(bytes.Clone(s[:at]), bytes.Repeat([]byte("A"), 2*hashB64Len)...), s[at:]...), ErrUnsigned},
		{"signature changed", names[2], DomainRecord, edit(func(b []byte) []byte { b[treeSigLen-2] ^= 1; return b }), ErrBadSignature},
		{"signature's unused bits set", names[2], DomainRecord, edit(func(b []byte) []byte { b[treeSigLen-1] = setLowBit(b[treeSigLen-1]); return b }), ErrBadSignature},
		{"signed by another key", names[2], DomainRecord, otherKey.SealBatch(DomainRecord, names, payloads)[2], ErrUnknownSigner},
		{"no payload separator", names[2], DomainRecord, s[:treeSigLen+2+hashB64Len], ErrUnsigned},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := v.Open(tc.domain, tc.bind, tc.value)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open: %v, want %v", err, tc.want)
			}
			if err == nil && !bytes.Equal(got, payloads[2]) {
				t.Fatalf("payload %q", got)
			}
		})
	}
}

// An inner node of a tree is not a value: a path that starts at a node (its two
// children as the "payload") does not verify, as leaves and nodes are hashed apart.
func TestSealBatchNodeIsNotALeaf(t *testing.T) {
	k := testSigningKey(t, 1)
	v := NewVerifier(k.Public())
	names, payloads := batchInput(4)
	sealed := k.SealBatch(DomainRecord, names, payloads)
	var l0, l1 [sha256.Size]byte
	l0 = leafHash(DomainRecord, names[0], payloads[0])
	l1 = leafHash(DomainRecord, names[1], payloads[1])
	_, _, siblings, _, _ := splitTree(sealed[0])
	// A forged value at index 0 of depth 1 whose "leaf" would be node(l0, l1) if leaves
	// were hashed like nodes: the upper sibling of value 0, and the children as payload.
	forged := append([]byte{}, sealed[0][:treeSigLen+1]...)
	forged = append(forged, '0')
	forged = append(forged, siblings[hashB64Len:]...)
	forged = append(forged, ':')
	forged = append(forged, append(l0[:], l1[:]...)...)
	if _, err := v.Open(DomainRecord, names[0], forged); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("an inner node opened as a value: %v", err)
	}
}

// The root cache only spares the signature of a root that verified with that very
// signature: a neighbour carrying a broken signature is refused even once its group's
// root is known.
func TestSealBatchRootCache(t *testing.T) {
	k := testSigningKey(t, 1)
	v := NewVerifier(k.Public())
	names, payloads := batchInput(16)
	sealed := k.SealBatch(DomainRecord, names, payloads)
	if _, err := v.Open(DomainRecord, names[0], sealed[0]); err != nil {
		t.Fatal(err)
	}
	broken := bytes.Clone(sealed[1])
	broken[treeSigLen-2] ^= 1
	if _, err := v.Open(DomainRecord, names[1], broken); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("a broken signature passed on a known root: %v", err)
	}
	if _, err := v.Open(DomainRecord, names[1], sealed[1]); err != nil {
		t.Fatalf("the good value after a broken one: %v", err)
	}
	for i := range rootCacheSize + 1 { // the cache forgets when full, and still verifies
		var root [sha256.Size]byte
		root[0], root[1] = byte(i), byte(i>>8)
		v.roots.add("x", DomainRecord, 1, &root, nil)
	}
	if n := len(v.roots.m); n > rootCacheSize {
		t.Fatalf("root cache holds %d roots, bound %d", n, rootCacheSize)
	}
	if _, err := v.Open(DomainRecord, names[5], sealed[5]); err != nil {
		t.Fatal(err)
	}
}

// The signature of a group is an ordinary Ed25519 signature over the documented message,
// so that any Ed25519 implementation can check it given the root.
func TestSealBatchSignatureMessage(t *testing.T) {
	k := testSigningKey(t, 1)
	names, payloads := batchInput(2)
	sealed := k.SealBatch(DomainRecord, names, payloads)
	l0, l1 := leafHash(DomainRecord, names[0], payloads[0]), leafHash(DomainRecord, names[1], payloads[1])
	if want := sha256.Sum256(append([]byte{0}, message(DomainRecord, names[0], payloads[0])...)); l0 != want {
		t.Fatal("a leaf is not SHA-256(0x00 ‖ the message a single seal signs)")
	}
	root := nodeHash(&l0, &l1)
	sig, err := b64.DecodeString(string(sealed[0][len(treeVersion)+1+SignerIDLen+1 : treeSigLen]))
	if err != nil {
		t.Fatal(err)
	}
	msg := append([]byte("sagate\x00s1\x00record/tree\x00\x00\x01"), root[:]...)
	if !ed25519.Verify(k.Public().key, msg, sig) {
		t.Fatal("the group's signature does not cover the documented message")
	}
}

func BenchmarkSealBatch(b *testing.B) {
	k, _ := SigningKeyFromSeed(bytes.Repeat([]byte{1}, 32))
	names, payloads := batchInput(1000)
	for b.Loop() {
		k.SealBatch(DomainRecord, names, payloads)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000)/1e3, "µs/record")
}

func BenchmarkOpenBatchSealed(b *testing.B) {
	k, _ := SigningKeyFromSeed(bytes.Repeat([]byte{1}, 32))
	v := NewVerifier(k.Public())
	names, payloads := batchInput(MaxTreeLeaves)
	sealed := k.SealBatch(DomainRecord, names, payloads)
	i := 0
	for b.Loop() {
		if _, err := v.Open(DomainRecord, names[i], sealed[i]); err != nil {
			b.Fatal(err)
		}
		i = (i + 1) % MaxTreeLeaves
	}
}

// FuzzOpenSealed: whatever Redis holds, Open never panics, and a value it accepts for a
// name carries the payload the admin sealed for that name, single or in a group (the
// fuzzer starts from both and changes bytes; a forgery would pass another payload).
func FuzzOpenSealed(f *testing.F) {
	k, _ := SigningKeyFromSeed(bytes.Repeat([]byte{1}, 32))
	v := NewVerifier(k.Public())
	names, payloads := batchInput(5)
	want := make(map[string][]byte, len(names))
	for i, n := range names {
		want[n] = payloads[i]
	}
	for _, s := range k.SealBatch(DomainRecord, names, payloads) {
		f.Add(s, 2)
	}
	f.Add(k.Seal(DomainRecord, names[2], payloads[2]), 2)
	f.Fuzz(func(t *testing.T, sealed []byte, i int) {
		name := names[(i%len(names)+len(names))%len(names)]
		got, err := v.Open(DomainRecord, name, sealed)
		if err == nil && !bytes.Equal(got, want[name]) {
			t.Fatalf("accepted payload %q for %s, sealed %q", got, name, want[name])
		}
		RecordPayload(sealed)
	})
}

// setLowBit returns the base64url character c with its lowest bit set (the last
// character of a signature carries two bits; its lowest four are unused).
func setLowBit(c byte) byte {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, c)
	return alphabet[i|1]
}
