package keycache

import (
	"context"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sagate/sagate/keystore/wire"
)

// TestRefusalsAreLoggedRateLimited: one warning per kind per interval, naming
// neither the value nor the key's hash.
func TestRefusalsAreLoggedRateLimited(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	e := newEnv(t, envOpts{cfg: Config{Logger: zap.New(core)}})
	hs := []wire.KeyHash{newHash(t), newHash(t), newHash(t)}
	for _, h := range hs {
		e.setRaw(wire.RedisKey(h), []byte(`{"key_id":"forged-id","sa_id":"sa","sa":"x@y","ws":"y","state":"active","rev":1}`))
		_, _, _ = e.cache.Lookup(context.Background(), h, testPolicy)
	}
	warned := logs.FilterMessageSnippet("not signed by a trusted key").All()
	if len(warned) != 1 {
		t.Fatalf("%d warnings for 3 refused records in a row, want 1", len(warned))
	}
	e.clock.Advance(sigWarnEvery)
	_, _, _ = e.cache.Lookup(context.Background(), hs[0], testPolicy)
	if n := logs.FilterMessageSnippet("not signed by a trusted key").Len(); n != 2 {
		t.Fatalf("%d warnings after the interval, want 2", n)
	}
	for _, entry := range logs.All() {
		text := entry.Message
		for k, v := range entry.ContextMap() {
			text += " " + k + "=" + strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(toString(v), "\n", " "), "\t", " "))
		}
		for _, h := range hs {
			if strings.Contains(text, h.String()) || strings.Contains(text, "forged-id") {
				t.Fatalf("log line quotes the value or the hash: %s", text)
			}
		}
	}
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if err, ok := v.(error); ok {
		return err.Error()
	}
	return ""
}

// The CPU cost of trusting one record on the miss path, without Redis: an Ed25519
// verification (a record seen for the first time) against a verdict found (a record
// seen again: SHA-256 of key and value, table probe). Both decode the record.
// Run: go test -run '^$' -bench OpenRecord -benchmem ./keystore/keycache/
func BenchmarkOpenRecord(b *testing.B) {
	e := newEnv(b, envOpts{noStart: true})
	h := newHash(b)
	sealed := e.sealFor(h, activeRecord())
	b.Run("verify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := wire.OpenRecord(e.cache.cfg.Verifier, h, sealed); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("verdict", func(b *testing.B) {
		if _, err := e.cache.openRecord(h, sealed); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.cache.openRecord(h, sealed); err != nil {
				b.Fatal(err)
			}
		}
	})
}
