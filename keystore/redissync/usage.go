package redissync

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/sagate/sagate/keystore/wire"
)

// takeUsageScript reads and deletes the last-used hash in one atomic step, so that a
// time a sidecar reports meanwhile lands in a new hash and is folded next time.
// One key: Redis-Cluster safe (a RENAME to a temporary key would cross slots).
var takeUsageScript = redis.NewScript(`
local v = redis.call('HGETALL', KEYS[1])
if #v > 0 then redis.call('DEL', KEYS[1]) end
return v
`)

// putBackUsageScript merges times back into the hash, keeping the later of the stored
// and the given time for each key id. ARGV: key id, unix ms, key id, unix ms, ...
var putBackUsageScript = redis.NewScript(`
for i = 1, #ARGV, 2 do
  local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0') or 0
  if tonumber(ARGV[i+1]) > cur then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i+1]) end
end
return 1
`)

// foldUsage moves the sidecars' last-used times from Redis into the store. When the
// store refuses them they are put back, so nothing is lost but a time that a crash
// between the take and the store write drops (last-used times are advisory).
//
// The uses of sak_ keys against the admin itself (NoteKeyUse) are folded with them;
// when Redis cannot be read they are written alone, or kept for the next fold.
func (s *Syncer) foldUsage(ctx context.Context) error {
	uses := s.adminUses.take()
	raw, err := takeUsageScript.Run(ctx, s.rdb, []string{wire.RedisLastUsed}).StringSlice()
	if err != nil {
		s.m.redisErrors.Inc()
		if len(uses) > 0 {
			if rerr := s.src.RecordKeyUse(ctx, uses); rerr != nil {
				s.adminUses.keep(uses)
			}
		}
		return fmt.Errorf("taking last-used times: %w", err)
	}
	if len(raw) == 0 && len(uses) == 0 {
		return nil
	}
	// Anyone who can write to Redis can write this hash: a time is never later than the
	// fold's (the store also clamps it to the key's revocation and expiry).
	at := now()
	bad := 0
	for i := 0; i+1 < len(raw); i += 2 {
		ms, err := strconv.ParseInt(raw[i+1], 10, 64)
		if err != nil || ms <= 0 || raw[i] == "" {
			bad++ // written by something other than a sidecar: dropped
			continue
		}
		t := time.UnixMilli(ms)
		if t.After(at) {
			t = at
		}
		if t.After(uses[raw[i]]) {
			uses[raw[i]] = t
		}
	}
	if bad > 0 {
		s.log.Warn("redis sync: dropped malformed last-used entries", zap.Int("entries", bad))
	}
	if len(uses) == 0 {
		return nil
	}
	if err := s.src.RecordKeyUse(ctx, uses); err != nil {
		args := make([]any, 0, 2*len(uses))
		for id, t := range uses {
			args = append(args, id, strconv.FormatInt(t.UnixMilli(), 10))
		}
		if perr := putBackUsageScript.Run(ctx, s.rdb, []string{wire.RedisLastUsed}, args...).Err(); perr != nil {
			s.m.redisErrors.Inc()
			return fmt.Errorf("recording %d last-used times: %w (putting them back in redis: %v)", len(uses), err, perr)
		}
		return fmt.Errorf("recording %d last-used times: %w", len(uses), err)
	}
	return nil
}

// NoteKeyUse records that the sak_ key keyID was used against the admin at at; the next
// fold writes it with the sidecars' reports, one write per key however many calls
// (keystore.KeyUseNoter). Cheap: a map under a mutex.
func (s *Syncer) NoteKeyUse(keyID string, at time.Time) { s.adminUses.note(keyID, at) }

// adminUses is a set of key uses, the latest time per key id; safe for concurrent use.
type adminUses struct {
	mu   sync.Mutex
	uses map[string]time.Time
}

// note keeps at for keyID if it is later than the one held.
func (u *adminUses) note(keyID string, at time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.uses == nil {
		u.uses = make(map[string]time.Time)
	}
	if at.After(u.uses[keyID]) {
		u.uses[keyID] = at
	}
}

// take returns the uses held (never nil) and empties the set.
func (u *adminUses) take() map[string]time.Time {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := u.uses
	u.uses = nil
	if out == nil {
		out = make(map[string]time.Time)
	}
	return out
}

// keep puts uses that could not be written back, for the next fold.
func (u *adminUses) keep(uses map[string]time.Time) {
	for id, at := range uses {
		u.note(id, at)
	}
}
