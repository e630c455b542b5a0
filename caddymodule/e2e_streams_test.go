package caddymodule

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sagate/sagate/keystore/wire"
)

// streamUpstream sends frames until its client goes away: server-sent events at
// /events, WebSocket text frames at /ws (after a real upgrade), and a download at
// /download (chunked, or with a Content-Length when ?length is given). ended counts
// the requests whose writes stopped, so a test sees that the proxy stopped too.
type streamUpstream struct {
	*httptest.Server
	ended atomic.Int64
}

const frameEvery = 20 * time.Millisecond

func newStreamUpstream(t *testing.T) *streamUpstream {
	u := &streamUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer u.ended.Add(1)
		switch r.URL.Path {
		case "/ws":
			u.websocket(w, r)
			return
		case "/events":
			w.Header().Set("Content-Type", "text/event-stream")
		case "/download":
			w.Header().Set("Content-Type", "application/octet-stream")
			if r.URL.Query().Has("length") {
				w.Header().Set("Content-Length", "1000000000")
			}
		default:
			http.NotFound(w, r)
			return
		}
		rc := http.NewResponseController(w)
		for i := 0; ; i++ {
			if _, err := fmt.Fprintf(w, "data: frame %d\n\n", i); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
			select {
			case <-r.Context().Done():
				return
			case <-time.After(frameEvery):
			}
		}
	}))
	t.Cleanup(u.Close)
	return u
}

// websocket answers the upgrade (RFC 6455) and sends text frames until writing fails.
func (u *streamUpstream) websocket(w http.ResponseWriter, r *http.Request) {
	sum := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
		base64.StdEncoding.EncodeToString(sum[:]))
	if brw.Flush() != nil {
		return
	}
	for i := 0; ; i++ {
		payload := fmt.Sprintf("frame %d", i)
		if _, err := conn.Write(append([]byte{0x81, byte(len(payload))}, payload...)); err != nil {
			return
		}
		time.Sleep(frameEvery)
	}
}

// openStream opens path through the sidecar with key and returns a reader of its
// frames (after the 101 for a WebSocket) and the connection.
func openStream(t *testing.T, sc sidecar, path, key string) (*bufio.Reader, net.Conn) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(sc.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	req := "GET " + path + " HTTP/1.1\r\nHost: " + strings.TrimPrefix(sc.url, "http://") + "\r\nAuthorization: Bearer " + key + "\r\n"
	if path == "/ws" {
		req += "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if path == "/ws" {
		if res.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("GET /ws: %s", res.Status)
		}
		return br, conn
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", path, res.Status)
	}
	return bufio.NewReader(res.Body), conn
}

// TestCaddyRevocationClosesOpenRequests opens long-lived requests through Caddy's
// reverse_proxy (an event stream, a WebSocket, downloads) and withdraws their key
// while they run: each is cut off and the upstream's writes stop.
func TestCaddyRevocationClosesOpenRequests(t *testing.T) {
	st := newStore(t)
	up := newStreamUpstream(t)
	sc := newSidecarURL(t)
	loadCaddy(t, globalOptions+fmt.Sprintf(`
%s {
	sagate %s {
		%s
	}
	reverse_proxy %s
}`, sc.url, st.sidecarURL(), trustedAny(t), up.URL))

	for i, tc := range []struct {
		name, path string
		withdraw   func(a *testAccount)
	}{
		{"event stream, key revoked", "/events", st.revoke},
		{"WebSocket, key revoked", "/ws", st.revoke},
		{"WebSocket, key deactivated", "/ws", func(a *testAccount) { a.rec.State = wire.KeyDeactivated; st.put(a) }},
		{"chunked download, key revoked", "/download", st.revoke},
		{"download with a length, key revoked", "/download?length", st.revoke},
		{"event stream, key expired", "/events", func(a *testAccount) {
			// An event that leaves the key past its expiry: the recheck applies the
			// sidecar's clock to the record it fetches.
			a.rec.Exp = time.Now().UnixMilli() - 1
			st.put(a)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := st.newAccount(fmt.Sprintf("streamer%d", i), "ml-team", nil)
			sc.waitStatus(t, "the new key", a.key, http.StatusNotFound) // the upstream has no "/"
			ended := up.ended.Load()
			closed := testutil.ToFloat64(streamMetrics.closed)
			r, conn := openStream(t, sc, tc.path, a.key)
			// Frames flow (the request is watched from its first flush or second write).
			buf := make([]byte, 64)
			for range 3 {
				if _, err := io.ReadAtLeast(r, buf, 8); err != nil {
					t.Fatalf("reading the first frames: %v", err)
				}
			}
			tc.withdraw(a)
			start := time.Now()
			if err := conn.SetReadDeadline(time.Now().Add(waitFor)); err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, r); err == nil && !strings.HasPrefix(tc.path, "/events") && tc.path != "/ws" {
				// A download cut off must not look complete.
				t.Error("the download ended cleanly, as if complete")
			} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("the stream was still open %v after its key was withdrawn", waitFor)
			}
			t.Logf("closed %v after the change was published", time.Since(start).Round(time.Millisecond))
			waitUntil(t, "the upstream's request to end", func() bool { return up.ended.Load() > ended })
			if n := testutil.ToFloat64(streamMetrics.closed) - closed; n != 1 {
				t.Errorf("sagate_streams_closed_total rose by %v, want 1", n)
			}
		})
	}

	t.Run("a change that keeps the key passing", func(t *testing.T) {
		a := st.newAccount("streamer-k", "ml-team", nil)
		sc.waitStatus(t, "the new key", a.key, http.StatusNotFound)
		r, _ := openStream(t, sc, "/events", a.key)
		buf := make([]byte, 64)
		if _, err := io.ReadAtLeast(r, buf, 8); err != nil {
			t.Fatal(err)
		}
		closed := testutil.ToFloat64(streamMetrics.closed)
		a.rec.Roles = map[string]wire.Role{"forecasting": wire.RoleViewer}
		st.put(a)
		// The event was applied and the stream rechecked once the next key's event is
		// seen by a fresh request (events apply in order).
		b := st.newAccount("streamer-a", "ml-team", nil)
		sc.waitStatus(t, "a key created after the change", b.key, http.StatusNotFound)
		for range 3 {
			if _, err := io.ReadAtLeast(r, buf, 8); err != nil {
				t.Fatalf("the stream of a key that still passes was cut: %v", err)
			}
		}
		if n := testutil.ToFloat64(streamMetrics.closed) - closed; n != 0 {
			t.Errorf("sagate_streams_closed_total rose by %v, want 0", n)
		}
	})
}
