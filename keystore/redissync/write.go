package redissync

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/wire"
)

// Bounds of the writer (docs/protocol.md, "The admin's loop and its bounds").
const (
	// batchSize is how many keys one pipeline (and one store read) carries.
	batchSize = 1000
	// maxEventHashes is the most key hashes one event carries; larger changes are split.
	maxEventHashes = 1000
	// expirySlack: a record with an expiry is removed by Redis this long after it.
	expirySlack = time.Hour
	// minRecordTTL keeps a record whose expiry is (nearly) past for at least this long,
	// so that the sidecar, not a missing record, answers "expired".
	minRecordTTL = time.Minute
	// tombstoneTTL is how long a tombstone guards a removed key against older writers.
	tombstoneTTL = 24 * time.Hour
)

// now is the clock; tests may replace it.
var now = time.Now

// writeScript writes sealed records, refusing to replace a stored record that has a
// higher rev, so that a slower writer (or a second admin) never brings back an older
// state. The stored rev is read from the record JSON after the seal's prefix: at a fixed
// offset in a single seal (wire.SealedPrefixLen), after the path's end in a group's
// (wire.TreePathOffset); a value that does not parse there (unsigned, malformed) is
// replaced. For each KEYS[i], ARGV holds three values: the sealed record or tombstone;
// its rev; the TTL in milliseconds (0: none). It returns, per key, 1 when written and 0
// when a record with a higher rev was kept. The script cannot verify a signature: a
// forged record with a high rev is kept here and replaced by the repair (repair.go). On
// Redis Cluster it is called with one key at a time; on a single server with up to
// scriptKeys keys.
var writeScript = redis.NewScript(`
local out = {}
for i = 1, #KEYS do
  local val, rev, ttl = ARGV[3*i-2], tonumber(ARGV[3*i-1]), ARGV[3*i]
  local cur = redis.call('GET', KEYS[i])
  local old = nil
  local at = nil
  if cur and string.sub(cur, 1, 3) == 's1:' then
    at = ` + strconv.Itoa(wire.SealedPrefixLen+1) + `
  elseif cur and string.sub(cur, 1, 3) == 's2:' then
    at = string.find(cur, ':', ` + strconv.Itoa(wire.TreePathOffset+1) + `, true)
    if at then at = at + 1 end
  end
  if at then
    local ok, r = pcall(cjson.decode, string.sub(cur, at))
    if ok and type(r) == 'table' then old = r end
  end
  if old and type(old.rev) == 'number' and old.rev > rev then
    out[i] = 0
  else
    if ttl ~= '0' then
      redis.call('SET', KEYS[i], val, 'PX', ttl)
    else
      redis.call('SET', KEYS[i], val)
    end
    out[i] = 1
  end
end
return out
`)

