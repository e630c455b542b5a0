package wire

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The Redis layout shared by the admin (writer) and the sidecars (readers).
// docs/protocol.md walks through the whole protocol.
const (
	// RedisKeyPrefix prefixes one record per live key: sagate:key:<sha256 hex> → JSON Record.
	RedisKeyPrefix = "sagate:key:"
	// RedisEvents is the stream of change events (XADD … MAXLEN ~ N).
	RedisEvents = "sagate:events"
	// RedisEpoch is the marker the admin's full sync writes last. Missing: Redis is
	// empty or half-filled, and a missing record means "cannot tell", not "unknown key".
	RedisEpoch = "sagate:epoch"
	// RedisLastUsed is a hash key_id → Unix milliseconds, written by sidecars, folded by the admin.
	RedisLastUsed = "sagate:lastused"
	// DefaultEventsMaxLen is the approximate length the events stream is trimmed to.
	DefaultEventsMaxLen = 100000
)

// RedisKey returns the Redis key of the record for a key hash.
func RedisKey(h KeyHash) string { return RedisKeyPrefix + h.String() }

// Record is what a sidecar needs to decide on a request, denormalised so that one GET answers it.
// State is the effective state: "deactivated" if either the key or its account is. A record
// with State "revoked" is a tombstone the writer leaves for a key that is gone (so that a
// slower writer with an older revision cannot bring it back); it never lets a request in.
// Writers only replace a record with one of an equal or higher Rev.
type Record struct {
	KeyID     string          `json:"key_id"`
	SAID      string          `json:"sa_id"`
	SA        string          `json:"sa"` // name@workspace
	Workspace string          `json:"ws"`
	State     KeyState        `json:"state"`         // active | deactivated
	Exp       int64           `json:"exp,omitempty"` // Unix milliseconds; 0: never expires
	Roles     map[string]Role `json:"roles,omitempty"`
	// RPS and Burst are the account's rate limit (RateLimit); RPS 0 (absent): none.
	// Records written before limits existed have neither, and decode unlimited.
	RPS   float64 `json:"rps,omitempty"`
	Burst int64   `json:"burst,omitempty"`
	Rev   int64   `json:"rev"` // store revision the record was computed at
}

// RateLimit is a service account's request rate limit: a token bucket that refills
// at RPS requests per second and holds at most Burst. All the keys of one account
// share it. Each sidecar enforces it on its own (see package caddymodule).
type RateLimit struct {
	RPS   float64 `json:"rps"`
	Burst int64   `json:"burst"`
}

// Limited reports whether l limits anything: RPS above 0 (the zero RateLimit is none).
func (l RateLimit) Limited() bool { return l.RPS > 0 }

// Limit returns the account's rate limit carried by the record; the zero RateLimit
// when it has none. A Burst below 1 with a rate is read as 1: the bucket must let one
// request through.
func (r *Record) Limit() RateLimit {
	if !(r.RPS > 0) {
		return RateLimit{}
	}
	return RateLimit{RPS: r.RPS, Burst: max(r.Burst, 1)}
}

// RoleFor resolves the account's role in project by the one rule, RoleIn: the higher of
// its role on project and on "*", its groups' grants already merged into Roles by the
// writer. ok is false when no grant covers the project. It allocates nothing: the
// sidecar calls it on every request.
func (r *Record) RoleFor(project string) (role Role, ok bool) { return RoleIn(r.Roles, project) }

// Live reports whether the record lets a request in at time now (ignoring roles).
func (r *Record) Live(now time.Time) bool {
	return r.State == KeyActive && (r.Exp == 0 || now.UnixMilli() < r.Exp)
}

// DecodeRecord parses a record read from Redis and checks that it is usable.
func DecodeRecord(b []byte) (Record, error) {
	r, ok := decodeRecordFast(b)
	if !ok {
		r = Record{}
		if err := json.Unmarshal(b, &r); err != nil {
			return r, fmt.Errorf("decoding key record: %w", err)
		}
	}
	if r.KeyID == "" || r.SAID == "" || r.Workspace == "" || r.SA == "" {
		return r, fmt.Errorf("decoding key record: missing identity fields")
	}
	return r, nil
}

