// Command caddy is Caddy with its standard modules and the sagate sidecar
// (http.handlers.sagate, Caddyfile directive sagate) built in: what
// "xcaddy build --with github.com/sagate/sagate/caddymodule" produces.
// See xcaddy.md and Caddyfile.example.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	// plug in Caddy modules here
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/sagate/sagate/caddymodule"
)

func main() {
	caddycmd.Main()
}
