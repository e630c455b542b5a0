package redisurl

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"
	"weak"

	"github.com/redis/go-redis/v9"
)

// A primary that stalls (a long pause of the process or its machine) past Sentinel's
// down-after is replaced; when it resumes it is a second primary for a few seconds,
// until the Sentinels turn it into a replica, and every connection opened to it before
// the stall still works. go-redis closes those connections when the one Sentinel it
// listens to announces +switch-master, but not when that Sentinel is down, nor the
// connections of clients built from a copy of the options (the sidecar's events
// follower). So the client a sentinel URL builds dials through a guard that keeps every
// connection it opened to a data server, listens for +switch-master on every Sentinel,
// asks them all which server is the primary every guardPoll, and closes at once every
// connection to a server they no longer name. A command on a closed connection fails
// (or is retried on a new one, dialled to the primary the Sentinels name): it never
// reaches a deposed primary.

// Timings of the guard.
const (
	// guardPoll is how often the guard asks the Sentinels which server is the primary.
	guardPoll = 250 * time.Millisecond
	// guardAsk bounds one question to one Sentinel.
	guardAsk = 500 * time.Millisecond
	// guardAlive is how often the guard checks that its client is still open.
	guardAlive = 2 * time.Second
)

// guards maps the clients built for a sentinel URL to their guard (CheckPrimary).
var guards sync.Map // weak.Pointer[redis.Client] → *sentinelGuard

// sentinelGuard follows the primary the Sentinels name and closes the connections of
// one client to any other data server.
type sentinelGuard struct {
	master    string
	sentinels []string
	opt       *redis.Options // for the guard's own Sentinel clients
	tlsConfig *tls.Config
	dialer    *net.Dialer

	// askers are the guard's own clients of the Sentinels, one each (named).
	askers []*redis.SentinelClient

	mu      sync.Mutex
	conns   map[*trackedConn]struct{}
	primary string          // the data server last named ("": none yet)
	former  map[string]bool // data servers named before: their connections are closed
}

// newSentinelGuard returns the guard of a client built with o, and sets o.Dialer.
func newSentinelGuard(o *redis.FailoverOptions) *sentinelGuard {
	g := &sentinelGuard{
		master:    o.MasterName,
		sentinels: append([]string(nil), o.SentinelAddrs...),
		opt: &redis.Options{
			Username: o.SentinelUsername, Password: o.SentinelPassword, TLSConfig: o.TLSConfig,
			DialTimeout: guardAsk, ReadTimeout: guardAsk, WriteTimeout: guardAsk,
			MaxRetries: -1, PoolSize: 2, ContextTimeoutEnabled: true,
			MaintNotificationsConfig: maintOff(),
		},
		tlsConfig: o.TLSConfig,
		dialer:    &net.Dialer{Timeout: o.DialTimeout, KeepAlive: 30 * time.Second},
		conns:     make(map[*trackedConn]struct{}),
		former:    make(map[string]bool),
	}
	if g.dialer.Timeout <= 0 {
		g.dialer.Timeout = 5 * time.Second
	}
	for _, addr := range g.sentinels {
		so := *g.opt
		so.Addr = addr
		g.askers = append(g.askers, redis.NewSentinelClient(&so))
	}
	o.Dialer = g.dial
	return g
}

// start registers g as the guard of rdb and runs it until rdb is closed.
func (g *sentinelGuard) start(rdb *redis.Client) {
	wp := weak.Make(rdb)
	guards.Store(wp, g)
	ctx, cancel := context.WithCancel(context.Background())
	var subs []*redis.PubSub
	var sclients []*redis.SentinelClient
	for _, addr := range g.sentinels {
		o := *g.opt
		o.Addr = addr
		o.ReadTimeout = 0 // a subscription waits
		sc := redis.NewSentinelClient(&o)
		sub := sc.Subscribe(ctx, "+switch-master")
		sclients, subs = append(sclients, sc), append(subs, sub)
		go g.listen(sub)
	}
	go func() {
		defer func() {
			cancel()
			for i := range subs {
				_ = subs[i].Close()
				_ = sclients[i].Close()
			}
			for _, a := range g.askers {
				_ = a.Close()
			}
			guards.Delete(wp)
		}()
		t := time.NewTicker(guardPoll)
		defer t.Stop()
		alive := time.Now()
		for range t.C {
			if time.Since(alive) >= guardAlive {
				alive = time.Now()
				c := wp.Value()
				if c == nil || clientClosed(c) {
					return
				}
			}
			g.poll(ctx)
		}
	}()
}

// clientClosed reports whether c was closed.
func clientClosed(c *redis.Client) bool {
	ctx, cancel := context.WithTimeout(context.Background(), guardAsk)
	defer cancel()
	return errors.Is(c.Ping(ctx).Err(), redis.ErrClosed)
}

// listen follows the +switch-master messages of one Sentinel until sub is closed.
func (g *sentinelGuard) listen(sub *redis.PubSub) {
	for msg := range sub.Channel() {
		// "<master name> <old ip> <old port> <new ip> <new port>"
		var f [5]string
		n := 0
		for i, start := 0, 0; i <= len(msg.Payload) && n < 5; i++ {
			if i == len(msg.Payload) || msg.Payload[i] == ' ' {
				f[n] = msg.Payload[start:i]
				n++
				start = i + 1
			}
		}
		if n == 5 && f[0] == g.master {
			g.follow(net.JoinHostPort(f[3], f[4]))
		}
	}
}

