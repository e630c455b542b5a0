package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/keystore/wire"
)

// markerState is what Redis holds of sagate's signed state, verified.
type markerState struct {
	epoch string // text of the epoch marker
	rev   int64  // revision of the revision marker
}

// signatureChecks verifies the epoch and revision markers (and a Cluster's shard
// markers) and the newest event with ver, and checks that the events stream keeps up
// with the revision marker.
func signatureChecks(ctx context.Context, rdb redis.UniversalClient, tk *trustedKeys, role string, redisTime time.Time) []check {
	fix := fixPublicKey
	if role == roleAdmin {
		fix = "another admin writes this Redis with another signing key: give every admin the same --signing-key-file (one key, copied to each)"
	}
	c := check{Name: "signatures"}
	st, err := readMarkers(ctx, rdb, tk)
	shards := 0
	if err == nil {
		shards, err = verifyShardMarkers(ctx, rdb, tk)
	}
	if err != nil {
		c.Status, c.Detail, c.Fix = statusFail, err.Error(), fix
		if errors.Is(err, errNoMarker) {
			c.Fix = fixNoAdmin
		}
		return []check{c}
	}
	c.Status = statusOK
	c.Detail = fmt.Sprintf("epoch and revision markers verify (revision %d", st.rev)
	if shards > 0 {
		c.Detail += fmt.Sprintf(", %d shard markers", shards)
	}
	c.Detail += ")"
	return []check{c, eventsCheck(ctx, rdb, tk, st, redisTime)}
}

// errNoMarker is the error of a missing marker: no admin has written this Redis.
var errNoMarker = errors.New("marker missing: no admin has written this Redis since it started empty")

// readMarkers reads and verifies the epoch and revision markers.
func readMarkers(ctx context.Context, rdb redis.UniversalClient, tk *trustedKeys) (markerState, error) {
	ver := tk.ver
	ctx, cancel := bounded(ctx)
	defer cancel()
	var st markerState
	sealed, err := rdb.Get(ctx, wire.RedisEpoch).Result()
	if err != nil {
		return st, markerError(wire.RedisEpoch, err)
	}
	if st.epoch, err = wire.OpenMarker(ver, wire.DomainEpoch, sealed); err != nil {
		return st, signerError(wire.RedisEpoch, sealed, tk, err)
	}
	sealed, err = rdb.Get(ctx, wire.RedisRev).Result()
	if err != nil {
		return st, markerError(wire.RedisRev, err)
	}
	if st.rev, err = wire.OpenRev(ver, sealed); err != nil {
		return st, signerError(wire.RedisRev, sealed, tk, err)
	}
	return st, nil
}

// verifyShardMarkers verifies every shard marker of a Cluster and returns how many there
// are (0 on any other Redis).
func verifyShardMarkers(ctx context.Context, rdb redis.UniversalClient, tk *trustedKeys) (int, error) {
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		return 0, nil
	}
	ctx, cancel := bounded(ctx)
	defer cancel()
	shards, err := wire.LoadShards(ctx, cc)
	if err != nil {
		return 0, fmt.Errorf("reading the cluster's shards: %w", err)
	}
	for _, key := range shards.Keys() {
		sealed, err := rdb.Get(ctx, key).Result()
		if err != nil {
			return 0, markerError(key, err)
		}
		if _, err := wire.OpenShardRev(tk.ver, key, sealed); err != nil {
			return 0, signerError(key, sealed, tk, err)
		}
	}
	return shards.Len(), nil
}

// markerError says why a marker could not be read.
func markerError(key string, err error) error {
	if errors.Is(err, redis.Nil) {
		return fmt.Errorf("%s: %w", key, errNoMarker)
	}
	return fmt.Errorf("reading %s: %w", key, err)
}

// signerError says why a sealed value did not verify, naming its signer and the
// trusted ones (ids of public keys, never keys or signatures).
func signerError(key, sealed string, tk *trustedKeys, err error) error {
	if errors.Is(err, wire.ErrUnknownSigner) {
		return fmt.Errorf("%s is signed by key %s, which is not among the configured public keys (%s)", key, signerOf(sealed), strings.Join(tk.ids, ", "))
	}
	return fmt.Errorf("%s does not verify: %w", key, err)
}

// signerOf returns the signer id of a sealed value ("?" when it is not sealed).
func signerOf(sealed string) string {
	// s1:<signer id>:…
	if len(sealed) < 3+wire.SignerIDLen || !strings.HasPrefix(sealed, "s1:") {
		return "?"
	}
	return sealed[3 : 3+wire.SignerIDLen]
}

// eventsCheck verifies the newest event and checks that the stream has caught up with
// the revision marker and the epoch: sidecars drop changed keys from their caches only
// when the event arrives.
func eventsCheck(ctx context.Context, rdb redis.UniversalClient, tk *trustedKeys, st markerState, redisTime time.Time) check {
	ver := tk.ver
	c := check{Name: "events"}
	deadline := time.Now().Add(eventsCatchUp)
	for {
		e, err := newestEvent(ctx, rdb)
		switch {
		case err != nil:
			c.Status, c.Detail = statusFail, err.Error()
			c.Fix = fixNoAdmin
			return c
		}
		if err := wire.VerifyEvent(ver, e); err != nil {
			c.Status, c.Detail, c.Fix = statusFail, err.Error(), fixPublicKey
			return c
		}
		behind := e.Rev < st.rev || e.Epoch != st.epoch
		if behind && time.Now().Before(deadline) {
			select {
			case <-ctx.Done():
				return check{Name: "events", Status: statusFail, Detail: ctx.Err().Error()}
			case <-time.After(100 * time.Millisecond):
			}
			if st2, err := readMarkers(ctx, rdb, tk); err == nil {
				st = st2
			}
			continue
		}
		age := ""
		if ms, _, ok := strings.Cut(e.ID, "-"); ok && !redisTime.IsZero() {
			if n, err := strconv.ParseInt(ms, 10, 64); err == nil {
				age = fmt.Sprintf(", written %s ago", redisTime.Sub(time.UnixMilli(n)).Round(time.Second))
			}
		}
		c.Detail = fmt.Sprintf("newest event seq %d at revision %d%s; revision marker %d", e.Seq, e.Rev, age, st.rev)
		if behind {
			c.Status = statusFail
			c.Detail = "the events stream lags: " + c.Detail
			if e.Epoch != st.epoch {
				c.Detail += "; its epoch is not the current one"
			}
			c.Fix = "sidecars keep changed keys cached until their event arrives: look for failed Redis writes in the admins' logs; restarting an admin runs a full sync, which appends a resync event"
			return c
		}
		c.Status = statusOK
		return c
	}
}

// newestEvent reads the newest entry of the events stream.
func newestEvent(ctx context.Context, rdb redis.UniversalClient) (wire.Event, error) {
	ctx, cancel := bounded(ctx)
	defer cancel()
	msgs, err := rdb.XRevRangeN(ctx, wire.RedisEvents, "+", "-", 1).Result()
	if err != nil {
		return wire.Event{}, fmt.Errorf("reading %s: %w", wire.RedisEvents, err)
	}
	if len(msgs) == 0 {
		return wire.Event{}, fmt.Errorf("%s is empty: no admin has written this Redis since it started empty", wire.RedisEvents)
	}
	return wire.ParseEvent(msgs[0])
}
