package admin

import (
	"context"
	"net/http"
	"net/url"

	"github.com/sagate/sagate/keystore"
)

// GetKey reads one key of an account, by id or last six.
func (c *Client) GetKey(ctx context.Context, ws, sa, key string) (keystore.APIKey, error) {
	var out keystore.APIKey
	return out, c.do(ctx, http.MethodGet, keyPath(ws, sa, key), nil, nil, &out, http.StatusOK)
}

// FindKeys returns every key of workspace ws whose last six characters are last6.
func (c *Client) FindKeys(ctx context.Context, ws, last6 string) ([]keystore.FoundKey, error) {
	var out List[keystore.FoundKey]
	err := c.do(ctx, http.MethodGet, wsPath(ws)+"/keys", url.Values{"last6": {last6}}, nil, &out, http.StatusOK)
	return out.Items, err
}
