package main

import (
	"context"
	"strings"
	"testing"

	"github.com/sagate/sagate/internal/testing/redistest"
)

func TestRedisACL(t *testing.T) {
	tests := []struct {
		name       string
		vars       map[string]string
		args       []string
		wantCode   int
		wantOut    []string // substrings of stdout
		notOut     []string
		wantStderr string
	}{
		{name: "placeholders", args: []string{"redis-acl"}, wantOut: []string{
			"ACL SETUSER sagate-sidecar reset on >CHANGE-ME ", "ACL SETUSER sagate-admin reset on >CHANGE-ME ",
			"%R~sagate:key:*", "%W~sagate:lastused", "~sagate:*"},
			wantStderr: "SAGATE_REDIS_SIDECAR_PASSWORD is not set"},
		{name: "passwords from the environment", vars: map[string]string{envSidecarRedisPassword: "side-secret", envAdminRedisPassword: "adm-secret"},
			args:    []string{"redis-acl", "--sidecar-user", "edge", "--admin-user", "ctl"},
			wantOut: []string{"ACL SETUSER edge reset on #", "ACL SETUSER ctl reset on #"},
			notOut:  []string{"side-secret", "adm-secret", "CHANGE-ME"}},
		{name: "aclfile", args: []string{"redis-acl", "--format", "aclfile"}, wantOut: []string{"user sagate-sidecar on >CHANGE-ME ", "user sagate-admin on "},
			notOut: []string{"ACL SETUSER", " reset "}},
		{name: "bad format", args: []string{"redis-acl", "--format", "yaml"}, wantCode: 2, wantStderr: "--format must be setuser or aclfile"},
		{name: "bad user", args: []string{"redis-acl", "--sidecar-user", "a b"}, wantCode: 2, wantStderr: `Redis user name "a b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runWith(t, tt.vars, tt.args...)
			if r.code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr %s", r.code, tt.wantCode, r.stderr)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, r.stdout)
				}
			}
			for _, w := range tt.notOut {
				if strings.Contains(r.stdout+r.stderr, w) {
					t.Errorf("output holds %q:\n%s", w, r.stdout)
				}
			}
			if !strings.Contains(r.stderr, tt.wantStderr) {
				t.Errorf("stderr %q lacks %q", r.stderr, tt.wantStderr)
			}
		})
	}
}

// TestRedisACLApplies feeds the printed commands to a real Redis, as
// "sagate redis-acl | redis-cli" does, and logs in as both users.
func TestRedisACLApplies(t *testing.T) {
	srv := redistest.Start(t)
	r := runWith(t, map[string]string{envSidecarRedisPassword: "side-secret", envAdminRedisPassword: "adm-secret"}, "redis-acl")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	ctx := context.Background()
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), r.stdout)
	}
	for _, line := range lines {
		var args []any
		for _, f := range strings.Fields(line) {
			args = append(args, f)
		}
		if err := srv.Client().Do(ctx, args...).Err(); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
	}
	for user, pass := range map[string]string{"sagate-sidecar": "side-secret", "sagate-admin": "adm-secret"} {
		if err := srv.Client().Do(ctx, "AUTH", user, pass).Err(); err != nil {
			t.Errorf("AUTH %s: %v", user, err)
		}
	}
}
