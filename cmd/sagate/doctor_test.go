package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sagate/sagate/internal/testing/redistest"
	"github.com/sagate/sagate/keystore/redisops"
	"github.com/sagate/sagate/keystore/wire"
)

// doctorReport is sagate doctor's -o json output.
type doctorReport struct {
	Role   string  `json:"role"`
	OK     bool    `json:"ok"`
	Checks []check `json:"checks"`
}

// doctorRun runs sagate doctor -o json with vars and args and returns its exit status and report.
func doctorRun(t *testing.T, vars map[string]string, args ...string) (int, doctorReport) {
	t.Helper()
	r := runWith(t, vars, append([]string{"doctor", "-o", "json"}, args...)...)
	var rep doctorReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("doctor %v: exit %d, stdout not JSON (%v):\n%s\nstderr: %s", args, r.code, err, r.stdout, r.stderr)
	}
	return r.code, rep
}

// status returns the status and detail of the check named name (the last one of that name).
func (r doctorReport) status(name string) (string, string) {
	st, detail := "missing", ""
	for _, c := range r.Checks {
		if c.Name == name {
			st, detail = c.Status, c.Detail+" | fix: "+c.Fix
		}
	}
	return st, detail
}

// applyACLUsers creates the users of sagate redis-acl on srv, as
// "sagate redis-acl | redis-cli" does.
func applyACLUsers(t *testing.T, srv *redistest.Server, vars map[string]string) {
	t.Helper()
	r := runWith(t, vars, "redis-acl")
	if r.code != 0 {
		t.Fatalf("redis-acl: exit %d: %s", r.code, r.stderr)
	}
	for line := range strings.SplitSeq(strings.TrimSpace(r.stdout), "\n") {
		var args []any
		for _, f := range strings.Fields(line) {
			args = append(args, f)
		}
		if err := srv.Client().Do(context.Background(), args...).Err(); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
	}
}

// doctorSetup is one Redis with sagate's ACL users, written by a running admin.
type doctorSetup struct {
	srv                      *redistest.Server
	sidecarURL, adminURL     string
	keyFile, tokenFile, db   string
	pub                      string
	stopAdmin                func() result
	sidecarArgs, adminArgs   []string
	otherPub, wrongPassedURL string
}

