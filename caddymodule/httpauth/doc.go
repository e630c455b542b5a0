// Package httpauth holds the sidecar's request-level checks that need nothing of Caddy:
// reading the bearer key from the Authorization header (BearerKey), removing client-sent
// identity headers in every spelling (Sanitizer), and putting the request path in a form
// every component reads the same way (CleanPath). Keeping them apart from the Caddy module
// lets their fuzz targets build and run in seconds.
package httpauth
