package caddymodule

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/sagate/sagate/keystore/wire"
)

// A request that stays open (a WebSocket, a server-sent events stream, a long
// download) was let in by a key that may be revoked, deactivated or expire while it
// runs. Such a request is watched: the key cache calls back when an event names the
// key (keycache.Cache.Watch), the key is looked up again, and if it no longer passes
// the connection is cut and nothing more is written to it. A request becomes watched
// when it is hijacked (a WebSocket), flushed (a stream: Caddy's proxy flushes event
// streams and responses of unknown length at once), or written to a second time; a
// response written in one piece, most of them, costs no more than a pooled wrapper.

// errKeyWithdrawn is what writes get once the key of a watched request no longer passes.
var errKeyWithdrawn = errors.New("sagate: the request's key no longer passes; the connection was closed")

// streamMetrics count the open requests cut off.
var streamMetrics = struct {
	once   sync.Once
	closed prometheus.Counter
}{}

func initStreamMetrics() {
	streamMetrics.once.Do(func() {
		streamMetrics.closed = prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sagate_streams_closed_total",
			Help: "Open requests (WebSockets, event streams, long downloads) cut off because their key was revoked, deactivated or expired, or lost the grant.",
		})
	})
}

// watchedWriters are reused: every allowed request gets one.
var watchedWriters = sync.Pool{New: func() any { return new(watchedWriter) }}

// serveWatched runs next with a writer that becomes watched if the request stays open.
func (h *Handler) serveWatched(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, d *decision, project string) error {
	ww, _ := watchedWriters.Get().(*watchedWriter)
	ww.ResponseWriter, ww.h, ww.hash, ww.project, ww.exp = w, h, d.hash, project, d.entry.Expires()
	err := next.ServeHTTP(ww, r)
	if ww.finish() {
		*ww = watchedWriter{}
		watchedWriters.Put(ww)
	}
	return err
}

// watchedWriter is the response writer of an allowed request.
type watchedWriter struct {
	http.ResponseWriter
	h       *Handler
	hash    wire.KeyHash
	project string
	exp     int64 // the key's expiry, Unix milliseconds; 0: none
	writes  int   // Write calls so far, up to 2

	closed atomic.Bool // the key no longer passes: no more writes

	mu      sync.Mutex // guards what follows, shared with the cache's callback
	watched bool
	done    bool // the handler returned
	stop    func()
	timer   *time.Timer
	conn    net.Conn // the hijacked connection, if any
}

// Write writes p unless the key was withdrawn; the second write makes the request
// watched.
func (w *watchedWriter) Write(p []byte) (int, error) {
	if w.writes < 2 {
		if w.writes++; w.writes == 2 {
			w.watch()
		}
	}
	if w.closed.Load() {
		return 0, errKeyWithdrawn
	}
	return w.ResponseWriter.Write(p)
}

// FlushError flushes, making the request watched; http.ResponseController finds it.
func (w *watchedWriter) FlushError() error {
	w.watch()
	if w.closed.Load() {
		return errKeyWithdrawn
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack hands over the connection, watched: the connection is closed when the key
// no longer passes.
func (w *watchedWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.mu.Lock()
	w.conn = conn
	w.mu.Unlock()
	w.watch()
	if w.closed.Load() {
		_ = conn.Close()
		return nil, nil, errKeyWithdrawn
	}
	return &watchedConn{Conn: conn, w: w}, brw, nil
}

// Unwrap gives http.ResponseController the writer underneath.
func (w *watchedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// watch registers the request with the key cache (once), then checks the key again:
// an event that arrived between the decision and now found no watch to call.
func (w *watchedWriter) watch() {
	w.mu.Lock()
	if w.watched || w.done {
		w.mu.Unlock()
		return
	}
	w.watched = true
	w.stop = w.h.cache.Watch(w.hash, w.recheck)
	if w.exp != 0 {
		w.timer = time.AfterFunc(time.Until(time.UnixMilli(w.exp)), w.recheck)
	}
	w.mu.Unlock()
	w.recheck()
}

// recheck looks the key up again and cuts the request off if it no longer passes.
// A key that cannot be checked (Redis away, nothing stale to answer) is not a
// withdrawn one: the request stays open, as it would have without the event.
func (w *watchedWriter) recheck() {
	if w.closed.Load() {
		return
	}
	var d decision
	w.h.decideHash(context.Background(), &d, w.hash, w.project, w.h.timeNow())
	if d.reason == reasonNone || d.reason == reasonUnavailable {
		return
	}
	w.withdraw(d)
}

// withdraw stops every further write and closes the connection: a hijacked one
// directly, else by putting its read and write deadlines in the past, which ends the
// request's context (HTTP/1) or resets its stream (HTTP/2), so the proxy stops too.
func (w *watchedWriter) withdraw(d decision) {
	if w.closed.Swap(true) {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	streamMetrics.closed.Inc()
	if ce := w.h.logger.Check(zap.InfoLevel, "open request closed: its key no longer passes"); ce != nil {
		fields := []zap.Field{zap.String("reason", reasonSpecs[d.reason].description)}
		if d.entry.Found() {
			fields = append(fields, zap.String("key_id", d.entry.KeyID()), zap.String("service_account_id", d.entry.ServiceAccountID()))
		}
		ce.Write(fields...)
	}
	if w.conn != nil {
		_ = w.conn.Close()
		return
	}
	if !w.done {
		rc := http.NewResponseController(w.ResponseWriter)
		past := time.Unix(1, 0)
		_ = rc.SetReadDeadline(past)
		_ = rc.SetWriteDeadline(past)
	}
}

// finish is called when the handler returned. It reports whether the writer may be
// reused: not if it was watched (the cache's callback may still hold it).
func (w *watchedWriter) finish() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
	if !w.watched {
		return true
	}
	w.stop()
	if w.timer != nil {
		w.timer.Stop()
	}
	return false
}

// watchedConn is a hijacked connection that writes nothing once the key is withdrawn.
type watchedConn struct {
	net.Conn
	w *watchedWriter
}

func (c *watchedConn) Write(p []byte) (int, error) {
	if c.w.closed.Load() {
		return 0, errKeyWithdrawn
	}
	return c.Conn.Write(p)
}
