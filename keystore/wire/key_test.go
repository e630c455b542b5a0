package wire

import (
	"crypto/sha256"
	"errors"
	"hash/crc32"
	"regexp"
	"strings"
	"testing"
)

func TestGenerateKeyFormat(t *testing.T) {
	re := regexp.MustCompile("^" + KeyRegexp + "$")
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		k, err := GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		if len(k) != KeyLen {
			t.Fatalf("len = %d, want %d", len(k), KeyLen)
		}
		if !re.MatchString(k) {
			t.Fatalf("generated key does not match the published regexp")
		}
		if err := CheckKey(k); err != nil {
			t.Fatalf("CheckKey(generated) = %v", err)
		}
		if seen[k] {
			t.Fatal("duplicate key generated")
		}
		seen[k] = true
	}
}

func TestKeyFromBytesKnownValues(t *testing.T) {
	var zero, max [32]byte
	for i := range max {
		max[i] = 0xff
	}
	tests := []struct {
		name string
		raw  [32]byte
		body string
	}{
		{"zero", zero, strings.Repeat("0", 43)},
		// 2^256-1 in base62 is 43 digits long, so no padding (value computed independently).
		{"max", max, "yhjskwdA6OZ1AL1YmHWZWm8LLG7HjnuCA2j5rOw8Xp1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := keyFromBytes(tt.raw)
			if got := k[4:47]; got != tt.body {
				t.Fatalf("body = %s, want %s", got, tt.body)
			}
			if err := CheckKey(k); err != nil {
				t.Fatal(err)
			}
		})
	}
	// The whole zero key, checksum included, computed independently of this package.
	if got, want := keyFromBytes(zero), "sak_0000000000000000000000000000000000000000000135DhS"; got != want {
		t.Fatalf("zero key = %s, want %s", got, want)
	}
}

func TestCheckKey(t *testing.T) {
	good := keyFromBytes([32]byte{1, 2, 3})
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	tests := []struct {
		name string
		key  string
		want error
	}{
		{"good", good, nil},
		{"empty", "", ErrKeyLength},
		{"short", good[:52], ErrKeyLength},
		{"trailing junk", good + "x", ErrKeyLength},
		{"prefix", "sak-" + good[4:], ErrKeyPrefix},
		{"upper prefix", "SAK_" + good[4:], ErrKeyPrefix},
		{"charset", good[:10] + "-" + good[11:], ErrKeyCharset},
		{"nul", good[:10] + "\x00" + good[11:], ErrKeyCharset},
		{"non-ascii", good[:10] + "\xff" + good[11:], ErrKeyCharset},
		{"body typo", flip(good, 20), ErrKeyChecksum},
		{"checksum typo", flip(good, 50), ErrKeyChecksum},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := CheckKey(tt.key); !errors.Is(err, tt.want) {
				t.Fatalf("CheckKey = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestKeyHashRoundTrip(t *testing.T) {
	k, _ := GenerateKey()
	h := HashKey(k)
	back, err := ParseKeyHash(h.String())
	if err != nil || back != h {
		t.Fatalf("round trip failed: %v", err)
	}
	if _, err := ParseKeyHash("zz"); err == nil {
		t.Fatal("short hash accepted")
	}
	if _, err := ParseKeyHash(strings.Repeat("g", 64)); err == nil {
		t.Fatal("non-hex hash accepted")
	}
	if Last6(k) != k[47:] {
		t.Fatal("Last6 is not the last six characters")
	}
}

func TestCheckKeyAllocs(t *testing.T) {
	k, _ := GenerateKey()
	if n := testing.AllocsPerRun(100, func() { _ = CheckKey(k) }); n != 0 {
		t.Fatalf("CheckKey allocates %v times", n)
	}
}

func FuzzCheckKey(f *testing.F) {
	f.Add(keyFromBytes([32]byte{9}))
	f.Add("sak_")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		if CheckKey(s) == nil {
			if !regexp.MustCompile("^" + KeyRegexp + "$").MatchString(s) {
				t.Fatalf("accepted key that the regexp rejects")
			}
		}
	})
}

func TestCRCStringMatchesStdlib(t *testing.T) {
	tests := []string{"", "a", "sak_", "1234567", "12345678", "123456789", "sak_" + strings.Repeat("Z", 43), strings.Repeat("\xff\x00", 40)}
	for _, s := range tests {
		if got, want := crcString(s), crc32.ChecksumIEEE([]byte(s)); got != want {
			t.Errorf("crcString(%q) = %08x, want %08x", s, got, want)
		}
	}
}

func FuzzCRCString(f *testing.F) {
	f.Add("sak_0000000000000000000000000000000000000000000")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := crcString(s), crc32.ChecksumIEEE([]byte(s)); got != want {
			t.Fatalf("crcString = %08x, want %08x", got, want)
		}
	})
}

func TestHashKeyMatchesSHA256(t *testing.T) {
	k, _ := GenerateKey()
	for _, s := range []string{k, "", "short", k + k} {
		if HashKey(s) != sha256.Sum256([]byte(s)) {
			t.Errorf("HashKey differs from SHA-256 for a %d-byte input", len(s))
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = HashKey(k) }); n != 0 {
		t.Fatalf("HashKey allocates %v times for a key", n)
	}
}