// Event kinds.
const (
	// EventKeys: the records of Hashes changed (created, rewritten or removed).
	EventKeys = "keys"
	// EventResync: a full sync wrote a new epoch; every cached entry must go.
	EventResync = "resync"
)

// Event is one entry of the events stream. Seq is assigned by Redis atomically with
// the XADD (see publishScript), so consecutive entries have consecutive Seq: a reader
// that sees a jump, or a smaller Seq, missed events (trimmed or wiped stream).
type Event struct {
	ID     string // stream entry id
	Seq    int64
	Rev    int64 // store revision of the change
	Kind   string
	Epoch  string
	Hashes []KeyHash
	// Gone, when not nil, has one flag per hash: Gone[i] reports that the change left
	// Hashes[i] no live key and its writer sent a tombstone for it (revoked, expired or
	// deleted; a deactivated key keeps a record). A reader may then refuse the key at
	// once instead of reading the record again. Events without it (from older admins)
	// and readers that ignore it drop the hashes and read the records: the same answer,
	// one Redis round trip later.
	//
	// It rests on one invariant of the store: a key with no live record at some
	// revision never has a live one at a later revision (revocation, deletion and expiry
	// are final; reactivation issues new keys). The tombstone's write is rev-checked and
	// may be refused in favour of a newer record, but under the invariant a newer record
	// of that key is itself not live. A change that could bring a key back (an
	// "unrevoke", a longer expiry) must not be flagged gone.
	Gone []bool
	// Sig is the admin's signature of every field but Seq (SignEvent, VerifyEvent).
	Sig string
}

// publishScript appends an event with seq = the seq of the last event of the same
// signer + 1 (1 when there is none), in one atomic step. It touches only the stream key,
// so it is Redis-Cluster safe. An entry counts when its seq is a whole number below 2^50
// and its sig is a signature of the same signer as the new event's (the same "s1:<id>:"
// prefix, in a signature's shape); entries that do not (written by someone else, which
// sidecars ignore) are skipped, up to 64 back, so that such an entry does not make the
// admin's next event look like a gap in seq to every sidecar. (A copy of one of the
// admin's events still can: seq is the one field the signature does not cover.)
var publishScript = redis.NewScript(`
local signer
for i = 2, #ARGV, 2 do
  if ARGV[i] == 'sig' then signer = string.sub(ARGV[i+1], 1, 20) end
end
local function signedSeq(entry)
  local f = entry[2]
  local seq, sig
  for i = 1, #f, 2 do
    if f[i] == 'seq' then seq = tonumber(f[i+1]) elseif f[i] == 'sig' then sig = f[i+1] end
  end
  if seq == nil or sig == nil or seq < 1 or seq >= 1125899906842624 or seq ~= math.floor(seq) then
    return nil
  end
  if #sig ~= 106 or not string.find(sig, '^s1:%x+:[%w_%-]+$') then return nil end
  if signer ~= nil and string.sub(sig, 1, 20) ~= signer then return nil end
  return seq
end
local seq = 1
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #last > 0 then
  local s = signedSeq(last[1])
  if s == nil then
    last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 64)
    for _, e in ipairs(last) do
      s = signedSeq(e)
      if s ~= nil then break end
    end
  end
  if s ~= nil then seq = s + 1 end
end
local args = {'XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'seq', string.format('%d', seq)}
for i = 2, #ARGV do args[#args+1] = ARGV[i] end
local id = redis.call(unpack(args))
return {id, seq}
`)

