package admintest

import (
	"fmt"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest/observer"
)

// AssertNoSecrets fails if any line in logs, message or field, contains one of secrets.
func AssertNoSecrets(t testing.TB, logs *observer.ObservedLogs, secrets ...string) {
	t.Helper()
	for _, e := range logs.All() {
		line := e.Message + " " + e.LoggerName
		for k, v := range e.ContextMap() {
			line += fmt.Sprintf(" %s=%v", k, v)
		}
		for _, s := range secrets {
			if s != "" && strings.Contains(line, s) {
				t.Fatalf("a log line (%q) contains a secret ending in …%s", e.Message, s[max(0, len(s)-6):])
			}
		}
	}
}