// poll asks every Sentinel which server is the primary and follows the answer.
func (g *sentinelGuard) poll(ctx context.Context) {
	if addr, err := g.named(ctx); err == nil {
		g.follow(addr)
	}
}

// named asks every Sentinel at once which server is the primary and returns the answer
// of the highest configuration epoch (that of the latest failover any of them knows).
func (g *sentinelGuard) named(ctx context.Context) (string, error) {
	type answer struct {
		addr  string
		epoch int64
		err   error
	}
	ch := make(chan answer, len(g.askers))
	for _, sc := range g.askers {
		go func() {
			actx, cancel := context.WithTimeout(ctx, guardAsk)
			defer cancel()
			// The epoch from SENTINEL MASTER, the address from GET-MASTER-ADDR-BY-NAME:
			// while a failover is under way its leader already gives the promoted
			// replica's address there, and the old one in SENTINEL MASTER.
			m, err := sc.Master(actx, g.master).Result()
			var a []string
			if err == nil {
				a, err = sc.GetMasterAddrByName(actx, g.master).Result()
			}
			if err == nil && len(a) != 2 {
				err = errNoSentinel
			}
			if err != nil {
				ch <- answer{err: err}
				return
			}
			e, _ := strconv.ParseInt(m["config-epoch"], 10, 64)
			ch <- answer{addr: net.JoinHostPort(a[0], a[1]), epoch: e}
		}()
	}
	best := answer{epoch: -1}
	var errs []error
	for range g.askers {
		a := <-ch
		switch {
		case a.err != nil:
			errs = append(errs, a.err)
		case a.epoch > best.epoch:
			best = a
		}
	}
	if best.addr == "" {
		return "", errors.Join(append([]error{errNoSentinel}, errs...)...)
	}
	return best.addr, nil
}

// errNoSentinel: no Sentinel answered.
var errNoSentinel = errors.New("redis: no sentinel named the primary")

// follow notes that the Sentinels name addr the primary and, when that changed, closes
// every connection to a data server named before.
func (g *sentinelGuard) follow(addr string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if addr == g.primary {
		return
	}
	if g.primary != "" {
		g.former[g.primary] = true
	}
	delete(g.former, addr)
	g.primary = addr
	for c := range g.conns {
		if g.former[c.addr] {
			_ = c.Conn.Close() // go-redis finds it closed and drops it
		}
	}
}

// dial opens a connection for the client (to a data server or, for go-redis' own
// Sentinel client, a Sentinel) and keeps it until it is closed. A connection to a data
// server the Sentinels no longer name (by the answer of the highest configuration
// epoch) is refused.
func (g *sentinelGuard) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if !slices.Contains(g.sentinels, addr) {
		// go-redis dials the server one Sentinel named, which may not know yet of a
		// failover the others made: ask them all first (a dial is rare: pooled
		// connections are reused).
		g.poll(ctx)
	}
	g.mu.Lock()
	deposed := g.former[addr]
	g.mu.Unlock()
	if deposed {
		return nil, errDeposed
	}
	var conn net.Conn
	var err error
	if g.tlsConfig != nil {
		td := &tls.Dialer{NetDialer: g.dialer, Config: g.tlsConfig}
		conn, err = td.DialContext(ctx, network, addr)
	} else {
		conn, err = g.dialer.DialContext(ctx, network, addr)
	}
	if err != nil {
		return nil, err
	}
	c := &trackedConn{Conn: conn, g: g, addr: addr}
	g.mu.Lock()
	g.conns[c] = struct{}{}
	g.mu.Unlock()
	if sc, ok := conn.(syscall.Conn); ok {
		return &trackedSysConn{trackedConn: c, sys: sc}, nil
	}
	return c, nil
}

// errDeposed refuses a connection to a server the Sentinels named before and no longer do.
var errDeposed = errors.New("redis: the sentinels no longer name this server the primary")

// trackedConn is a connection the guard keeps until it is closed.
type trackedConn struct {
	net.Conn
	g    *sentinelGuard
	addr string
	once sync.Once
}

// Close forgets the connection and closes it.
func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.g.mu.Lock()
		delete(c.g.conns, c)
		c.g.mu.Unlock()
	})
	return c.Conn.Close()
}

// trackedSysConn is a trackedConn over a connection with a file descriptor, which
// go-redis' health check of idle connections reads.
type trackedSysConn struct {
	*trackedConn
	sys syscall.Conn
}

// SyscallConn returns the raw connection underneath.
func (c *trackedSysConn) SyscallConn() (syscall.RawConn, error) { return c.sys.SyscallConn() }

// guardOf returns the guard of rdb (nil: not a client built for a sentinel URL).
func guardOf(rdb redis.UniversalClient) *sentinelGuard {
	c, ok := rdb.(*redis.Client)
	if !ok {
		return nil
	}
	if g, ok := guards.Load(weak.Make(c)); ok {
		return g.(*sentinelGuard)
	}
	return nil
}
