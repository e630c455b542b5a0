package admin

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sagate/sagate/keystore"
)

// APIError is an error answer of the admin API.
type APIError struct {
	Status  int    // HTTP status
	Code    string // e.g. "not_found", "already_exists"; "" when the answer was not the API's JSON
	Message string
}

// Error describes the answer; it never holds the admin token.
func (e *APIError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("admin API: %d %s", e.Status, e.Message)
	}
	return fmt.Sprintf("admin API: %s (%d): %s", e.Code, e.Status, e.Message)
}

// Client calls the admin API. It is safe for concurrent use.
type Client struct {
	base     *url.URL
	token    string
	hc       *http.Client
	rootCAs  *x509.CertPool
	ua       string
	pageSize int // page size of the All* helpers
}

// ClientOption configures a Client.
type ClientOption func(*Client)

// WithHTTPClient makes the Client send requests with hc. Default: a client with a 30 s timeout.
func WithHTTPClient(hc *http.Client) ClientOption { return func(c *Client) { c.hc = hc } }

// WithRootCAs makes the Client trust the admin's certificate only if pool's CAs signed it
// (a private CA; see LoadCAFile) instead of the system's roots. It replaces the Transport
// of the http.Client in use (WithHTTPClient's, or the default).
func WithRootCAs(pool *x509.CertPool) ClientOption { return func(c *Client) { c.rootCAs = pool } }

// LoadCAFile reads the PEM certificates of file into a pool for WithRootCAs.
func LoadCAFile(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading the CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("reading the CA file %s: no PEM certificate in it", file)
	}
	return pool, nil
}

// WithUserAgent sets the User-Agent header. Default: "sagate-admin-client".
func WithUserAgent(ua string) ClientOption { return func(c *Client) { c.ua = ua } }

// WithPageSize sets the page size the All* helpers ask for. Default: keystore.MaxPageSize.
func WithPageSize(n int) ClientOption { return func(c *Client) { c.pageSize = n } }

// NewClient returns a Client of the admin API at baseURL ("http://127.0.0.1:8081") that
// authenticates with token: an operator token or a service account's sak_ key (which
// acts with that account's rights; Client.WhoAmI says which).
func NewClient(baseURL, token string, opts ...ClientOption) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("parsing the admin URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("parsing the admin URL %q: want http(s)://host[:port]", baseURL)
	}
	if token == "" {
		return nil, errors.New("creating the admin client: no admin token")
	}
	c := &Client{base: u, token: token, hc: &http.Client{Timeout: 30 * time.Second}, ua: "sagate-admin-client", pageSize: keystore.MaxPageSize}
	for _, o := range opts {
		o(c)
	}
	if c.rootCAs != nil {
		hc := *c.hc
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: c.rootCAs, MinVersion: tls.VersionTLS12}
		hc.Transport = tr
		c.hc = &hc
	}
	return c, nil
}

// do sends one request; in, when not nil, is the JSON body; out, when not nil, receives the
// JSON answer. A status other than want is an *APIError.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any, want int) error {
	_, err := c.doStatus(ctx, method, path, q, in, out, want)
	return err
}

// doStatus is do for a call that may answer any of wants; it returns the status.
func (c *Client) doStatus(ctx context.Context, method, path string, q url.Values, in, out any, wants ...int) (int, error) {
	u := *c.base
	u.RawPath = c.base.EscapedPath() + path
	u.Path, _ = url.PathUnescape(u.RawPath)
	u.RawQuery = q.Encode()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, fmt.Errorf("encoding the %s %s request: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return 0, fmt.Errorf("building the %s %s request: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.ua)
	if in != nil || (method != http.MethodGet && method != http.MethodHead) {
		// Every change carries it, with or without a body: the admin refuses any other
		// (a browser's form cannot send it to another origin).
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("calling the admin API (%s %s): %w", method, path, err)
	}
	defer resp.Body.Close()
	noteSync(ctx, resp.Header)
	b, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return 0, fmt.Errorf("reading the admin API's answer to %s %s: %w", method, path, err)
	}
	if !slices.Contains(wants, resp.StatusCode) {
		return resp.StatusCode, apiError(resp.StatusCode, b)
	}
	if out == nil {
		return resp.StatusCode, nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return resp.StatusCode, fmt.Errorf("decoding the admin API's answer to %s %s: %w", method, path, err)
	}
	return resp.StatusCode, nil
}

// apiError builds the *APIError of an answer with an unexpected status.
func apiError(status int, body []byte) *APIError {
	var eb ErrorBody
	if err := json.Unmarshal(body, &eb); err == nil && eb.Error.Code != "" {
		return &APIError{Status: status, Code: eb.Error.Code, Message: eb.Error.Message}
	}
	return &APIError{Status: status, Message: http.StatusText(status)}
}

// ListOptions asks for one page of a list.
type ListOptions struct {
	PageSize  int    // 0: the server's default
	PageToken string // from a previous List.NextPageToken; "" for the first page
}

func (o ListOptions) values() url.Values {
	q := url.Values{}
	if o.PageSize > 0 {
		q.Set("page_size", strconv.Itoa(o.PageSize))
	}
	if o.PageToken != "" {
		q.Set("page_token", o.PageToken)
	}
	return q
}

// all follows next_page_token from the first page to the last.
func all[T any](ctx context.Context, pageSize int, page func(context.Context, ListOptions) (List[T], error)) ([]T, error) {
	var items []T
	opts := ListOptions{PageSize: pageSize}
	for {
		l, err := page(ctx, opts)
		if err != nil {
			return items, err
		}
		items = append(items, l.Items...)
		if l.NextPageToken == "" {
			return items, nil
		}
		if l.NextPageToken == opts.PageToken {
			return items, errors.New("listing: the admin API returned the same page token twice")
		}
		opts.PageToken = l.NextPageToken
	}
}

// seg escapes one path segment.
func seg(s string) string { return url.PathEscape(s) }
