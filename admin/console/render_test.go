package console

import (
	"net/http"
	"testing"
	"time"
)

func TestRelTime(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		t    time.Time
		want string
	}{
		{time.Time{}, "never"},
		{now.Add(-10 * time.Second), "just now"},
		{now.Add(10 * time.Second), "in under a minute"},
		{now.Add(-time.Minute), "1 minute ago"},
		{now.Add(-3*time.Hour - 10*time.Minute), "3 hours ago"},
		{now.Add(-47 * time.Hour), "47 hours ago"},
		{now.Add(720*time.Hour - time.Second), "in 30 days"},
		{now.Add(-90 * 24 * time.Hour), "3 months ago"},
		{now.Add(3 * 365 * 24 * time.Hour), "in 3 years"},
	} {
		if got := relTime(c.t, now); got != c.want {
			t.Errorf("relTime(now%+v) = %q, want %q", c.t.Sub(now), got, c.want)
		}
	}
}

func TestSameOrigin(t *testing.T) {
	for _, c := range []struct {
		name string
		hdr  map[string]string
		want bool
	}{
		{"fetch metadata same-origin", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "null"}, true},
		{"fetch metadata cross-site wins over a matching Origin", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "http://console.test"}, false},
		{"fetch metadata none", map[string]string{"Sec-Fetch-Site": "none"}, false},
		{"Origin matches", map[string]string{"Origin": "https://console.test"}, true},
		{"Origin of another host", map[string]string{"Origin": "https://console.test.evil"}, false},
		{"Origin with userinfo trick", map[string]string{"Origin": "https://console.test@evil.example"}, false},
		{"Origin null, Referer matches", map[string]string{"Origin": "null", "Referer": "https://console.test/console/x"}, true},
		{"Referer of another host", map[string]string{"Referer": "https://evil.example/console.test"}, false},
		{"ftp Origin", map[string]string{"Origin": "ftp://console.test"}, false},
		{"nothing", map[string]string{}, false},
	} {
		r, _ := http.NewRequest(http.MethodPost, "http://console.test/console/sign-in", nil)
		for k, v := range c.hdr {
			r.Header.Set(k, v)
		}
		if got := sameOrigin(r); got != c.want {
			t.Errorf("%s: sameOrigin = %v, want %v", c.name, got, c.want)
		}
	}
}
