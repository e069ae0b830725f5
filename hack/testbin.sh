#!/usr/bin/env bash
# hack/testbin.sh — build (once per machine) the binaries that the real-API-server
# tests in serving/runtime/kube need: kube-apiserver and etcd.
#
#   hack/testbin.sh            build what is missing, print the paths
#   hack/testbin.sh --check    print the paths if both are cached, exit 1 otherwise
#
# Results are cached outside the checkout, keyed by version, in
#   ${SERVEKIT_TESTBIN:-$HOME/.cache/servekit/testbin}/
#     kube-apiserver-<version>/kube-apiserver
#     etcd-<version>/etcd
# and reused when present. The tests find them there (same variable, same layout).
#
# kube-apiserver is built with `go build` from the Go module proxy: a throw-away wrapper
# module (created in the cache dir, never in the repo) requires k8s.io/kubernetes at
# KUBE_VERSION and replaces each of its staging modules (k8s.io/api, k8s.io/apiserver,
# ...) with the matching v0.x release. A cold build takes 45-55 minutes on 2 cores;
# run it niced: `nice -n 19 hack/testbin.sh`.
#
# etcd comes from Debian's etcd-server package when apt-get can install it (about a
# minute), else it is built from go.etcd.io/etcd/server/v3 inside the same wrapper
# module (at the version the wrapper's module graph selects). TESTBIN_ETCD_FROM=build
# skips apt-get.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.37.2}"
# k8s.io/kubernetes vX.Y.Z publishes its staging modules as v0.Y.Z.
STAGING_VERSION="v0.${KUBE_VERSION#v1.}"
DIR="${SERVEKIT_TESTBIN:-$HOME/.cache/servekit/testbin}"
CHECK_ONLY=0
if [[ "${1:-}" == "--check" ]]; then CHECK_ONLY=1; fi

log() { printf '%s testbin: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

mkdir -p "$DIR"
APISERVER="$DIR/kube-apiserver-$KUBE_VERSION/kube-apiserver"

# find_etcd prints the newest cached etcd binary, if any.
find_etcd() {
	local f
	for f in $(ls -d "$DIR"/etcd-*/etcd 2>/dev/null | sort -V -r); do
		if [[ -x "$f" ]]; then
			echo "$f"
			return 0
		fi
	done
	return 1
}

if [[ $CHECK_ONLY == 1 ]]; then
	ETCD="$(find_etcd || true)"
	if [[ -x "$APISERVER" && -n "$ETCD" ]]; then
		echo "kube-apiserver: $APISERVER"
		echo "etcd: $ETCD"
		exit 0
	fi
	echo "testbin: not built yet in $DIR (run hack/testbin.sh)" >&2
	exit 1
fi

# Serialise concurrent runs (two CI steps, two developers' shells).
exec 9>"$DIR/.lock"
flock 9

WRAP="$DIR/wrapper-$KUBE_VERSION"

# make_wrapper creates the wrapper module that resolves k8s.io/kubernetes.
make_wrapper() {
	if [[ -f "$WRAP/.ok" ]]; then return 0; fi
	log "creating wrapper module in $WRAP"
	rm -rf "$WRAP"
	mkdir -p "$WRAP"
	local gomod
	gomod="$(cd "$WRAP" && go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" |
		sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
	if [[ -z "$gomod" || ! -f "$gomod" ]]; then
		log "could not download k8s.io/kubernetes@$KUBE_VERSION's go.mod"
		return 1
	fi
	# The staging modules are the ones k8s.io/kubernetes replaces with ./staging/...
	local staging
	staging="$(sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\) => \./staging/.*#\1#p' "$gomod" | sort -u)"
	if [[ -z "$staging" ]]; then
		log "no staging replace directives found in $gomod"
		return 1
	fi
	log "$(echo "$staging" | wc -l) staging modules replaced with $STAGING_VERSION"
	{
		echo "module servekit.test/testbin"
		echo
		echo "go 1.26"
		echo
		echo "require k8s.io/kubernetes $KUBE_VERSION"
		echo
		echo "replace ("
		local m
		for m in $staging; do echo "	$m => $m $STAGING_VERSION"; done
		echo ")"
	} >"$WRAP/go.mod"
	cat >"$WRAP/tools.go" <<'EOF'
//go:build tools

// Package tools pins the commands this wrapper module builds.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
EOF
	log "go mod tidy (downloads k8s.io/kubernetes and its dependencies)"
	(cd "$WRAP" && GOWORK=off go mod tidy)
	touch "$WRAP/.ok"
}

build_apiserver() {
	if [[ -x "$APISERVER" ]]; then
		log "kube-apiserver $KUBE_VERSION cached"
		return 0
	fi
	make_wrapper
	local minor="${KUBE_VERSION#v1.}"
	minor="${minor%%.*}"
	local ldflags="-s -w"
	local pkg
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ldflags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
		ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
	done
	log "building kube-apiserver $KUBE_VERSION (cold: 45-55 min on 2 cores)"
	local start=$SECONDS
	local out="$DIR/kube-apiserver-$KUBE_VERSION"
	mkdir -p "$out"
	(cd "$WRAP" && GOWORK=off CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" \
		-o "$out/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver)
	mv "$out/kube-apiserver.tmp" "$APISERVER"
	log "kube-apiserver built in $((SECONDS - start))s"
}

build_etcd() {
	if ETCD="$(find_etcd)"; then
		log "etcd cached"
		return 0
	fi
	local ver
	if [[ "${TESTBIN_ETCD_FROM:-}" == build ]]; then
		build_etcd_from_source
		return
	fi
	if [[ ! -x /usr/bin/etcd ]] && command -v apt-get >/dev/null; then
		log "installing Debian's etcd-server"
		if ! DEBIAN_FRONTEND=noninteractive apt-get install -y etcd-server >&2; then
			log "apt-get install etcd-server failed; trying after apt-get update"
			DEBIAN_FRONTEND=noninteractive apt-get update >&2 || true
			DEBIAN_FRONTEND=noninteractive apt-get install -y etcd-server >&2 || true
		fi
	fi
	if [[ -x /usr/bin/etcd ]]; then
		ver="$(/usr/bin/etcd --version | sed -n 's/^etcd Version: \(.*\)$/\1/p')"
		if [[ -n "$ver" ]]; then
			mkdir -p "$DIR/etcd-v$ver"
			cp /usr/bin/etcd "$DIR/etcd-v$ver/etcd"
			ETCD="$DIR/etcd-v$ver/etcd"
			log "etcd $ver from Debian"
			return 0
		fi
	fi
	build_etcd_from_source
}

build_etcd_from_source() {
	local ver
	make_wrapper
	ver="$(cd "$WRAP" && GOWORK=off go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)"
	log "building etcd $ver from go.etcd.io/etcd/server/v3"
	mkdir -p "$DIR/etcd-$ver"
	(cd "$WRAP" && GOWORK=off CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" \
		-o "$DIR/etcd-$ver/etcd.tmp" go.etcd.io/etcd/server/v3)
	mv "$DIR/etcd-$ver/etcd.tmp" "$DIR/etcd-$ver/etcd"
	ETCD="$DIR/etcd-$ver/etcd"
}

ETCD=""
build_etcd
build_apiserver
echo "kube-apiserver: $APISERVER"
echo "etcd: $ETCD"
