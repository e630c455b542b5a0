// Package redisurl turns one Redis URL into a go-redis client, the same way for the
// admin (sagate serve --redis) and the sidecar (the sagate directive's redis option):
//
//	redis://[user:password@]host:port/db, rediss:// (TLS), unix:///path.sock?db=N   one server
//	redis+sentinel://host:26379/db?master_name=NAME&addr=host2:26379                 Sentinel
//	redis+cluster://host:7000?addr=host2:7000                                         Cluster
//
// Query parameters set go-redis options (dial_timeout, pool_size, ...). Errors never
// repeat the URL, which may hold a password.
//
// TLS (rediss://, rediss+sentinel://, rediss+cluster://) takes these parameters of
// sagate's own; without them the system's CAs are trusted and no client certificate
// is sent:
//
//	tls_ca_file=PATH      PEM file of the CA(s) that sign the server's certificate
//	tls_cert_file=PATH    PEM file of a client certificate (for tls-auth-clients yes)
//	tls_key_file=PATH     PEM file of its private key (required with tls_cert_file)
//	tls_server_name=NAME  name the server's certificate must hold (default: the URL's host)
//
// One TLS config serves every connection of a client: with Sentinel or Cluster, each
// server's certificate must hold the first host's name, or tls_server_name. go-redis'
// skip_verify is refused: certificates are always checked. CheckTLS tells a
// TLS configuration mistake (untrusted server, refused client certificate) from an
// unreachable server, so that the admin and the sidecar can refuse to start on it.
//
// Reads from replicas (read_only, route_by_latency, route_randomly, replica_only) are
// refused: a replica may lag behind a revocation, and the revision markers that let a
// sidecar tell an older Redis are read with the records from the primary that wrote them.
//
// A sentinel client closes its connections to a primary the Sentinels no longer name
// as soon as they say so (sentinel.go); CheckPrimary tells a writer whether its server
// is the primary, and how many replicas it has.
//
// A cluster client (see newClusterClient) reloads its slot map when a node fails, so
// that it follows a failover within a second rather than go-redis' default minute.
package redisurl

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Options says how to build a client for one redis URL. Exactly one field is set.
type Options struct {
	Simple   *redis.Options
	Failover *redis.FailoverOptions
	Cluster  *redis.ClusterOptions
}

// Parse parses a redis URL (see the package doc for the schemes).
func Parse(raw string) (Options, error) {
	scheme, _, ok := strings.Cut(raw, "://")
	if !ok {
		return Options{}, errors.New("redis: not a URL (want redis://host:port/db)")
	}
	var o Options
	raw, tp, err := splitTLSParams(raw)
	if err != nil {
		return o, fmt.Errorf("redis: parsing URL: %w", err)
	}
	_, rest, _ := strings.Cut(raw, "://")
	switch strings.ToLower(scheme) {
	case "redis", "rediss", "unix":
		o.Simple, err = redis.ParseURL(raw)
	case "redis+sentinel", "rediss+sentinel":
		o.Failover, err = redis.ParseFailoverURL(strings.TrimSuffix(strings.ToLower(scheme), "+sentinel") + "://" + rest)
		if err == nil && o.Failover.MasterName == "" {
			err = errors.New("a sentinel URL needs ?master_name=NAME")
		}
	case "redis+cluster", "rediss+cluster":
		o.Cluster, err = redis.ParseClusterURL(strings.TrimSuffix(strings.ToLower(scheme), "+cluster") + "://" + rest)
	default:
		return o, fmt.Errorf("redis: unsupported URL scheme %q (want redis, rediss, unix, redis+sentinel or redis+cluster)", scheme)
	}
	if err != nil {
		return o, fmt.Errorf("redis: parsing URL: %v", redactURLError(err))
	}
	if replicaReads(o) {
		return o, errReplicaReads
	}
	switch {
	case o.Simple != nil:
		err = tp.apply(o.Simple.TLSConfig)
	case o.Failover != nil:
		err = tp.apply(o.Failover.TLSConfig)
	case o.Cluster != nil:
		err = tp.apply(o.Cluster.TLSConfig)
	}
	if err != nil {
		return Options{}, fmt.Errorf("redis: %w", err)
	}
	return o, nil
}

// Client builds the client the options describe. Commands honour their context's
// deadline (ContextTimeoutEnabled), so a caller's timeout bounds a command on the wire too.
func (o Options) Client() redis.UniversalClient {
	switch {
	case o.Failover != nil:
		o.Failover.ContextTimeoutEnabled = true
		g := newSentinelGuard(o.Failover)
		c := redis.NewFailoverClient(o.Failover)
		g.start(c)
		return c
	case o.Cluster != nil:
		o.Cluster.ContextTimeoutEnabled = true
		o.Cluster.MaintNotificationsConfig = maintOff()
		return newClusterClient(o.Cluster)
	default:
		o.Simple.ContextTimeoutEnabled = true
		o.Simple.MaintNotificationsConfig = maintOff()
		return redis.NewClient(o.Simple)
	}
}

// maintOff turns off go-redis' maintenance notifications (a Redis Enterprise/Cloud
// feature). Its default "auto" mode falls back under a data race in go-redis
// v9.23 when the server refuses the handshake, as open-source Redis does.
func maintOff() *maintnotifications.Config {
	return &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
}

// redactURLError drops the URL that *url.Error carries (it may hold a password).
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Redacted is the redis URL for logs: without its password.
func Redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable)"
	}
	return u.Redacted()
}

// errReplicaReads refuses the options that send reads to replicas.
var errReplicaReads = errors.New("redis: read_only, route_by_latency, route_randomly and replica_only are not supported: sagate reads from primaries only (a replica may lag behind a revocation)")

// replicaReads reports whether o sends reads to replicas.
func replicaReads(o Options) bool {
	switch {
	case o.Cluster != nil:
		return o.Cluster.ReadOnly || o.Cluster.RouteByLatency || o.Cluster.RouteRandomly
	case o.Failover != nil:
		return o.Failover.ReplicaOnly || o.Failover.RouteByLatency || o.Failover.RouteRandomly
	}
	return false
}
