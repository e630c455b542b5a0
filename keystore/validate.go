package keystore

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sagate/sagate/keystore/wire"
)

var (
	keyNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)
)

// Limits on free-text and durations.
const (
	MaxDescriptionLen = 1024
	// MaxDuration bounds every duration an admin can give (expiry, retain): ten years.
	MaxDuration = 3650 * 24 * time.Hour
	// MaxServiceAccountsLimit bounds a workspace's max_service_accounts.
	MaxServiceAccountsLimit = 100000
	// MinRateLimitRPS and MaxRateLimitRPS bound a rate limit's rate: from one request
	// per 1000 seconds to a million per second.
	MinRateLimitRPS = 0.001
	MaxRateLimitRPS = 1e6
	// MaxRateLimitBurst bounds a rate limit's burst.
	MaxRateLimitBurst = 1000000
)

// CheckRateLimit validates a rate limit and returns it with its default filled in: a
// Burst of 0 (absent) is the rate rounded up, at least 1, so that one second's worth
// of requests may come at once.
func CheckRateLimit(rl RateLimit) (RateLimit, error) {
	if !(rl.RPS >= MinRateLimitRPS && rl.RPS <= MaxRateLimitRPS) { // also refuses NaN
		return rl, Invalid("rate_limit.rps", "must be a number of requests per second from %g to %g", MinRateLimitRPS, float64(MaxRateLimitRPS))
	}
	if rl.Burst == 0 {
		rl.Burst = max(1, int64(math.Ceil(rl.RPS)))
	}
	if rl.Burst < 1 || rl.Burst > MaxRateLimitBurst {
		return rl, Invalid("rate_limit.burst", "must be a whole number of requests from 1 to %d", MaxRateLimitBurst)
	}
	return rl, nil
}

// ValidateSlug checks a workspace or service-account name: ^[a-z][a-z0-9-]{0,62}$.
func ValidateSlug(field, s string) error {
	if !wire.ValidSlug(s) {
		return Invalid(field, "must match ^[a-z][a-z0-9-]{0,62}$ (lower-case letter first, then letters, digits or '-', at most 63)")
	}
	return nil
}

// ValidateProject checks a project name: "*" or ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$.
func ValidateProject(s string) error {
	if wire.ValidProject(s) {
		return nil
	}
	return Invalid("project", "must be * or match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
}

// ValidateKeyName checks an API key's name: ^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$.
func ValidateKeyName(s string) error {
	if !keyNameRE.MatchString(s) {
		return Invalid("name", "must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
	}
	return nil
}

// ValidateDescription checks an account's description with ValidateText, at most MaxDescriptionLen bytes.
func ValidateDescription(s string) error {
	return ValidateText("description", s, MaxDescriptionLen)
}

// ValidateText checks free text of field: valid UTF-8, at most maxLen bytes, and no
// character that hides or reorders what a reader of a table, log or terminal sees:
// control characters other than tab and newline, and format characters (Unicode
// category Cf), which include the bidirectional overrides, isolates and marks
// (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C), zero-width characters and U+FEFF.
func ValidateText(field, s string, maxLen int) error {
	if len(s) > maxLen {
		return Invalid(field, "must be at most %d bytes", maxLen)
	}
	if !utf8.ValidString(s) {
		return Invalid(field, "must be valid UTF-8")
	}
	for i, r := range s {
		switch {
		case r == '\n' || r == '\t':
		case unicode.IsControl(r):
			return Invalid(field, "must not contain control characters (U+%04X at byte %d)", r, i)
		case unicode.Is(unicode.Cf, r):
			return Invalid(field, "must not contain invisible formatting or text-direction characters (U+%04X at byte %d)", r, i)
		}
	}
	return nil
}

// ParseDuration parses an admin duration: a Go duration ("90m", "1h30m") or whole days
// "Nd" optionally followed by a Go duration ("90d", "1d12h"). The result must be > 0
// and at most MaxDuration. field names the input in the error.
func ParseDuration(field, s string) (time.Duration, error) {
	d, err := parseDuration(s)
	if err != nil {
		return 0, Invalid(field, "%q is not a duration like 60m, 12h or 90d", truncate(s, 32))
	}
	if d <= 0 {
		return 0, Invalid(field, "must be greater than 0")
	}
	if d > MaxDuration {
		return 0, Invalid(field, "must be at most 3650d")
	}
	return d, nil
}

func parseDuration(s string) (time.Duration, error) {
	if i := strings.IndexByte(s, 'd'); i > 0 {
		days, err := strconv.ParseUint(s[:i], 10, 32)
		if err != nil || days > 100000 {
			return 0, strconv.ErrSyntax
		}
		d := time.Duration(days) * 24 * time.Hour
		if rest := s[i+1:]; rest != "" {
			if rest[0] == '-' || rest[0] == '+' {
				return 0, strconv.ErrSyntax
			}
			r, err := time.ParseDuration(rest)
			if err != nil {
				return 0, err
			}
			d += r
		}
		return d, nil
	}
	if strings.HasPrefix(s, "+") {
		return 0, strconv.ErrSyntax
	}
	return time.ParseDuration(s)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
