#!/usr/bin/env bash
# knative-queue.sh builds Knative Serving's queue-proxy (cmd/queue) for hack/bench's
# side-by-side comparison and prints its path:
#
#   KNATIVE_QUEUE_PROXY=$(hack/knative-queue.sh) go run ./hack/bench
#
# The binary is cached in ~/.cache/servekit/bin (a few minutes cold on 2 cores).
# `go install knative.dev/serving/cmd/queue@VERSION` refuses a module whose go.mod has
# replace directives, so the build goes through a throwaway module that copies them.
# v0.42.2 is the newest release whose dependencies the Go module proxy serves here
# (v0.51.0 needs knative.dev/pkg and knative.dev/networking pseudo-versions it refuses).
set -euo pipefail

VERSION=${KNATIVE_VERSION:-v0.42.2}
BIN_DIR="${SERVEKIT_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/servekit/bin}"
OUT="$BIN_DIR/knative-queue-$VERSION"
if [ -x "$OUT" ]; then
	echo "$OUT"
	exit 0
fi
mkdir -p "$BIN_DIR"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"
cat >go.mod <<MOD
module knativequeuebuild

go 1.22

require knative.dev/serving $VERSION
MOD
# Copy the release's own replace directives (the reason go install refuses it).
go mod download -json "knative.dev/serving@$VERSION" >dl.json
GOMOD=$(sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p' dl.json)
sed -n '/^replace /p' "$GOMOD" >>go.mod
printf '//go:build tools\n\npackage knativequeuebuild\n\nimport _ "knative.dev/serving/cmd/queue"\n' >tools.go
go mod tidy >&2
go build -o "$OUT" knative.dev/serving/cmd/queue >&2
echo "$OUT"