// QueueEvent queues the publishing of e on a pipeline (or runs it on a client) and
// returns its command, whose reply is [id, seq]. maxLen ≤ 0 means DefaultEventsMaxLen.
// The script is sent with EVAL, so a script cache emptied by a Redis restart never fails it.
func QueueEvent(ctx context.Context, rdb redis.Scripter, e Event, maxLen int64) *redis.Cmd {
	if maxLen <= 0 {
		maxLen = DefaultEventsMaxLen
	}
	hs := make([]string, len(e.Hashes))
	for i, h := range e.Hashes {
		hs[i] = h.String()
	}
	args := []any{maxLen, "rev", strconv.FormatInt(e.Rev, 10), "kind", e.Kind, "epoch", e.Epoch, "h", strings.Join(hs, " ")}
	if gone := encodeGone(e.Gone, len(e.Hashes)); gone != "" {
		args = append(args, "gone", gone)
	}
	if e.Sig != "" {
		args = append(args, "sig", e.Sig)
	}
	return publishScript.Eval(ctx, rdb, []string{RedisEvents}, args...)
}

// encodeGone returns the "gone" field of an event: one '0' or '1' per hash, or "" when
// no hash is gone (or the flags do not match the hashes), so that the field is left out.
func encodeGone(gone []bool, hashes int) string {
	if len(gone) != hashes || !slices.Contains(gone, true) {
		return ""
	}
	b := make([]byte, len(gone))
	for i, g := range gone {
		b[i] = '0'
		if g {
			b[i] = '1'
		}
	}
	return string(b)
}

// decodeGone reads the "gone" field; anything but one '0' or '1' per hash is ignored
// (nil): dropping the hashes is always a correct reading of an event.
func decodeGone(f string, hashes int) []bool {
	if f == "" || len(f) != hashes {
		return nil
	}
	gone := make([]bool, hashes)
	for i := range len(f) {
		switch f[i] {
		case '0':
		case '1':
			gone[i] = true
		default:
			return nil
		}
	}
	return gone
}

// EventReply reads the [id, seq] reply of a published event.
func EventReply(cmd *redis.Cmd) (id string, seq int64, err error) {
	res, err := cmd.Slice()
	if err != nil {
		return "", 0, fmt.Errorf("publishing event: %w", err)
	}
	if len(res) != 2 {
		return "", 0, fmt.Errorf("publishing event: unexpected reply")
	}
	id, _ = res[0].(string)
	seq, _ = res[1].(int64)
	return id, seq, nil
}

// PublishEvent appends an event to the stream and returns its id and seq.
// maxLen ≤ 0 means DefaultEventsMaxLen.
func PublishEvent(ctx context.Context, rdb redis.Scripter, e Event, maxLen int64) (id string, seq int64, err error) {
	return EventReply(QueueEvent(ctx, rdb, e, maxLen))
}

// ParseEvent decodes a stream entry written by PublishEvent. An entry whose seq is bad
// is returned parsed but for Seq, with an error wrapping ErrEventSeq.
func ParseEvent(m redis.XMessage) (Event, error) {
	e := Event{ID: m.ID}
	str := func(k string) string { s, _ := m.Values[k].(string); return s }
	seq, seqErr := strconv.ParseInt(str("seq"), 10, 64)
	if seqErr == nil {
		e.Seq = seq
	}
	e.Rev, _ = strconv.ParseInt(str("rev"), 10, 64)
	e.Kind = str("kind")
	e.Epoch = str("epoch")
	for _, f := range strings.Fields(str("h")) {
		h, err := ParseKeyHash(f)
		if err != nil {
			return e, fmt.Errorf("event %s: %w", m.ID, err)
		}
		e.Hashes = append(e.Hashes, h)
	}
	e.Gone = decodeGone(str("gone"), len(e.Hashes))
	e.Sig = str("sig")
	if seqErr != nil {
		return e, fmt.Errorf("event %s: %w", m.ID, ErrEventSeq)
	}
	return e, nil
}

// ErrEventSeq is ParseEvent's error for an entry whose seq is missing or not a number.
// The rest of the entry is parsed all the same: seq is the one field the signature
// does not cover, so the entry may still verify, and a reader then knows the chain of
// seqs is broken.
var ErrEventSeq = errors.New("bad seq")
