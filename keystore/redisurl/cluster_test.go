package redisurl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// redisErr is an error as a Redis server answers it.
type redisErr string

func (e redisErr) Error() string { return string(e) }
func (redisErr) RedisError()     {}

func TestTopologyMayHaveChanged(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{redis.Nil, false},
		{context.Canceled, false},
		{redisErr("ERR wrong number of arguments"), false},
		{redisErr("NOSCRIPT No matching script"), false},
		{refused, true},
		{fmt.Errorf("writing 1 records: %w", refused), true},
		{context.DeadlineExceeded, true},
		{errors.New("EOF"), true},
		{redisErr("CLUSTERDOWN The cluster is down"), true},
		{redisErr("MOVED 3999 127.0.0.1:6381"), true},
		{redisErr("READONLY You can't write against a read only replica."), true},
		{redisErr("TRYAGAIN Multiple keys request during rehashing of slot"), true},
		{redisErr("LOADING Redis is loading the dataset in memory"), true},
	}
	for _, tt := range tests {
		if got := topologyMayHaveChanged(tt.err); got != tt.want {
			t.Errorf("topologyMayHaveChanged(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestClusterClientReloadsEverySecond(t *testing.T) {
	o, err := Parse("redis+cluster://127.0.0.1:7000?addr=127.0.0.1:7001")
	if err != nil {
		t.Fatal(err)
	}
	o.Cluster.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	c := o.Client()
	defer c.Close()
	if got := o.Cluster.ClusterStateReloadInterval; got != clusterStateReload {
		t.Fatalf("ClusterStateReloadInterval = %v, want %v", got, clusterStateReload)
	}
}
