#!/usr/bin/env bash
# compare.sh: requests/s and p50/p99 latency of an app on loopback, directly and
# through servekit's queue proxy (examples/queue-proxy), at concurrency 1, 10 and 100.
# Each concurrency runs direct, proxy, direct, proxy (alternating, so drifts in the
# shared machine's load hit both alike); the report averages the two runs of each.
#
# Usage: queue/bench/compare.sh [duration per run, default 5s] [containerConcurrency, default 0]
# Needs wrk (installed with apt-get when absent and run as root). Loopback only.
set -euo pipefail

DUR=${1:-5s}
CC=${2:-0}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TMP=$(mktemp -d)
PIDS=()
cleanup() {
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT

if ! command -v wrk >/dev/null; then
	if [ "$(id -u)" = 0 ]; then
		apt-get install -y wrk >/dev/null
	else
		echo "compare.sh: wrk not found (apt-get install wrk)" >&2
		exit 1
	fi
fi

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
APP_PORT=$(freeport); QP_PORT=$(freeport); ADMIN_PORT=$(freeport); METRICS_PORT=$(freeport)

(cd "$ROOT" && go build -o "$TMP/app" ./queue/bench/app && go build -o "$TMP/queue-proxy" ./examples/queue-proxy)

"$TMP/app" -addr "127.0.0.1:$APP_PORT" &
PIDS+=($!)
env -i PATH="$PATH" \
	CONTAINER_CONCURRENCY="$CC" QUEUE_SERVING_PORT="$QP_PORT" USER_PORT="$APP_PORT" \
	REVISION_TIMEOUT_SECONDS=300 QUEUE_ADMIN_PORT="$ADMIN_PORT" QUEUE_METRICS_PORT="$METRICS_PORT" \
	SERVEKIT_SERVING_HOST=127.0.0.1 SERVING_POD=bench \
	"$TMP/queue-proxy" 2>"$TMP/queue-proxy.log" &
PIDS+=($!)

for port in "$APP_PORT" "$QP_PORT"; do
	for _ in $(seq 100); do
		curl -fs "http://127.0.0.1:$port/" >/dev/null && break
		sleep 0.1
	done
done

# to_ms converts wrk's latency ("812.00us", "1.20ms", "2.01s") to milliseconds.
to_ms() {
	awk -v v="$1" 'BEGIN {
		n = v + 0
		if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000
		printf "%.3f", n
	}'
}

# run prints "rps p50_ms p99_ms" for one wrk run.
run() {
	local port=$1 conc=$2 threads=1
	[ "$conc" -gt 1 ] && threads=2
	local out
	out=$(wrk -t"$threads" -c"$conc" -d"$DUR" --latency "http://127.0.0.1:$port/")
	local rps p50 p99
	rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
	p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
	p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
	echo "$rps $(to_ms "$p50") $(to_ms "$p99")"
}

echo "duration per run: $DUR, containerConcurrency: $CC, $(nproc) cores, $(go version | awk '{print $3}')"
printf "%-5s %-7s %12s %10s %10s\n" conc target "req/s" "p50 ms" "p99 ms"
for conc in 1 10 100; do
	d1=$(run "$APP_PORT" "$conc"); p1=$(run "$QP_PORT" "$conc")
	d2=$(run "$APP_PORT" "$conc"); p2=$(run "$QP_PORT" "$conc")
	read -r d_rps d_p50 d_p99 < <(awk -v a="$d1" -v b="$d2" 'BEGIN { split(a, x); split(b, y); printf "%.0f %.3f %.3f\n", (x[1]+y[1])/2, (x[2]+y[2])/2, (x[3]+y[3])/2 }')
	read -r p_rps p_p50 p_p99 < <(awk -v a="$p1" -v b="$p2" 'BEGIN { split(a, x); split(b, y); printf "%.0f %.3f %.3f\n", (x[1]+y[1])/2, (x[2]+y[2])/2, (x[3]+y[3])/2 }')
	printf "%-5s %-7s %12s %10s %10s\n" "$conc" direct "$d_rps" "$d_p50" "$d_p99"
	printf "%-5s %-7s %12s %10s %10s\n" "$conc" proxy "$p_rps" "$p_p50" "$p_p99"
	awk -v c="$conc" -v d="$d_rps" -v p="$p_rps" 'BEGIN { printf "%-5s ratio   proxy/direct req/s = %.2f\n", c, p/d }'
done
