package e2e

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sagate/sagate/internal/testing/keytest"
	"github.com/sagate/sagate/internal/testing/pgtest"
	"github.com/sagate/sagate/internal/testing/redistest"
	"github.com/sagate/sagate/internal/testing/systest"
)

// TestWalkthroughAcrossHosts runs docs/walkthrough.md's deployment on separate network
// hosts: Linux network namespaces, each with its own address on one virtual switch
// (10.77.0.0/24, a bridge in a namespace of its own), with TLS as the walkthrough has it:
// one Redis host, TLS only with the walkthrough's sagate.conf and the ACL users of
// `sagate redis-acl`; two admins over https on one PostgreSQL, reaching Redis by
// admin.env's rediss:// URL; three API hosts, each running the built Caddy with
// examples/walkthrough/caddy/api.Caddyfile and caddy-sagate.env in front of an upstream
// on its own 127.0.0.1:9000. Every certificate is signed by one CA of the test. Then it
// makes the faults of the walkthrough's "When a host is lost" and checks what
// docs/operations.md promises: an API host cut off answers its cached keys and 503 for a
// key it never saw, and applies a revocation made meanwhile once it is back; with the
// Redis host cut off, the sidecars answer cached keys (stale) and 503 for others, and the
// admins' changes reach them once it is back; with one admin stopped, the other serves.
//
// It needs root and `ip netns`: `make test-hosts` runs it (SAGATE_HOSTS_TEST=1).
func TestWalkthroughAcrossHosts(t *testing.T) {
	if os.Getenv("SAGATE_HOSTS_TEST") != "1" {
		t.Skip("the test across hosts runs with SAGATE_HOSTS_TEST=1 (make test-hosts): it needs root and ip netns")
	}
	if os.Geteuid() != 0 {
		t.Skip("the test across hosts needs root (it creates network namespaces)")
	}
	for _, tool := range []string{"ip", "socat", "curl", "python3", "redis-server"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the test across hosts needs %s, which is not installed here", tool)
		}
	}
	if out, err := exec.Command("ip", "netns", "list").CombinedOutput(); err != nil {
		t.Skipf("ip netns does not work here: %v: %s", err, out)
	}
	bin := systest.Binaries(t)
	n := newHostNet(t)
	redisHost := n.host(t, "redis", "10.77.0.10")
	adminHosts := []*netHost{n.host(t, "admin1", "10.77.0.21"), n.host(t, "admin2", "10.77.0.22")}
	apiHosts := []*netHost{n.host(t, "api1", "10.77.0.11"), n.host(t, "api2", "10.77.0.12"), n.host(t, "api3", "10.77.0.13")}
	n.waitConnected(t)

	// Step 2: certificates and secrets. One CA; Redis and each admin get a certificate
	// for their name and address. The signing key is generated once; every sidecar
	// trusts its public half.
	dir := t.TempDir()
	ca := redistest.NewCA(t)
	redisCert, redisKey := ca.Server(t, "redis.internal", "redis.internal", redisHost.ip)
	signingKey := signingKeyFile(t)
	publicKey := keytest.SigningKey(t).Public().String()
	sidecarPassword, adminPassword := "sidecar-"+randomHex(t), "admin-"+randomHex(t)

	// Step 3: the Redis host, with the users of `sagate redis-acl` ("default" off).
	aclOut, err := runEnv([]string{"SAGATE_REDIS_SIDECAR_PASSWORD=" + sidecarPassword, "SAGATE_REDIS_ADMIN_PASSWORD=" + adminPassword},
		filepath.Join(bin, "sagate"), "redis-acl", "--format", "aclfile")
	if err != nil {
		t.Fatalf("sagate redis-acl: %v\n%s", err, aclOut)
	}
	aclFile := filepath.Join(dir, "users.acl")
	writeFile(t, aclFile, "user default off\n"+aclOut)
	// The walkthrough's sagate.conf (TLS only, on port 6380), with this host's address
	// and files.
	conf, err := os.ReadFile(filepath.Join(walkthroughDir, "redis", "sagate.conf"))
	if err != nil {
		t.Fatal(err)
	}
	redisConf := filepath.Join(dir, "redis.conf")
	writeFile(t, redisConf, walkthroughValue(t, "sagate.conf", string(conf),
		"10.0.0.10", redisHost.ip, "/etc/redis/tls/redis.pem", redisCert, "/etc/redis/tls/redis-key.pem", redisKey,
		"/etc/redis/tls/ca.pem", ca.File, "/etc/redis/users.acl", aclFile)+"dir "+dir+"\n")
	redisHost.start(t, "redis-server", nil, "redis-server", redisConf)
	n.waitTCP(t, redisHost.ip+":6380")
	if got := plainRedisPing(t, redisHost.ip+":6380"); strings.HasPrefix(got, "+") || strings.HasPrefix(got, "-") {
		t.Fatalf("Redis answered a plain-text PING with %q: it must speak TLS only", got)
	}

	// Step 4: PostgreSQL, reachable from the admin hosts at the switch's address.
	pg, err := url.Parse(pgtest.NewDatabase(t, pgtest.Start(t)))
	if err != nil {
		t.Fatal(err)
	}
	pg.Host = n.forward(t, pg.Host)

	// Step 5: the two admins on one store, signing with the same key, over https with
	// their certificates, reaching Redis by admin.env's rediss:// URL.
	adminRedis := walkthroughValue(t, "admin.env", envValue(t, readEnvFile(t, "admin.env"), "SAGATE_REDIS"),
		"ADMIN_REDIS_PASSWORD", adminPassword, "redis.internal", redisHost.ip, "/etc/sagate/tls/ca.pem", ca.File)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool}}}
	admins := make([]*admin, len(adminHosts))
	for i, h := range adminHosts {
		addr := h.ip + ":8443"
		cert, key := ca.Server(t, h.name+".internal", h.name+".internal", h.ip)
		p := h.start(t, "sagate serve", []string{"SAGATE_ADMIN_TOKEN=" + adminToken}, filepath.Join(bin, "sagate"), "serve",
			"--listen", addr, "--tls-cert", cert, "--tls-key", key, "--store", pg.String(), "--redis", adminRedis,
			"--signing-key-file", signingKey)
		admins[i] = &admin{t: t, proc: p, url: "https://" + addr, client: client}
	}
	for i, a := range admins {
		systest.Eventually(t, 60*time.Second, a.url+"/readyz answering 200", func() bool { return a.ready() })
		// The walkthrough's check on the admin host: curl trusting the CA.
		h := adminHosts[i]
		if out, err := exec.Command("ip", "netns", "exec", h.ns, "curl", "-sSf", "-m", "10", "--cacert", ca.File,
			"https://"+h.ip+":8443/readyz").CombinedOutput(); err != nil {
			t.Fatalf("curl --cacert on %s: %v: %s", h.name, err, out)
		}
	}

	// Step 6: the three API hosts: the walkthrough's Caddyfile and environment file, with
	// this network's addresses, in front of an upstream on the host's own loopback.
	caddyfile, err := filepath.Abs(filepath.Join(walkthroughDir, "caddy", "api.Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	caddyEnv := readEnvFile(t, "caddy-sagate.env")
	sidecarRedis := walkthroughValue(t, "caddy-sagate.env", envValue(t, caddyEnv, "SAGATE_REDIS_URL"),
		"SIDECAR_REDIS_PASSWORD", sidecarPassword, "redis.internal", redisHost.ip, "/etc/caddy/sagate-ca.pem", ca.File)
	for _, h := range apiHosts {
		h.start(t, "upstream", nil, "python3", "-m", "http.server", "--bind", "127.0.0.1", "9000", "--directory", t.TempDir())
		env := append(caddyEnv, "SAGATE_HOST_IP="+h.ip,
			"SAGATE_REDIS_URL="+sidecarRedis, "SAGATE_SIGNING_KEY="+publicKey)
		h.start(t, "caddy", env, filepath.Join(bin, "caddy"), "run", "--config", caddyfile, "--adapter", "caddyfile")
	}
	for _, h := range apiHosts {
		systest.WaitHTTP(t, "http://"+h.ip+":8080/", http.StatusUnauthorized, 60*time.Second)
		n.waitTCP(t, h.ip+":9180")
	}

	// Step 8: the first key, made with the CLI trusting the CA as the walkthrough does,
	// and one through the other admin, reach all three sidecars.
	cli := []string{"SAGATE_ADMIN_URL=" + admins[0].url, "SAGATE_ADMIN_CA=" + ca.File, "SAGATE_ADMIN_TOKEN=" + adminToken}
	if out, err := runEnv(cli, filepath.Join(bin, "sagate"), "workspace", "create", "ml-team"); err != nil {
		t.Fatalf("sagate workspace create: %v\n%s", err, out)
	}
	out, err := runEnv(cli, filepath.Join(bin, "sagate"), "sa", "create", "ci-bot", "-w", "ml-team", "--all-projects-role", "viewer", "-o", "json")
	if err != nil {
		t.Fatalf("sagate sa create: %v\n%s", err, out)
	}
	var created map[string]any
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatalf("sagate sa create -o json: %v: %s", err, out)
	}
	ciBot := keyOf(t, created["api_key"])
	etl := admins[1].newAccount("ml-team", "etl", "viewer")
	for _, h := range apiHosts {
		for _, k := range []issued{ciBot, etl} {
			waitStatus(t, h.ip, k.Key, http.StatusOK, "a fresh key")
		}
	}

	// An API host cut off (its link down), then back. A client on the host itself still
	// gets its cached key let in (stale) and 503 for a valid key it never saw, never 401;
	// a revocation made meanwhile is applied once the link is back.
	api1 := apiHosts[0]
	api1.linkDown(t)
	late := admins[0].newAccount("ml-team", "late", "viewer")
	admins[0].must(http.StatusNoContent, "DELETE", "/v1/workspaces/ml-team/service-accounts/etl/keys/"+etl.ID, nil)
	for _, h := range apiHosts[1:] {
		waitStatus(t, h.ip, etl.Key, http.StatusUnauthorized, "the key revoked while api1 was cut off, on a host still linked")
	}
	if got := api1.localStatus(t, ciBot.Key); got != http.StatusOK {
		t.Errorf("api1 cut off: its cached key = %d, want 200 (stale)", got)
	}
	if got := api1.localStatus(t, late.Key); got != http.StatusServiceUnavailable {
		t.Errorf("api1 cut off: a valid key it never saw = %d, want 503", got)
	}
	api1.linkUp(t)
	waitStatus(t, api1.ip, etl.Key, http.StatusUnauthorized, "api1 back: the key revoked while it was cut off")
	waitStatus(t, api1.ip, late.Key, http.StatusOK, "api1 back: the key issued while it was cut off")
	waitStatus(t, api1.ip, ciBot.Key, http.StatusOK, "api1 back: the key it had")

	// The Redis host cut off. The sidecars answer the keys they hold (stale) and 503 for
	// a valid key they never saw; the admins still commit changes, which reach the
	// sidecars once Redis is back.
	for _, h := range apiHosts {
		waitStatus(t, h.ip, late.Key, http.StatusOK, "the key used before Redis is cut off")
	}
	redisHost.linkDown(t)
	unseen := admins[1].newAccount("ml-team", "unseen", "viewer")
	admins[1].must(http.StatusNoContent, "DELETE", "/v1/workspaces/ml-team/service-accounts/late/keys/"+late.ID, nil)
	for _, h := range apiHosts {
		if got := status(t, h.ip, ciBot.Key); got != http.StatusOK {
			t.Errorf("%s, Redis cut off: a cached key = %d, want 200 (stale)", h.name, got)
		}
		if got := status(t, h.ip, unseen.Key); got != http.StatusServiceUnavailable {
			t.Errorf("%s, Redis cut off: a valid key it never saw = %d, want 503", h.name, got)
		}
	}
	redisHost.linkUp(t)
	for _, h := range apiHosts {
		waitStatus(t, h.ip, late.Key, http.StatusUnauthorized, "Redis back: the key revoked while it was cut off")
		waitStatus(t, h.ip, unseen.Key, http.StatusOK, "Redis back: the key issued while it was cut off")
	}

	// One admin stopped: the other serves, and its changes reach every sidecar.
	admins[0].proc.Stop()
	if admins[0].ready() {
		t.Errorf("admin1 still answers after it was stopped")
	}
	systest.Eventually(t, 10*time.Second, "admin2 ready once admin1 is stopped", admins[1].ready)
	admins[1].must(http.StatusNoContent, "DELETE", "/v1/workspaces/ml-team/service-accounts/ci-bot/keys/"+ciBot.ID, nil)
	after := admins[1].newAccount("ml-team", "after", "viewer")
	for _, h := range apiHosts {
		waitStatus(t, h.ip, ciBot.Key, http.StatusUnauthorized, "admin1 stopped: a revocation through admin2")
		waitStatus(t, h.ip, after.Key, http.StatusOK, "admin1 stopped: a key issued through admin2")
	}
}

