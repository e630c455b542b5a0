package admin

import (
	"mime"
	"net/http"
	"net/url"
)

// Error codes of the cross-site guard.
const (
	// CodeCrossSite refuses a state-changing request a browser sent from another site.
	CodeCrossSite = "cross_site"
	// CodeUnsupportedMediaType refuses a state-changing request without
	// Content-Type: application/json.
	CodeUnsupportedMediaType = "unsupported_media_type"
)

// crossSite refuses a state-changing /v1 request (any method but GET, HEAD and OPTIONS)
// that a web page on another site could have made a browser send. A browser sends the
// credentials it holds for the admin (an authenticating proxy's session, a cookie) with
// any form a page posts to it, so the API accepts a change only when:
//   - Sec-Fetch-Site, if sent, is same-origin or none (a browser marks a request a page of
//     another origin started as cross-site or same-site);
//   - Origin, if sent, names the host the request was sent to ("null", the origin of
//     a sandboxed or data: page, is refused);
//   - Content-Type is application/json, bodiless requests included: a form can send only
//     urlencoded, multipart or text/plain, and a page that sets application/json on a
//     request to another origin needs a CORS preflight, which the admin never grants.
//
// A script or the CLI sends neither Sec-Fetch-Site nor Origin and passes. The checks hold
// for every principal, as no caller needs a browser to send it a cross-site change. The
// error never echoes the headers.
func crossSite(r *http.Request) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return &httpError{status: http.StatusForbidden, code: CodeCrossSite,
			message: "refused: the browser says another site sent this request; changes are accepted only from scripts or from the admin's own origin"}
	}
	if vals := r.Header.Values("Origin"); len(vals) > 0 && !sameHost(vals, r.Host) {
		return &httpError{status: http.StatusForbidden, code: CodeCrossSite,
			message: "refused: the Origin header names another origin than the admin's; changes are accepted only from scripts or from the admin's own origin"}
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return &httpError{status: http.StatusUnsupportedMediaType, code: CodeUnsupportedMediaType,
			message: "Content-Type must be application/json on every " + r.Method + ", with or without a body"}
	}
	return nil
}

// sameHost reports whether the one Origin value names an http(s) origin whose host
// (with its port) is host.
func sameHost(vals []string, host string) bool {
	if len(vals) != 1 {
		return false
	}
	u, err := url.Parse(vals[0])
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.Host == host &&
		u.Path == "" && u.RawQuery == "" && u.User == nil
}
