package redissync

import (
	"context"
	"fmt"
	"strconv"
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
func (s *Syncer) foldUsage(ctx context.Context) error {
	raw, err := takeUsageScript.Run(ctx, s.rdb, []string{wire.RedisLastUsed}).StringSlice()
	if err != nil {
		s.m.redisErrors.Inc()
		return fmt.Errorf("taking last-used times: %w", err)
	}
	if len(raw) == 0 {
		return nil
	}
	// Anyone who can write to Redis can write this hash: a time is never later than the
	// fold's (the store also ignores keys that are not live).
	at := now()
	uses := make(map[string]time.Time, len(raw)/2)
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
		uses[raw[i]] = t
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