// casScript replaces KEYS[1] only while it holds exactly ARGV[1] (compare-and-set), so
// that replacing a forged value never overwrites what a concurrent Apply wrote meanwhile.
// ARGV: the value read, the new value, the TTL in milliseconds (0: none). It returns 1
// when written.
var casScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[3] ~= '0' then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[2])
end
return 1
`)

// scriptKeys is how many keys one writeScript call carries on a single Redis server:
// enough to amortise the call, small enough that one call blocks Redis for well under a millisecond.
const scriptKeys = 50

// write is one sealed record (or tombstone) to store for a key.
type write struct {
	hash keystore.KeyHash
	val  []byte // sealed record
	tomb bool   // val is a tombstone
	rev  int64
	ttl  time.Duration // 0: no expiry
	rec  wire.Record   // the live record sealed in val (zero for a tombstone)
}

// pending is a record or tombstone to seal for a key (sealWrites).
type pending struct {
	hash keystore.KeyHash
	rec  wire.Record // with its rev set
	tomb bool
}

// pendingRecord is the pending write of live record r at rev.
func pendingRecord(h keystore.KeyHash, r wire.Record, rev int64) pending {
	r.Rev = rev
	return pending{hash: h, rec: r}
}

// pendingTomb is the pending tombstone at rev of a key gone from the store; ident is its
// identity as the store knows it (zero when the store no longer holds the key: "-").
func pendingTomb(h keystore.KeyHash, rev int64, ident wire.Record) pending {
	return pending{hash: h, rec: tombstone(ident, rev), tomb: true}
}

// group is how many records one signature covers in sealWrites (Config.SingleSeals).
func (s *Syncer) group() int {
	if s.cfg.SingleSeals {
		return 1
	}
	return wire.MaxTreeLeaves
}

// sealWrites seals ps with key, one signature per group of up to group records
// (wire.SealRecords; 1: each on its own), the groups on GOMAXPROCS goroutines when
// there are several: the signature is most of what a write costs the admin.
func sealWrites(key wire.SigningKey, ps []pending, group int, at time.Time) ([]write, error) {
	ws := make([]write, len(ps))
	groups := (len(ps) + group - 1) / group
	errs := make([]error, groups)
	parallel(groups, 1, func(g int) { // a signature per group is worth a goroutine
		lo, hi := g*group, min((g+1)*group, len(ps))
		hashes := make([]keystore.KeyHash, hi-lo)
		recs := make([]wire.Record, hi-lo)
		for i, p := range ps[lo:hi] {
			hashes[i], recs[i] = p.hash, p.rec
		}
		vals, err := wire.SealRecords(key, hashes, recs)
		if err != nil {
			errs[g] = fmt.Errorf("sealing the record of key %s: %w", recs[0].KeyID, err)
			return
		}
		for i, p := range ps[lo:hi] {
			w := write{hash: p.hash, val: vals[i], tomb: p.tomb, rev: p.rec.Rev, ttl: tombstoneTTL}
			if !p.tomb {
				w.ttl, w.rec = recordTTL(p.rec, at), p.rec
			}
			ws[lo+i] = w
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return ws, nil
}

// tombstone is the record that refuses a key: state revoked, rev, and the identity
// fields of ident, "-" where they are empty (so that it still decodes).
func tombstone(ident wire.Record, rev int64) wire.Record {
	or := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	return wire.Record{KeyID: or(ident.KeyID), SAID: or(ident.SAID), SA: or(ident.SA), Workspace: or(ident.Workspace),
		State: keystore.KeyRevoked, Rev: rev}
}

// recordTTL is how long Redis keeps r: until a little after its expiry, or forever.
func recordTTL(r wire.Record, at time.Time) time.Duration {
	if r.Exp == 0 {
		return 0
	}
	return max(time.UnixMilli(r.Exp).Add(expirySlack).Sub(at), minRecordTTL)
}

// execWrites runs ws through writeScript in one pipeline (one round trip). applied[i]
// reports whether ws[i] was written (false: a newer record was kept).
func (s *Syncer) execWrites(ctx context.Context, ws []write) (applied []bool, err error) {
	for attempt := 0; ; attempt++ {
		applied, err = s.execWritesOnce(ctx, ws)
		if attempt > 0 || !isNoScript(err) {
			return applied, err
		}
		// Redis lost its script cache (restart, SCRIPT FLUSH): load and run the batch once more.
		// Re-running is safe: every write is rev-checked.
		if err := writeScript.Load(ctx, s.rdb).Err(); err != nil {
			return nil, fmt.Errorf("loading the write script: %w", err)
		}
	}
}

func (s *Syncer) execWritesOnce(ctx context.Context, ws []write) ([]bool, error) {
	pipe := s.rdb.Pipeline()
	cmds := s.queueWrites(ctx, pipe, ws, writeScript.EvalSha)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("writing %d records: %w", len(ws), err)
	}
	s.noteWrites(ws)
	applied := make([]bool, 0, len(ws))
	for _, c := range cmds {
		res, err := c.Int64Slice()
		if err != nil {
			return nil, fmt.Errorf("writing %d records: %w", len(ws), err)
		}
		for _, n := range res {
			applied = append(applied, n == 1)
		}
	}
	if len(applied) != len(ws) {
		return nil, fmt.Errorf("writing %d records: %d results", len(ws), len(applied))
	}
	return applied, nil
}

// queueWrites queues ws on pipe as calls of writeScript made with run (its EvalSha or
// Eval): up to scriptKeys keys per call on a single server, one on a cluster, where
// every key may live in another slot.
func (s *Syncer) queueWrites(ctx context.Context, pipe redis.Pipeliner, ws []write,
	run func(context.Context, redis.Scripter, []string, ...any) *redis.Cmd) []*redis.Cmd {
	per := scriptKeys
	if _, cluster := s.rdb.(*redis.ClusterClient); cluster {
		per = 1
	}
	var cmds []*redis.Cmd
	for chunk := range slices.Chunk(ws, per) {
		keys := make([]string, len(chunk))
		args := make([]any, 0, 3*len(chunk))
		for i, w := range chunk {
			keys[i] = wire.RedisKey(w.hash)
			args = append(args, w.val, strconv.FormatInt(w.rev, 10), ttlArg(w.ttl))
		}
		cmds = append(cmds, run(ctx, pipe, keys, args...))
	}
	return cmds
}

// ttlArg is a TTL as the scripts take it: milliseconds, "0" for none.
func ttlArg(ttl time.Duration) string { return strconv.FormatInt(ttl.Milliseconds(), 10) }

func isNoScript(err error) bool {
	return errors.Is(err, redis.ErrNoScript) || redis.HasErrorPrefix(err, "NOSCRIPT")
}

// stored is what Redis holds for one key.
type stored struct {
	raw []byte // the sealed value; nil: no record
	rec wire.Record
	ok  bool // raw has the sealed form and its payload decodes (not verified)
}

// readRecords reads the records of hashes in one pipeline; their seals are not verified.
func (s *Syncer) readRecords(ctx context.Context, hashes []keystore.KeyHash) ([]stored, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(hashes))
	for i, h := range hashes {
		cmds[i] = pipe.Get(ctx, wire.RedisKey(h))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("reading %d records: %w", len(hashes), err)
	}
	out := make([]stored, len(hashes))
	for i, c := range cmds {
		b, err := c.Bytes()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading %d records: %w", len(hashes), err)
		}
		out[i].raw = b
		if p, ok := wire.RecordPayload(b); ok {
			if r, err := wire.DecodeRecord(p); err == nil {
				out[i].ok, out[i].rec = true, r
			}
		}
	}
	return out, nil
}

// sameRecord compares two records as a sidecar sees them: every field but Rev.
func sameRecord(a, b wire.Record) bool {
	a.Rev, b.Rev = 0, 0
	if len(a.Roles) == 0 && len(b.Roles) == 0 {
		a.Roles, b.Roles = nil, nil
	}
	return reflect.DeepEqual(a, b)
}
