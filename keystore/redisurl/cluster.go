package redisurl

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterStateReload is how old the slot map of a cluster client may get before a
// command reloads it in the background (go-redis' default is a minute).
const clusterStateReload = time.Second

// newClusterClient is redis.NewClusterClient that follows failovers at once.
//
// go-redis reloads its slot map on MOVED and READONLY answers, and otherwise once a
// minute. A primary that was killed answers nothing: its commands fail with
// "connection refused" or a timeout, and go-redis keeps sending that primary's slots
// to it until the minute is up, although its replica took over within seconds (found
// by e2e TestClusterFailover: the admin failed every write, the sidecar kept answering
// from the dead node's pool for 10 s and more). So every command or pipeline that fails
// for another reason than a Redis answer asks for a reload (go-redis runs one at a time,
// at most one per 200 ms), and the map is reloaded every clusterStateReload anyway.
func newClusterClient(o *redis.ClusterOptions) *redis.ClusterClient {
	if o.ClusterStateReloadInterval == 0 {
		o.ClusterStateReloadInterval = clusterStateReload
	}
	c := redis.NewClusterClient(o)
	c.AddHook(reloadOnFailure{c})
	return c
}

// reloadOnFailure is the hook of newClusterClient.
type reloadOnFailure struct{ c *redis.ClusterClient }

func (h reloadOnFailure) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h reloadOnFailure) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.check(err)
		return err
	}
}

func (h reloadOnFailure) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		h.check(err)
		return err
	}
}

// check asks for a reload of the slot map when err says the node may be gone or no
// longer serve the slot.
func (h reloadOnFailure) check(err error) {
	if topologyMayHaveChanged(err) {
		h.c.ReloadState(context.Background())
	}
}

// topologyMayHaveChanged is true for errors that are not an answer of a serving
// node: the node is unreachable (dial, I/O, timeout) or says the cluster is changing.
func topologyMayHaveChanged(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, context.Canceled) {
		return false
	}
	var re redis.Error
	if errors.As(err, &re) {
		msg := re.Error()
		return strings.HasPrefix(msg, "CLUSTERDOWN") || strings.HasPrefix(msg, "TRYAGAIN") ||
			strings.HasPrefix(msg, "MOVED") || strings.HasPrefix(msg, "READONLY") || strings.HasPrefix(msg, "LOADING")
	}
	return true
}
