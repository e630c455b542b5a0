package wire

import (
	"fmt"
	"strconv"
	"strings"
)

// RedisRev is the revision marker: the highest store revision whose changes Redis
// holds, sealed by the admin. Every Apply raises it after its records and before its
// event; a full sync sets it before the epoch. A sidecar that has seen a higher
// revision than the marker says knows Redis went back in time.
const RedisRev = "sagate:rev"

// SealRecord returns the sealed value of the record of key hash h.
func SealRecord(k SigningKey, h KeyHash, r Record) ([]byte, error) {
	b, err := EncodeRecord(r)
	if err != nil {
		return nil, fmt.Errorf("encoding key record: %w", err)
	}
	return k.Seal(DomainRecord, h.String(), b), nil
}

// OpenRecord verifies the sealed record of key hash h and decodes it.
func OpenRecord(v *Verifier, h KeyHash, sealed []byte) (Record, error) {
	payload, err := v.Open(DomainRecord, h.String(), sealed)
	if err != nil {
		return Record{}, fmt.Errorf("verifying key record: %w", err)
	}
	return DecodeRecord(payload)
}

// RecordPayload returns the record JSON inside a sealed value without verifying it
// (ok false when it is not sealed): for comparisons by the admin, never for decisions.
// It reads both forms, single (Seal) and in a group (SealBatch).
func RecordPayload(sealed []byte) (payload []byte, ok bool) {
	if _, payload, ok = SplitSealed(sealed); ok {
		return payload, true
	}
	_, _, _, payload, ok = splitTree(sealed)
	return payload, ok
}

// SealRecords seals the records of hashes as SealRecord does, one signature per group
// of up to MaxTreeLeaves records (SealBatch).
func SealRecords(k SigningKey, hashes []KeyHash, recs []Record) ([][]byte, error) {
	names := make([]string, len(hashes))
	payloads := make([][]byte, len(hashes))
	for i, h := range hashes {
		b, err := EncodeRecord(recs[i])
		if err != nil {
			return nil, fmt.Errorf("encoding key record: %w", err)
		}
		names[i], payloads[i] = h.String(), b
	}
	return k.SealBatch(DomainRecord, names, payloads), nil
}

// SealMarker seals the text of a marker (DomainEpoch or DomainRev).
func SealMarker(k SigningKey, domain, text string) string {
	return string(k.Seal(domain, "", []byte(text)))
}

// OpenMarker verifies a sealed marker and returns its text.
func OpenMarker(v *Verifier, domain, sealed string) (string, error) {
	payload, err := v.Open(domain, "", []byte(sealed))
	if err != nil {
		return "", fmt.Errorf("verifying the %s marker: %w", domain, err)
	}
	return string(payload), nil
}

// SealRev returns the sealed revision marker for rev.
func SealRev(k SigningKey, rev int64) string {
	return SealMarker(k, DomainRev, strconv.FormatInt(rev, 10))
}

// OpenRev verifies a sealed revision marker and returns its revision.
func OpenRev(v *Verifier, sealed string) (int64, error) {
	return openRev(v, "", sealed)
}

// openRev verifies a sealed revision marker named name ("" for RedisRev, the key for
// a shard marker) and returns its revision.
func openRev(v *Verifier, name, sealed string) (int64, error) {
	payload, err := v.Open(DomainRev, name, []byte(sealed))
	if err != nil {
		return 0, fmt.Errorf("verifying the %s marker: %w", DomainRev, err)
	}
	rev, err := strconv.ParseInt(string(payload), 10, 64)
	if err != nil || rev < 0 {
		return 0, fmt.Errorf("verifying the %s marker: not a revision", DomainRev)
	}
	return rev, nil
}

// EventSigningPayload is what an event's signature covers: every field the admin
// writes but seq, which Redis assigns.
func EventSigningPayload(e Event) []byte {
	var b strings.Builder
	b.WriteString(strconv.FormatInt(e.Rev, 10))
	b.WriteByte('\n')
	b.WriteString(e.Kind)
	b.WriteByte('\n')
	b.WriteString(e.Epoch)
	b.WriteByte('\n')
	for i, h := range e.Hashes {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(h.String())
	}
	b.WriteByte('\n')
	b.WriteString(encodeGone(e.Gone, len(e.Hashes)))
	return []byte(b.String())
}

// SignEvent sets e.Sig.
func SignEvent(k SigningKey, e *Event) {
	e.Sig = k.Sign(DomainEvent, "", EventSigningPayload(*e))
}

// VerifyEvent checks e.Sig.
func VerifyEvent(v *Verifier, e Event) error {
	if err := v.Verify(DomainEvent, "", EventSigningPayload(e), e.Sig); err != nil {
		return fmt.Errorf("verifying event %s: %w", e.ID, err)
	}
	return nil
}
