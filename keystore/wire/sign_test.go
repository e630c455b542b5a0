package wire

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testSigningKey(t *testing.T, b byte) SigningKey {
	t.Helper()
	k, err := SigningKeyFromSeed(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	k := testSigningKey(t, 1)
	other := testSigningKey(t, 2)
	v := NewVerifier(k.Public())
	payload := []byte(`{"key_id":"key_1"}`)
	sealed := k.Seal(DomainRecord, "aa", payload)
	if len(sealed) != SealedPrefixLen+len(payload) {
		t.Fatalf("sealed length %d, want %d", len(sealed), SealedPrefixLen+len(payload))
	}
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)-2] ^= 1
	badSig := bytes.Clone(sealed)
	badSig[SignatureLen-1] = 'A' + (badSig[SignatureLen-1]-'A'+1)%26

	for _, tc := range []struct {
		name         string
		domain, bind string
		value        []byte
		want         error
	}{
		{"good", DomainRecord, "aa", sealed, nil},
		{"other name", DomainRecord, "bb", sealed, ErrBadSignature},
		{"other domain", DomainEvent, "aa", sealed, ErrBadSignature},
		{"payload changed", DomainRecord, "aa", flipped, ErrBadSignature},
		{"signature changed", DomainRecord, "aa", badSig, ErrBadSignature},
		{"signature's unused bits set", DomainRecord, "aa", func() []byte {
			b := bytes.Clone(sealed)
			b[SignatureLen-1] = setLowBit(b[SignatureLen-1])
			return b
		}(), ErrBadSignature},
		{"unsigned JSON", DomainRecord, "aa", payload, ErrUnsigned},
		{"empty", DomainRecord, "aa", nil, ErrUnsigned},
		{"untrusted signer", DomainRecord, "aa", other.Seal(DomainRecord, "aa", payload), ErrUnknownSigner},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := v.Open(tc.domain, tc.bind, tc.value)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open: %v, want %v", err, tc.want)
			}
			if err == nil && !bytes.Equal(got, payload) {
				t.Fatalf("payload %q, want %q", got, payload)
			}
		})
	}
}

func TestVerifierRotation(t *testing.T) {
	old, cur := testSigningKey(t, 1), testSigningKey(t, 2)
	v := NewVerifier(old.Public(), cur.Public())
	for _, k := range []SigningKey{old, cur} {
		if err := v.Verify(DomainEvent, "", []byte("x"), k.Sign(DomainEvent, "", []byte("x"))); err != nil {
			t.Fatalf("key %s: %v", k.ID(), err)
		}
	}
	if v.Len() != 2 {
		t.Fatalf("Len %d", v.Len())
	}
}

func TestKeyText(t *testing.T) {
	k := testSigningKey(t, 3)
	text, err := k.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseSigningKey(append(text, '\n'))
	if err != nil || back.ID() != k.ID() {
		t.Fatalf("ParseSigningKey: %v, id %s want %s", err, back.ID(), k.ID())
	}
	pub, err := ParsePublicKey(k.Public().String())
	if err != nil || pub.ID() != k.ID() || len(k.ID()) != SignerIDLen {
		t.Fatalf("ParsePublicKey: %v, id %q want %q", err, pub.ID(), k.ID())
	}
	for _, bad := range []string{"", "sagate-ed25519:", "sagate-ed25519:!!", string(text), "ssh-ed25519 AAAA"} {
		if _, err := ParsePublicKey(bad); err == nil {
			t.Errorf("ParsePublicKey(%.20q) accepted", bad)
		}
	}
	for _, bad := range []string{"", k.Public().String(), privateKeyPrefix + "AAAA"} {
		if _, err := ParseSigningKey([]byte(bad)); err == nil {
			t.Errorf("ParseSigningKey(%.20q) accepted", bad)
		}
	}
	if (SigningKey{}).Valid() || !k.Valid() {
		t.Fatal("Valid")
	}
}

func TestLoadSigningKeyRefusesOpenFile(t *testing.T) {
	k := testSigningKey(t, 4)
	text, _ := k.MarshalText()
	dir := t.TempDir()
	private := filepath.Join(dir, "private.key")
	open := filepath.Join(dir, "open.key")
	if err := os.WriteFile(private, text, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(open, text, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := LoadSigningKey(private); err != nil || got.ID() != k.ID() {
		t.Fatalf("LoadSigningKey: %v", err)
	}
	_, err := LoadSigningKey(open)
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("LoadSigningKey of a 0644 file: %v", err)
	}
	if strings.Contains(err.Error(), string(text)) {
		t.Fatal("error quotes the key")
	}
}

func BenchmarkVerifyRecord(b *testing.B) {
	k, _ := SigningKeyFromSeed(bytes.Repeat([]byte{5}, 32))
	v := NewVerifier(k.Public())
	sealed := k.Seal(DomainRecord, strings.Repeat("ab", 32), []byte(`{"key_id":"key_01","sa_id":"sa_01","sa":"ci@ml","ws":"ml","state":"active","roles":{"*":"viewer"},"rev":42}`))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Open(DomainRecord, strings.Repeat("ab", 32), sealed); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignRecord(b *testing.B) {
	k, _ := SigningKeyFromSeed(bytes.Repeat([]byte{5}, 32))
	payload := []byte(`{"key_id":"key_01","sa_id":"sa_01","sa":"ci@ml","ws":"ml","state":"active","roles":{"*":"viewer"},"rev":42}`)
	b.ReportAllocs()
	for b.Loop() {
		_ = k.Seal(DomainRecord, strings.Repeat("ab", 32), payload)
	}
}
