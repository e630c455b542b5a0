package redissync

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/keystore"
)

// raiseRevScript sets the revision marker KEYS[1] to the sealed ARGV[1], of revision
// ARGV[2], unless it holds a revision at least as high; the stored revision is read
// after the seal's prefix. It returns 1 when written.
var raiseRevScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local r = tonumber(string.sub(cur, ` + strconv.Itoa(keystore.SealedPrefixLen+1) + `))
  if r and r >= tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
`)

// queueRaiseRev queues on pipe the raise of the revision marker to rev.
func (s *Syncer) queueRaiseRev(ctx context.Context, pipe redis.Pipeliner, rev int64) *redis.Cmd {
	return raiseRevScript.Eval(ctx, pipe, []string{keystore.RedisRev}, keystore.SealRev(s.key, rev), strconv.FormatInt(rev, 10))
}

// raiseRev raises the revision marker to rev (a marker already higher stays).
func (s *Syncer) raiseRev(ctx context.Context, rev int64) error {
	pipe := s.rdb.Pipeline()
	cmd := s.queueRaiseRev(ctx, pipe, rev)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("raising the revision marker: %w", err)
	}
	return cmd.Err()
}

// markers is what the periodic check reads: the epoch and revision markers, then the
// store's revision (in that order, so that a marker this admin wrote is never above it).
type markers struct {
	epoch string // the epoch's text; "" when missing or not verifying
	// rev is the revision marker's revision; revOK is false when the marker is missing,
	// does not verify, or is above the store's revision (a forgery).
	rev      int64
	revOK    bool
	revSeen  bool // Redis held a revision marker, valid or not
	storeRev int64
}

// readMarkers reads both markers in one round trip, then the store's revision.
func (s *Syncer) readMarkers(ctx context.Context) (markers, error) {
	pipe := s.rdb.Pipeline()
	ec := pipe.Get(ctx, keystore.RedisEpoch)
	rc := pipe.Get(ctx, keystore.RedisRev)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return markers{}, fmt.Errorf("reading the markers: %w", err)
	}
	var m markers
	m.epoch = s.openEpoch(ec.Val())
	s.noteEpoch(m.epoch)
	storeRev, err := s.src.Revision(ctx)
	if err != nil {
		return markers{}, err
	}
	m.storeRev = storeRev
	m.rev, m.revOK, m.revSeen = s.openRev(rc.Val(), storeRev)
	return m, nil
}

// openRev checks a sealed revision marker against the store's revision: ok is false
// when it is missing, does not verify, or is above storeRev; seen, when it is present.
func (s *Syncer) openRev(sealed string, storeRev int64) (rev int64, ok, seen bool) {
	if sealed == "" {
		return 0, false, false
	}
	rev, err := keystore.OpenRev(s.ver, sealed)
	if err != nil || rev > storeRev {
		s.m.forged.WithLabelValues("rev").Inc()
		return 0, false, true
	}
	return rev, true, true
}

// setRevMarker makes the revision marker at least rev, replacing one that does not
// verify or is above the store's revision with a compare-and-set on the value read (a
// concurrent raise by an Apply is never undone).
func (s *Syncer) setRevMarker(ctx context.Context, rev int64) error {
	for range 3 {
		cur, err := s.rdb.Get(ctx, keystore.RedisRev).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("reading the revision marker: %w", err)
		}
		storeRev, err := s.src.Revision(ctx)
		if err != nil {
			return err
		}
		if _, ok, seen := s.openRev(cur, storeRev); ok || !seen {
			return s.raiseRev(ctx, rev)
		}
		done, err := casScript.Run(ctx, s.rdb, []string{keystore.RedisRev}, cur, keystore.SealRev(s.key, rev), "0").Int()
		if err != nil {
			return fmt.Errorf("replacing the revision marker: %w", err)
		}
		if done == 1 {
			return nil
		}
	}
	return errors.New("replacing the revision marker: it kept changing")
}
