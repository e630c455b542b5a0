package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sagate/sagate/keystore"
)

func TestStatusOf(t *testing.T) {
	cases := map[keystore.Kind]int{
		keystore.KindInvalid: 400, keystore.KindNotFound: 404, keystore.KindNameTaken: 409,
		keystore.KindLimitReached: 409, keystore.KindAmbiguous: 409, keystore.KindState: 422, "other": 500,
		keystore.KindUnauthenticated: 401, keystore.KindPermissionDenied: 403,
	}
	for k, want := range cases {
		if got := statusOf(k); got != want {
			t.Errorf("statusOf(%s) = %d, want %d", k, got, want)
		}
	}
}

func TestParseTrustedProxies(t *testing.T) {
	cases := []struct {
		in   string
		want string // "" means an error
	}{
		{"10.0.0.0/8", "[10.0.0.0/8]"},
		{"127.0.0.1, ::1", "[127.0.0.1/32 ::1/128]"},
		{"10.1.2.3/8", "[10.0.0.0/8]"},
		{"::ffff:10.0.0.1", "[10.0.0.1/32]"},
		{"", "[]"},
		{"example.com", ""},
		{"10.0.0.0/33", ""},
	}
	for _, c := range cases {
		got, err := ParseTrustedProxies(c.in)
		if c.want == "" {
			if err == nil {
				t.Errorf("ParseTrustedProxies(%q) = %v, want an error", c.in, got)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != c.want {
			t.Errorf("ParseTrustedProxies(%q) = %v, %v; want %s", c.in, got, err, c.want)
		}
	}
}

func TestNeedsToken(t *testing.T) {
	cases := map[string]bool{
		"/v1": true, "/v1/": true, "/v1/workspaces": true, "//v1/workspaces": true, "/x/../v1/audit": true,
		"/healthz": false, "/readyz": false, "/metrics": false, "/v10": false, "/": false, "/v1x": false,
		"/v1/openapi.json": false, "/v1/x/../openapi.json": false, "/v1/openapi.json/x": true, "/v1/openapi.jsonx": true,
	}
	for p, want := range cases {
		if got := needsToken(p); got != want {
			t.Errorf("needsToken(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestPageOf(t *testing.T) {
	cases := []struct {
		query   string
		size    int
		token   string
		wantErr bool
	}{
		{"", 0, "", false},
		{"page_size=1", 1, "", false},
		{"page_size=1000&page_token=abc", 1000, "abc", false},
		{"page_size=0", 0, "", true},
		{"page_size=-1", 0, "", true},
		{"page_size=1001", 0, "", true},
		{"page_size=1.5", 0, "", true},
		{"page_size=99999999999999999999", 0, "", true},
		{"page_token=" + strings.Repeat("a", 2000), 0, "", true},
	}
	for _, c := range cases {
		p, err := pageOf(httptest.NewRequest("GET", "/?"+c.query, nil))
		if (err != nil) != c.wantErr {
			t.Errorf("pageOf(%q): err %v, want error %v", c.query, err, c.wantErr)
			continue
		}
		if err == nil && (p.Size != c.size || p.Token != c.token) {
			t.Errorf("pageOf(%q) = %+v", c.query, p)
		}
	}
}

func TestDecodeBody(t *testing.T) {
	type in struct {
		Name string `json:"name"`
		N    int    `json:"n"`
	}
	s := &Server{maxBody: 64}
	cases := []struct {
		body, ct string
		optional bool
		status   int // 0: accepted
		msg      string
	}{
		{`{"name": "a", "n": 1}`, "application/json", false, 0, ""},
		{`{"name": "a"}`, "application/json; charset=utf-8", false, 0, ""},
		{`{"name": "a"}`, "", false, 0, ""},
		{``, "", true, 0, ""},
		{`  `, "", false, 400, "required"},
		{`{"name": `, "", false, 400, "unexpected end"},
		{`{"name": "a",}`, "", false, 400, "syntax error"},
		{`{"nome": "a"}`, "", false, 400, `unknown field "nome"`},
		{`{"NAME": "a"}`, "", false, 400, `unknown field "NAME" (field names are case-sensitive: "name")`},
		{`{"Name": "a", "n": 1}`, "", false, 400, `unknown field "Name"`},
		{`{"name": "a", "N": 1}`, "", false, 400, `unknown field "N"`},
		{`{"name": "a", "name": "b"}`, "", false, 400, `field "name" given twice`},
		{`{"name\u0041": "a"}`, "", false, 400, `unknown field "nameA"`},
		{`{"ﬁ": "a"}`, "", false, 400, `unknown field "ﬁ"`},
		{`{"n": 1, "name": "a"}`, "", false, 0, ""},
		{`{"n": "1"}`, "", false, 400, `field "n" must be a whole number`},
		{`{"name": 1}`, "", false, 400, `field "name" must be a string`},
		{`[1]`, "", false, 400, "must be a JSON object"},
		{`{"name": "a"}{}`, "", false, 400, "data after"},
		{`{"name": "` + strings.Repeat("x", 80) + `"}`, "", false, 413, "larger than 64 bytes"},
	}
	for _, c := range cases {
		r := httptest.NewRequest("POST", "/", strings.NewReader(c.body))
		if c.ct != "" {
			r.Header.Set("Content-Type", c.ct)
		}
		var v in
		err := s.decodeBody(httptest.NewRecorder(), r, &v, c.optional)
		if c.status == 0 {
			if err != nil {
				t.Errorf("decodeBody(%q): %v", c.body, err)
			}
			continue
		}
		var he *httpError
		if !errors.As(err, &he) || he.status != c.status || !strings.Contains(he.message, c.msg) {
			t.Errorf("decodeBody(%q) = %v, want %d containing %q", c.body, err, c.status, c.msg)
		}
	}
}

func TestAPIErrorParsing(t *testing.T) {
	e := apiError(409, []byte(`{"error": {"code": "ambiguous", "message": "2 keys"}}`))
	if e.Status != 409 || e.Code != "ambiguous" || e.Message != "2 keys" {
		t.Fatalf("%+v", e)
	}
	e = apiError(502, []byte(`<html>bad gateway</html>`))
	if e.Status != 502 || e.Code != "" || e.Message != http.StatusText(502) {
		t.Fatalf("%+v", e)
	}
}

func TestAllFollowsPages(t *testing.T) {
	pages := map[string]List[int]{
		"":   {Items: []int{1, 2}, NextPageToken: "p2"},
		"p2": {Items: []int{3}, NextPageToken: "p3"},
		"p3": {Items: []int{4}},
	}
	got, err := all(context.Background(), 2, func(_ context.Context, o ListOptions) (List[int], error) {
		if o.PageSize != 2 {
			return List[int]{}, fmt.Errorf("page size %d", o.PageSize)
		}
		return pages[o.PageToken], nil
	})
	if err != nil || fmt.Sprint(got) != "[1 2 3 4]" {
		t.Fatalf("all = %v, %v", got, err)
	}
	_, err = all(context.Background(), 2, func(context.Context, ListOptions) (List[int], error) {
		return List[int]{Items: []int{1}, NextPageToken: "same"}, nil
	})
	if err == nil {
		t.Fatal("all followed the same token forever")
	}
}
