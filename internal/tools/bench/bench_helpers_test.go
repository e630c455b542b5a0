package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sagate/sagate/keystore"
)

func TestPercentile(t *testing.T) {
	ms := func(vs ...int) []time.Duration {
		ds := make([]time.Duration, len(vs))
		for i, v := range vs {
			ds[i] = time.Duration(v) * time.Millisecond
		}
		return ds
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // reversed: Percentile must sort
	}
	for _, tc := range []struct {
		name string
		ds   []time.Duration
		p    float64
		want time.Duration
	}{
		{"empty", nil, 99, 0},
		{"one", ms(7), 50, 7 * time.Millisecond},
		{"median of odd", ms(3, 1, 2), 50, 2 * time.Millisecond},
		{"median of even takes the lower", ms(4, 1, 3, 2), 50, 2 * time.Millisecond},
		{"p99 of 100", ms(hundred...), 99, 99 * time.Millisecond},
		{"p100 is the max", ms(hundred...), 100, 100 * time.Millisecond},
		{"p99 of 50 is the max", ms(hundred[:50]...), 99, 100 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Percentile(tc.ds, tc.p); got != tc.want {
				t.Errorf("Percentile(p%v) = %v, want %v", tc.p, got, tc.want)
			}
		})
	}
}

func TestParseStatTicks(t *testing.T) {
	for _, tc := range []struct {
		name    string
		stat    string
		want    int64
		wantErr bool
	}{
		{"plain", "1234 (caddy) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 12 0 999", 325, false},
		{"name with spaces and parens", "77 (my (odd) name) R 1 77 77 0 -1 0 0 0 0 0 3 4 0 0", 7, false},
		{"truncated", "77 (x) R 1 2 3", 0, true},
		{"no name", "77 x R", 0, true},
		{"not a number", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 ab 4 0 0", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatTicks([]byte(tc.stat))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("parseStatTicks = %d, %v; want %d, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestCPUTicksOfThisProcess(t *testing.T) {
	var sink int
	for i := range 20_000_000 { // burn a little CPU so that the counter is not zero
		sink += i % 7
	}
	got, err := CPUTicks(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if got < 0 || sink < 0 {
		t.Errorf("CPUTicks = %d, want ≥ 0", got)
	}
	if _, err := CPUTicks(-1); err == nil {
		t.Error("CPUTicks(-1): want an error")
	}
}

func TestParseStatus(t *testing.T) {
	const ok = "Name:\tcaddy\nVmPeak:\t 9 kB\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\nRssAnon:\t 768 kB\nRssFile:\t 256 kB\nThreads:\t9\n"
	for _, tc := range []struct {
		name    string
		text    string
		want    Memory
		wantErr bool
	}{
		{"all", ok, Memory{RSS: 1 << 20, PeakRSS: 2 << 20, RSSAnon: 768 << 10, RSSFile: 256 << 10}, false},
		{"no split", "VmRSS:\t 1 kB\nVmHWM:\t 2 kB\n", Memory{RSS: 1 << 10, PeakRSS: 2 << 10}, false},
		{"missing HWM", "VmRSS:\t 1 kB\n", Memory{}, true},
		{"other unit", "VmRSS:\t 1 MB\nVmHWM:\t 1 kB\n", Memory{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatus([]byte(tc.text))
			if (err != nil) != tc.wantErr || (!tc.wantErr && got != tc.want) {
				t.Errorf("parseStatus = %+v, %v; want %+v, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
	m, err := ReadMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS <= 0 || m.PeakRSS < m.RSS {
		t.Errorf("ReadMemory(self) = %+v, want 0 < RSS ≤ PeakRSS", m)
	}
}

func TestKeysFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	var keys []IssuedKey
	for i := range 3 {
		k, err := keystore.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, IssuedKey{ID: "key_" + string(rune('a'+i)), Key: k})
	}
	path := filepath.Join(dir, "keys")
	if err := WriteKeys(path, keys); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("keys file mode: %v %v, want 0600", fi.Mode(), err)
	}
	got, err := ReadKeys(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(keys) {
		t.Fatalf("read %d keys, want %d", len(got), len(keys))
	}
	for i := range keys {
		if got[i] != keys[i] {
			t.Errorf("key %d differs after the round trip", i)
		}
	}

	k0 := keys[0].Key
	last := byte('0')
	if k0[len(k0)-1] == last {
		last = '1'
	}
	typo := k0[:len(k0)-1] + string(last) // one character changed: the checksum fails
	for _, tc := range []struct{ name, text, wantErr string }{
		{"empty", "\n\n", "holds no key"},
		{"no tab", "key_a " + keys[0].Key + "\n", "line 1: want id<TAB>key"},
		{"bad checksum", "key_a\t" + typo + "\n", "line 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			if err := os.WriteFile(p, []byte(tc.text), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := ReadKeys(p)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("ReadKeys: %v, want an error with %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "sak_") {
				t.Errorf("error names a key: %v", err)
			}
		})
	}
	if _, err := ReadKeys(filepath.Join(dir, "absent")); err == nil {
		t.Error("ReadKeys of a missing file: want an error")
	}
}
