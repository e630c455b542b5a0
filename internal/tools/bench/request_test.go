package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestGetSendsTheKeyAndReturnsTheStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer sak_test" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	for _, tt := range []struct {
		key  string
		want int
	}{{"sak_test", http.StatusOK}, {"sak_other", http.StatusUnauthorized}} {
		code, err := Get(context.Background(), srv.Client(), srv.URL, tt.key)
		if err != nil || code != tt.want {
			t.Errorf("Get with %s = %d, %v; want %d", tt.key, code, err, tt.want)
		}
	}
	if _, err := Get(context.Background(), srv.Client(), "http://127.0.0.1:1/", "k"); err == nil {
		t.Error("Get to a closed port: want an error")
	}
}
