package wire

import (
	"errors"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestSealedRecordIsBoundToItsKey(t *testing.T) {
	k := testSigningKey(t, 7)
	v := NewVerifier(k.Public())
	h1, h2 := HashKey("one"), HashKey("two")
	r := Record{KeyID: "key_1", SAID: "sa_1", SA: "ci@ml", Workspace: "ml", State: KeyActive, Roles: map[string]Role{"*": RoleOwner}, Rev: 3}
	sealed, err := SealRecord(k, h1, r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := OpenRecord(v, h1, sealed)
	if err != nil || got.KeyID != "key_1" || got.Rev != 3 || got.Roles["*"] != RoleOwner {
		t.Fatalf("OpenRecord: %+v, %v", got, err)
	}
	if _, err := OpenRecord(v, h2, sealed); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("a record moved to another key: %v", err)
	}
	payload, ok := RecordPayload(sealed)
	if !ok || !strings.HasPrefix(string(payload), `{"key_id":"key_1"`) {
		t.Fatalf("RecordPayload: %q %v", payload, ok)
	}
	forged, _ := EncodeRecord(r)
	if _, err := OpenRecord(v, h1, forged); !errors.Is(err, ErrUnsigned) {
		t.Fatalf("an unsigned record: %v", err)
	}
}

func TestMarkers(t *testing.T) {
	k := testSigningKey(t, 8)
	v := NewVerifier(k.Public())
	rev, err := OpenRev(v, SealRev(k, 42))
	if err != nil || rev != 42 {
		t.Fatalf("OpenRev: %d, %v", rev, err)
	}
	if _, err := OpenRev(v, SealMarker(k, DomainEpoch, "42")); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("an epoch read as a rev: %v", err)
	}
	if _, err := OpenRev(v, SealMarker(k, DomainRev, "x")); err == nil {
		t.Fatal("a rev marker that is not a number was accepted")
	}
	if _, err := OpenMarker(v, DomainEpoch, "1700000000000-0123456789abcdef"); !errors.Is(err, ErrUnsigned) {
		t.Fatalf("an unsigned epoch: %v", err)
	}
}

// TestEventSignatureSurvivesTheStream signs an event, writes it as QueueEvent does and
// reads it back as ParseEvent does: the signature verifies, and a changed field breaks it.
func TestEventSignatureSurvivesTheStream(t *testing.T) {
	k := testSigningKey(t, 9)
	v := NewVerifier(k.Public())
	e := Event{Rev: 7, Kind: EventKeys, Epoch: "1-00", Hashes: []KeyHash{HashKey("a"), HashKey("b")}, Gone: []bool{true, false}}
	SignEvent(k, &e)
	hs := []string{e.Hashes[0].String(), e.Hashes[1].String()}
	values := map[string]any{"seq": "5", "rev": "7", "kind": EventKeys, "epoch": "1-00", "h": strings.Join(hs, " "), "gone": "10", "sig": e.Sig}
	got, err := ParseEvent(redis.XMessage{ID: "1-1", Values: values})
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyEvent(v, got); err != nil {
		t.Fatalf("VerifyEvent: %v", err)
	}
	for field, val := range map[string]string{"gone": "11", "rev": "8", "kind": EventResync, "h": hs[1] + " " + hs[0], "sig": ""} {
		m := map[string]any{}
		for k, x := range values {
			m[k] = x
		}
		m[field] = val
		ev, err := ParseEvent(redis.XMessage{ID: "1-1", Values: m})
		if err != nil {
			t.Fatalf("%s: %v", field, err)
		}
		if err := VerifyEvent(v, ev); err == nil {
			t.Errorf("event with %s changed verified", field)
		}
	}
}
