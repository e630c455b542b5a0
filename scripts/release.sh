#!/usr/bin/env bash
# make release: static binaries of sagate and of Caddy with the sagate module, for each
# of ARCHES (default: linux/amd64 linux/arm64), into DIST (default: dist/), with a
# SHA256SUMS file.
#
# VERSION defaults to the git tag on HEAD, else a Go pseudo-version of HEAD
# (v0.0.0-YYYYMMDDhhmmss-abcdefabcdef, "+dirty" left out: a dirty tree is refused unless
# ALLOW_DIRTY=1). sagate gets it through -ldflags (sagate version). Caddy is built, as
# xcaddy does, from a throwaway module with its own main package that requires
# github.com/sagate/sagate at VERSION, replaced by this checkout: Caddy's `list-modules --versions` then shows
# "http.handlers.sagate VERSION". The binaries of this machine's platform are run to check
# both.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
GO=${GO:-go}
DIST=${DIST:-dist}
ARCHES=${ARCHES:-"linux/amd64 linux/arm64"}

if [[ -n "$(git status --porcelain --untracked-files=no)" && "${ALLOW_DIRTY:-}" != 1 ]]; then
	echo "release: the work tree has uncommitted changes (ALLOW_DIRTY=1 to build anyway)" >&2
	exit 1
fi
if [[ -z "${VERSION:-}" ]]; then
	VERSION=$(git describe --tags --exact-match 2>/dev/null || true)
	if [[ -z "$VERSION" ]]; then
		VERSION="v0.0.0-$(TZ=UTC git log -1 --date=format-local:%Y%m%d%H%M%S --format=%cd)-$(git rev-parse --short=12 HEAD)"
	fi
fi
if ! [[ "$VERSION" =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
	echo "release: VERSION $VERSION is not a semantic version (vMAJOR.MINOR.PATCH[-PRE])" >&2
	exit 1
fi

mkdir -p "$DIST"
dist=$(cd "$DIST" && pwd)
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT

# The module Caddy is built from: sagate as a dependency at VERSION.
cat >"$build/go.mod" <<MOD
module sagate.invalid/release

go $($GO list -m -f '{{.GoVersion}}')

require github.com/sagate/sagate $VERSION

replace github.com/sagate/sagate $VERSION => $root
MOD
cp go.sum "$build/go.sum"
# Its own main package, the same as cmd/caddy: built from a package of the sagate module,
# Go would make sagate the main module, which list-modules does not look at.
cat >"$build/main.go" <<'SRC'
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/sagate/sagate/caddymodule"
)

func main() {
	caddycmd.Main()
}
SRC
(cd "$build" && GOFLAGS=-mod=mod $GO mod tidy >/dev/null)

for platform in $ARCHES; do
	os=${platform%/*}
	arch=${platform#*/}
	echo "release: $VERSION $os/$arch"
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch $GO build -trimpath -ldflags "-s -w -X main.version=$VERSION" \
		-o "$dist/sagate-$VERSION-$os-$arch" ./cmd/sagate
	(cd "$build" && CGO_ENABLED=0 GOOS=$os GOARCH=$arch $GO build -trimpath -ldflags "-s -w" \
		-o "$dist/caddy-sagate-$VERSION-$os-$arch" .)
done

here="$($GO env GOOS)-$($GO env GOARCH)"
if [[ -x "$dist/sagate-$VERSION-$here" ]]; then
	"$dist/sagate-$VERSION-$here" version | grep -qF "sagate $VERSION " ||
		{ echo "release: sagate version does not say $VERSION" >&2; exit 1; }
	"$dist/caddy-sagate-$VERSION-$here" list-modules --versions | grep -qxF "http.handlers.sagate $VERSION" ||
		{ echo "release: caddy list-modules --versions does not show http.handlers.sagate $VERSION" >&2; exit 1; }
	echo "release: checked sagate version and caddy list-modules --versions on $here"
fi

(cd "$dist" && sha256sum -- sagate-"$VERSION"-* caddy-sagate-"$VERSION"-* >SHA256SUMS && cat SHA256SUMS)
