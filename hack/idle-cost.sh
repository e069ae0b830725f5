#!/usr/bin/env bash
# idle-cost.sh: the CPU an idle platform costs with many Services (issue 17 case 8).
#
# Builds examples/controller from SRC (default: this checkout), starts it on
# loopback with N Services (default 1000) that start at zero pods
# (initial-scale 0, allow-zero-initial-scale), waits until all are Ready, then
# measures over WINDOW seconds (default 60) the controller's CPU (utime+stime from
# /proc, as % of one core) and RSS, and times GET /status five times. Linux only;
# not part of the test suite. Run it on a quiet machine, once:
#
#   hack/idle-cost.sh                 # this checkout, 1,000 Services
#   hack/idle-cost.sh 1000 /work/main # another checkout, e.g. to compare
set -euo pipefail

N=${1:-1000}
SRC=${2:-$(cd "$(dirname "$0")/.." && pwd)}
WINDOW=${WINDOW:-60}
PORT=${PORT:-18480}
ADMIN=${ADMIN:-18481}

work=$(mktemp -d)
pid=
cleanup() {
	if [[ -n $pid ]]; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

(cd "$SRC" && go build -o "$work/controller" ./examples/controller)
mkdir -p "$work/manifests" "$work/config"
cat >"$work/config/autoscaler.yaml" <<EOF
apiVersion: v1
kind: ConfigMap
metadata:
  name: config-autoscaler
data:
  allow-zero-initial-scale: "true"
EOF
for i in $(seq -w 1 "$N"); do
	cat >"$work/manifests/svc-$i.yaml" <<EOF
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: svc-$i
spec:
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/initial-scale: "0"
    spec:
      containers:
        - image: registry.cn-hangzhou.aliyuncs.com/knative-sample/helloworld-go:160e4dc8
EOF
done

"$work/controller" --manifests "$work/manifests" --config "$work/config" --state-dir "$work/state" \
	--listen "127.0.0.1:$PORT" --admin "127.0.0.1:$ADMIN" >"$work/log" 2>&1 &
pid=$!

status() { curl -fsS --max-time 30 "http://127.0.0.1:$ADMIN/status"; }
ready() { status | python3 -c 'import json,sys; s=json.load(sys.stdin)["services"]; print(sum(1 for x in s if x["ready"]))'; }

start=$(date +%s)
until [[ $(ready 2>/dev/null || echo 0) -ge $N ]]; do
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "controller exited:" >&2
		tail -20 "$work/log" >&2
		exit 1
	fi
	if (($(date +%s) - start > 300)); then
		echo "not all $N Services Ready after 300s" >&2
		exit 1
	fi
	sleep 1
done
echo "$N Services Ready after $(($(date +%s) - start))s"
sleep 5 # the start-up's last changes

ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
t0=$(ticks)
s0=$(date +%s.%N)
sleep "$WINDOW"
t1=$(ticks)
s1=$(date +%s.%N)
awk -v t0="$t0" -v t1="$t1" -v s0="$s0" -v s1="$s1" -v hz="$hz" -v n="$N" \
	'BEGIN { printf "CPU while idle: %.2f%% of a core (%d Services, %.0fs)\n", 100 * (t1 - t0) / hz / (s1 - s0), n, s1 - s0 }'
echo "RSS: $(awk '/VmRSS/ {print $2, $3}' "/proc/$pid/status")"
for _ in 1 2 3 4 5; do
	curl -fsS -o /dev/null --max-time 30 -w "GET /status: %{time_total}s, %{size_download} bytes\n" "http://127.0.0.1:$ADMIN/status"
done