// walkthroughValue is text from one of the walkthrough's files (named file) with each
// old string of oldNew replaced by the new one that follows it; it fails the test if the
// file no longer holds an old string, so that the test follows the files as they are.
func walkthroughValue(t *testing.T, file, text string, oldNew ...string) string {
	t.Helper()
	for i := 0; i < len(oldNew); i += 2 {
		if !strings.Contains(text, oldNew[i]) {
			t.Fatalf("%s no longer holds %q, which the test replaces", file, oldNew[i])
		}
	}
	return strings.NewReplacer(oldNew...).Replace(text)
}

// envValue is the value of key in env (KEY=VALUE lines).
func envValue(t *testing.T, env []string, key string) string {
	t.Helper()
	for _, kv := range env {
		if k, v, _ := strings.Cut(kv, "="); k == key {
			return v
		}
	}
	t.Fatalf("no %s in the environment file", key)
	return ""
}

// plainRedisPing sends PING in plain text to addr and returns what comes back before the
// server closes the connection or a second passes: a Redis speaking plain text answers
// "+PONG" or an error starting with "-"; one speaking TLS only, nothing of the kind.
func plainRedisPing(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("connecting to %s: %v", addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return ""
	}
	b, _ := io.ReadAll(c)
	return string(b)
}

// ready reports whether the admin answers 200 on /readyz.
func (a *admin) ready() bool {
	resp, err := a.httpClient().Get(a.url + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// hostPrefix names every namespace and link the test makes, so that leftovers of an
// interrupted run are found and removed.
const hostPrefix = "sgh-"

// hostNet is the test's network: a switch namespace holding a bridge, and a link from
// the test's own namespace to it (hostNet.rootIP), through which the test reaches the
// hosts and the hosts reach PostgreSQL.
type hostNet struct {
	sw    string
	hosts []*netHost
}

// rootIP is the test's address on the switch.
const rootIP = "10.77.0.1"

// netHost is one namespace with one link to the switch.
type netHost struct {
	name, ns, ip string
	link         string // the switch's end of the host's link
}

func newHostNet(t *testing.T) *hostNet {
	removeHostLeftovers()
	t.Cleanup(removeHostLeftovers)
	n := &hostNet{sw: hostPrefix + "sw"}
	mustIP(t, "netns", "add", n.sw)
	n.nsSetup(t, n.sw)
	mustIP(t, "-n", n.sw, "link", "add", "br0", "type", "bridge")
	mustIP(t, "-n", n.sw, "link", "set", "br0", "up")
	// Bridged frames are not handed to iptables in the switch's namespace (it has no rules,
	// but a host that loaded br_netfilter may still drop them elsewhere).
	_ = exec.Command("ip", "netns", "exec", n.sw, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0").Run()
	root := hostPrefix + "root"
	mustIP(t, "link", "add", root, "type", "veth", "peer", "name", root+"s")
	mustIP(t, "link", "set", root+"s", "netns", n.sw)
	mustIP(t, "-n", n.sw, "link", "set", root+"s", "master", "br0", "up")
	mustIP(t, "addr", "add", rootIP+"/24", "dev", root)
	mustIP(t, "link", "set", root, "up")
	return n
}

// nsSetup brings up loopback and turns IPv6 off in ns (no duplicate address detection
// delaying the links).
func (n *hostNet) nsSetup(t *testing.T, ns string) {
	for _, k := range []string{"all", "default", "lo"} {
		_ = exec.Command("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf."+k+".disable_ipv6=1").Run()
	}
	mustIP(t, "-n", ns, "link", "set", "lo", "up")
}

// host makes a namespace with address ip on the switch.
func (n *hostNet) host(t *testing.T, name, ip string) *netHost {
	t.Helper()
	h := &netHost{name: name, ns: hostPrefix + name, ip: ip, link: hostPrefix + name}
	mustIP(t, "netns", "add", h.ns)
	n.nsSetup(t, h.ns)
	mustIP(t, "link", "add", h.link, "type", "veth", "peer", "name", h.link+"h")
	mustIP(t, "link", "set", h.link+"h", "netns", h.ns)
	mustIP(t, "-n", h.ns, "link", "set", h.link+"h", "name", "eth0")
	mustIP(t, "-n", h.ns, "addr", "add", ip+"/24", "dev", "eth0")
	mustIP(t, "-n", h.ns, "link", "set", "eth0", "up")
	mustIP(t, "link", "set", h.link, "netns", n.sw)
	mustIP(t, "-n", n.sw, "link", "set", h.link, "master", "br0", "up")
	n.hosts = append(n.hosts, h)
	return h
}

// waitConnected waits until the test reaches every host and every host reaches every
// other and the test, by TCP (a listener on port 7 of each, gone afterwards).
func (n *hostNet) waitConnected(t *testing.T) {
	t.Helper()
	var procs []*systest.Proc
	for _, h := range n.hosts {
		procs = append(procs, h.start(t, "probe", nil, "socat", "TCP-LISTEN:7,fork,reuseaddr", "SYSTEM:true"))
	}
	probe := hostProbe(t)
	defer func() {
		for _, p := range procs {
			p.Stop()
		}
		probe.Close()
	}()
	connects := func(ns, addr string) bool {
		return exec.Command("ip", "netns", "exec", ns, "socat", "-u", "/dev/null", "TCP:"+addr+",connect-timeout=1").Run() == nil
	}
	systest.Eventually(t, 30*time.Second, "every host reachable", func() bool {
		for _, h := range n.hosts {
			c, err := net.DialTimeout("tcp", h.ip+":7", time.Second)
			if err != nil {
				return false
			}
			c.Close()
			if !connects(h.ns, probe.Addr().String()) {
				return false
			}
			for _, o := range n.hosts {
				if o != h && !connects(h.ns, o.ip+":7") {
					return false
				}
			}
		}
		return true
	})
}

// hostProbe listens on the test's switch address and closes what it accepts.
func hostProbe(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", rootIP+":0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln
}

// waitTCP waits until addr accepts a connection from the test.
func (n *hostNet) waitTCP(t *testing.T, addr string) {
	t.Helper()
	systest.Eventually(t, 30*time.Second, "a TCP connection to "+addr, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// forward listens on the test's switch address and forwards every connection to
// target (a server of the test's own namespace); it returns the address.
func (n *hostNet) forward(t *testing.T, target string) string {
	t.Helper()
	ln, err := net.Listen("tcp", rootIP+":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				d, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer d.Close()
				go func() { _, _ = io.Copy(d, c); d.Close() }()
				_, _ = io.Copy(c, d)
			}()
		}
	}()
	return ln.Addr().String()
}

// start runs a program on the host, stopped when the test ends.
func (h *netHost) start(t *testing.T, name string, env []string, prog string, args ...string) *systest.Proc {
	t.Helper()
	return systest.StartProc(t, name+"@"+h.name, "ip", env, append([]string{"netns", "exec", h.ns, prog}, args...)...)
}

// linkDown cuts the host off the switch; linkUp puts it back.
func (h *netHost) linkDown(t *testing.T) {
	mustIP(t, "-n", hostPrefix+"sw", "link", "set", h.link, "down")
}
func (h *netHost) linkUp(t *testing.T) { mustIP(t, "-n", hostPrefix+"sw", "link", "set", h.link, "up") }

// localStatus is the status a client on the host itself gets for key (curl there).
func (h *netHost) localStatus(t *testing.T, key string) int {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", h.ns, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "10",
		"-H", "Authorization: Bearer "+key, "-H", "X-Project: forecasting", "http://127.0.0.1:8080/").Output()
	if err != nil {
		t.Fatalf("curl on %s: %v", h.name, err)
	}
	var code int
	fmt.Sscan(string(out), &code)
	return code
}

// status is the status a client gets from the API host at ip for key.
func status(t *testing.T, ip, key string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+ip+":8080/", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("X-Project", "forecasting")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("request to %s: %v", ip, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// waitStatus waits until the API host at ip answers want for key.
func waitStatus(t *testing.T, ip, key string, want int, what string) {
	t.Helper()
	systest.Eventually(t, 20*time.Second, fmt.Sprintf("%s: %d from %s", what, want, ip), func() bool { return status(t, ip, key) == want })
}

// removeHostLeftovers deletes the namespaces and links named with hostPrefix.
func removeHostLeftovers() {
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], hostPrefix) {
			_ = exec.Command("ip", "netns", "del", f[0]).Run()
		}
	}
	out, _ = exec.Command("ip", "-o", "link", "show").Output()
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		if strings.HasPrefix(name, hostPrefix) {
			_ = exec.Command("ip", "link", "del", name).Run()
		}
	}
}

func mustIP(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func runEnv(env []string, prog string, args ...string) (string, error) {
	cmd := exec.Command(prog, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	return string(out), err
}

func writeFile(t *testing.T, name, text string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return fmt.Sprintf("%x", b)
}