func newDoctorSetup(t *testing.T) *doctorSetup {
	t.Helper()
	s := &doctorSetup{srv: redistest.Start(t)}
	applyACLUsers(t, s.srv, map[string]string{envSidecarRedisPassword: "side-secret-7f3a", envAdminRedisPassword: "adm-secret-91c2"})
	s.sidecarURL = "redis://" + redisops.DefaultSidecarACLUser + ":side-secret-7f3a@" + s.srv.Addr() + "/0"
	s.adminURL = "redis://" + redisops.DefaultAdminACLUser + ":adm-secret-91c2@" + s.srv.Addr() + "/0"
	s.wrongPassedURL = "redis://" + redisops.DefaultSidecarACLUser + ":not-the-password@" + s.srv.Addr() + "/0"
	dir := t.TempDir()
	s.keyFile = filepath.Join(dir, "signing.key")
	k, err := writeNewSigningKey(s.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	s.pub = k.Public().String()
	other, err := wire.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	s.otherPub = other.Public().String()
	s.tokenFile = filepath.Join(dir, "admin.token")
	if err := os.WriteFile(s.tokenFile, []byte(serveToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.db = "sqlite://" + filepath.Join(dir, "sagate.db")
	_, s.stopAdmin = serving(t, nil, "--store", s.db, "--redis", s.adminURL, "--signing-key-file", s.keyFile, "--admin-token-file", s.tokenFile)
	s.sidecarArgs = []string{"--redis", s.sidecarURL, "--signing-keys", s.pub}
	s.adminArgs = []string{"--role", "admin", "--redis", s.adminURL, "--store", s.db, "--signing-key-file", s.keyFile, "--admin-token-file", s.tokenFile}
	return s
}

// TestDoctor runs sagate doctor against a good setup (ACL users, a running admin) and
// against each mistake it should catch, on a real Redis.
func TestDoctor(t *testing.T) {
	s := newDoctorSetup(t)
	dir := t.TempDir()
	weakToken := filepath.Join(dir, "weak.token")
	if err := os.WriteFile(weakToken, []byte("abcabcabcabcabcabcabcabc"), 0o600); err != nil {
		t.Fatal(err)
	}
	openKey := filepath.Join(dir, "open.key")
	b, err := os.ReadFile(s.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(openKey, b, 0o644); err != nil {
		t.Fatal(err)
	}
	caddyfile := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(caddyfile, []byte(`# an API host
api.example.com {
	sagate {
		redis {$SAGATE_REDIS_URL}
		signing_keys "`+s.pub+`"   # the admin's public key
		headers {
			role X-Role
		}
	}
	reverse_proxy 127.0.0.1:9000
}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	with := func(args []string, flag, value string) []string {
		out := append([]string(nil), args...)
		for i := range out {
			if out[i] == flag {
				out[i+1] = value
			}
		}
		return out
	}
	tests := []struct {
		name     string
		vars     map[string]string
		args     []string
		wantCode int
		want     map[string]string // check name → status
		detail   string            // a substring of some check's detail or fix
	}{
		{name: "sidecar: good", args: s.sidecarArgs, want: map[string]string{
			"redis": statusOK, "redis user": statusOK, "clock": statusOK, "signatures": statusOK, "events": statusOK, "eviction": statusOK},
			detail: "key record writes refused"},
		{name: "sidecar: from the Caddyfile", vars: map[string]string{"SAGATE_REDIS_URL": s.sidecarURL}, args: []string{"--caddyfile", caddyfile},
			want: map[string]string{"configuration": statusOK, "redis user": statusOK, "signatures": statusOK}, detail: caddyfile + ":3"},
		{name: "sidecar: a user that may write records", args: with(s.sidecarArgs, "--redis", s.srv.URL()), wantCode: 1,
			want: map[string]string{"redis user": statusFail, "signatures": statusOK}, detail: "may write key records"},
		{name: "sidecar: another admin's public key", args: with(s.sidecarArgs, "--signing-keys", s.otherPub), wantCode: 1,
			want: map[string]string{"signatures": statusFail}, detail: "not among the configured public keys"},
		{name: "sidecar: a wrong password", args: with(s.sidecarArgs, "--redis", s.wrongPassedURL), wantCode: 1,
			want: map[string]string{"redis": statusFail}, detail: "sagate redis-acl"},
		{name: "sidecar: Redis unreachable", args: with(s.sidecarArgs, "--redis", fmt.Sprintf("redis://127.0.0.1:%d/0", redistest.FreePort(t))), wantCode: 1,
			want: map[string]string{"redis": statusFail}, detail: "no answer"},
		{name: "sidecar: not a public key", args: with(s.sidecarArgs, "--signing-keys", "sagate-ed25519:nope"), wantCode: 1,
			want: map[string]string{"signing keys": statusFail, "redis user": statusOK}},
		{name: "admin: good", args: s.adminArgs, want: map[string]string{
			"store": statusOK, "signing key": statusOK, "admin token": statusOK, "redis user": statusOK, "signatures": statusOK, "events": statusOK, "replication": statusOK},
			detail: "no replicas"},
		{name: "admin: weak token", args: with(s.adminArgs, "--admin-token-file", weakToken), wantCode: 1,
			want: map[string]string{"admin token": statusFail}, detail: "too predictable"},
		{name: "admin: key file readable by others", args: with(s.adminArgs, "--signing-key-file", openKey), wantCode: 1,
			want: map[string]string{"signing key": statusFail}, detail: "chmod 600"},
		{name: "admin: no database", args: with(s.adminArgs, "--store", "sqlite://"+filepath.Join(dir, "none.db")), wantCode: 1,
			want: map[string]string{"store": statusFail}},
		{name: "admin: the sidecar's user", args: with(s.adminArgs, "--redis", s.sidecarURL), wantCode: 1,
			want: map[string]string{"redis user": statusFail}, detail: "may not write key records"},
		{name: "admin: a user that may administer Redis", args: with(s.adminArgs, "--redis", s.srv.URL()),
			want: map[string]string{"redis user": statusWarn}, detail: "server administration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, rep := doctorRun(t, tt.vars, tt.args...)
			if code != tt.wantCode || rep.OK != (tt.wantCode == 0) {
				t.Errorf("exit %d ok %v, want %d: %+v", code, rep.OK, tt.wantCode, rep.Checks)
			}
			for name, want := range tt.want {
				if got, detail := rep.status(name); got != want {
					t.Errorf("check %q: %s, want %s (%s)", name, got, want, detail)
				}
			}
			if tt.detail != "" && !strings.Contains(fmt.Sprintf("%+v", rep.Checks), tt.detail) {
				t.Errorf("no check says %q: %+v", tt.detail, rep.Checks)
			}
		})
	}
}

// TestDoctorRedisSetup: the checks of Redis' own configuration and of the clock, each
// failing and then passing once fixed, and the events stream left behind its marker.
func TestDoctorRedisSetup(t *testing.T) {
	s := newDoctorSetup(t)
	ctx := context.Background()
	root := s.srv.Client()

	t.Run("eviction", func(t *testing.T) {
		if err := root.ConfigSet(ctx, "maxmemory", "512mb").Err(); err != nil {
			t.Fatal(err)
		}
		if err := root.ConfigSet(ctx, "maxmemory-policy", "allkeys-lru").Err(); err != nil {
			t.Fatal(err)
		}
		code, rep := doctorRun(t, nil, s.sidecarArgs...)
		if st, d := rep.status("eviction"); code != 1 || st != statusFail || !strings.Contains(d, "noeviction") {
			t.Errorf("allkeys-lru: exit %d, eviction %s (%s)", code, st, d)
		}
		if err := root.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
			t.Fatal(err)
		}
		if code, rep := doctorRun(t, nil, s.sidecarArgs...); code != 0 {
			t.Errorf("noeviction: exit %d: %+v", code, rep.Checks)
		}
	})

	t.Run("clock", func(t *testing.T) {
		defer func(f func() time.Time) { doctorNow = f }(doctorNow)
		doctorNow = func() time.Time { return time.Now().Add(-5 * time.Second) }
		code, rep := doctorRun(t, nil, s.sidecarArgs...)
		if st, d := rep.status("clock"); code != 1 || st != statusFail || !strings.Contains(d, "NTP") {
			t.Errorf("5 s behind: exit %d, clock %s (%s)", code, st, d)
		}
	})

	t.Run("replication", func(t *testing.T) {
		replica := redistest.Start(t)
		if err := replica.Client().SlaveOf(ctx, "127.0.0.1", fmt.Sprint(s.srv.Port)).Err(); err != nil {
			t.Fatal(err)
		}
		redistestEventually(t, func() bool {
			info, _ := root.Info(ctx, "replication").Result()
			return strings.Contains(info, "connected_slaves:1")
		})
		code, rep := doctorRun(t, nil, s.adminArgs...)
		if st, d := rep.status("replication"); code != 0 || st != statusWarn || !strings.Contains(d, "min-replicas-to-write 1") {
			t.Errorf("unguarded replica: exit %d, replication %s (%s)", code, st, d)
		}
		for k, v := range map[string]string{"min-replicas-to-write": "1", "min-replicas-max-lag": "10"} {
			if err := root.ConfigSet(ctx, k, v).Err(); err != nil {
				t.Fatal(err)
			}
		}
		if _, rep := doctorRun(t, nil, s.adminArgs...); func() bool { st, _ := rep.status("replication"); return st != statusOK }() {
			t.Errorf("guarded replica: %+v", rep.Checks)
		}
		if err := root.ConfigSet(ctx, "min-replicas-to-write", "0").Err(); err != nil {
			t.Fatal(err)
		}
		if err := replica.Client().SlaveOf(ctx, "NO", "ONE").Err(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("events behind the marker", func(t *testing.T) {
		// Stop the admin, so that nothing repairs what follows: a revision marker, signed by
		// the admin's key, ahead of every event, as when the admin raised it and then
		// failed to append the event.
		if r := s.stopAdmin(); r.code != 0 {
			t.Fatalf("admin exit %d: %s", r.code, r.stderr)
		}
		k, err := wire.LoadSigningKey(s.keyFile)
		if err != nil {
			t.Fatal(err)
		}
		if err := root.Set(ctx, wire.RedisRev, wire.SealRev(k, 1000), 0).Err(); err != nil {
			t.Fatal(err)
		}
		code, rep := doctorRun(t, nil, s.sidecarArgs...)
		if st, d := rep.status("events"); code != 1 || st != statusFail || !strings.Contains(d, "lags") {
			t.Errorf("marker ahead of events: exit %d, events %s (%s)", code, st, d)
		}
		if err := root.FlushAll(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		code, rep = doctorRun(t, nil, s.sidecarArgs...)
		if st, d := rep.status("signatures"); code != 1 || st != statusFail || !strings.Contains(d, "sagate serve") {
			t.Errorf("empty Redis: exit %d, signatures %s (%s)", code, st, d)
		}
	})
}

// redistestEventually polls cond for up to 10 s.
func redistestEventually(t *testing.T, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met within 10 s")
}

func TestCaddyfileTargets(t *testing.T) {
	env := map[string]string{"R": "redis://r:6379/0", "K": "sagate-ed25519:k2"}
	tests := []struct {
		name, text string
		want       []doctorTarget
		err        string
	}{
		{name: "block", text: "a.example {\n\tsagate {\n\t\tredis redis://h:6379/0\n\t\tsigning_keys k1 k2\n\t}\n}\n",
			want: []doctorTarget{{redis: "redis://h:6379/0", keys: []string{"k1", "k2"}, where: "F:2"}}},
		{name: "url after the directive, env, comments, quotes", text: "# c\nb {\n  sagate /api/* {$R} { # x\n    signing_keys \"{env.K}\" # y\n  }\n}",
			want: []doctorTarget{{redis: "redis://r:6379/0", keys: []string{"sagate-ed25519:k2"}, where: "F:3"}}},
		{name: "default of an unset variable", text: "x {\n sagate {$NOPE:redis://d:1/0} {\n  signing_keys k\n }\n}",
			want: []doctorTarget{{redis: "redis://d:1/0", keys: []string{"k"}, where: "F:2"}}},
		{name: "repeated pair once; nested blocks skipped", text: "a {\n sagate {\n  redis redis://h/0\n  headers {\n   redis X\n  }\n  signing_keys k\n }\n}\nb {\n sagate {\n  redis redis://h/0\n  signing_keys k\n }\n}",
			want: []doctorTarget{{redis: "redis://h/0", keys: []string{"k"}, where: "F:2"}}},
		{name: "no keys", text: "a {\n sagate redis://h/0\n}", err: "no signing_keys"},
		{name: "no sagate", text: "a {\n respond 200\n}", err: "no sagate directive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "F")
			if err := os.WriteFile(f, []byte(tt.text), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := caddyfileTargets(f, func(k string) string { return env[k] })
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				got[i].where = strings.Replace(got[i].where, f, "F", 1)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestDoctorReadsTheWalkthroughCaddyfile: the API hosts' Caddyfile of the walkthrough,
// with its environment file, gives doctor the Redis URL and public key.
func TestDoctorReadsTheWalkthroughCaddyfile(t *testing.T) {
	b, err := os.ReadFile("../../examples/walkthrough/env/caddy-sagate.env")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			env[k] = strings.Trim(v, `"`)
		}
	}
	got, err := caddyfileTargets("../../examples/walkthrough/caddy/api.Caddyfile", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].redis != env["SAGATE_REDIS_URL"] || fmt.Sprint(got[0].keys) != "["+env["SAGATE_SIGNING_KEY"]+"]" {
		t.Errorf("targets %+v, env %v", got, env)
	}
}
