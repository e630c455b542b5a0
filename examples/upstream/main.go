// Command upstream is the sample API used by `make demo` and the benchmarks: it answers
// every request with a small JSON document that shows the identity headers the sagate
// sidecar injected, so a person can see what the backend is told.
//
//	upstream -listen 127.0.0.1:9000
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"slices"
	"strings"
	"time"
)

// identityHeaders are the headers sagate sets; the sample API echoes them back.
var identityHeaders = []string{
	"X-Service-Account-Id", "X-Service-Account", "X-Workspace",
	"X-Api-Key-Id", "X-Project", "X-Project-Role",
}

func main() {
	listen := flag.String("listen", "127.0.0.1:9000", "address to listen on")
	quiet := flag.Bool("quiet", false, "answer a fixed small body (for load tests)")
	flag.Parse()

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if *quiet {
			_, _ = w.Write([]byte(`{"ok":true}` + "\n"))
			return
		}
		// Every identity header as received, also in another spelling (X_Workspace):
		// a forged one that got past the sidecar would show here under its own name.
		seen := map[string]string{}
		for name, vals := range r.Header {
			if slices.Contains(identityHeaders, http.CanonicalHeaderKey(strings.ReplaceAll(name, "_", "-"))) {
				seen[name] = strings.Join(vals, ", ")
			}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(map[string]any{
			"message":              "hello from the sample API",
			"path":                 r.URL.Path,
			"authorization_header": r.Header.Get("Authorization") != "",
			"identity":             seen,
		})
	})
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("sample API listening on %s", *listen)
	log.Fatal(srv.ListenAndServe())
}
