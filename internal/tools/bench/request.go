package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// Get sends GET url with the key as a bearer token on hc, reads the body to its end
// so that the connection is reused, and returns the status code.
func Get(ctx context.Context, hc *http.Client, url, key string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("sending request: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}
