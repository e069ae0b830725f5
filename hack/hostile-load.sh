#!/usr/bin/env bash
# hostile-load.sh: issue 17's full-size resource runs against the built controller,
# on loopback only. Not part of the test suite; the machine must have a few spare
# GB and, for the first run, 20,000 file descriptors per process. Run it once:
#
#   hack/hostile-load.sh conns    # 20,000 idle connections to the ingress
#   hack/hostile-load.sh headers  # 1,000 held requests with 900 KB headers
#
# The controller serves the seed Service (helloworld-go, one pod) and "held", a
# Service whose pod never gets ready (its container only sleeps), so requests for
# it wait in the activator. Each run prints the controller's RSS before, during
# (at its peak, sampled every 0.2 s) and after the load, whether the admin listener
# answers /healthz and the seed Service answers while the load is held, and whether
# a Service added during the load gets a ready pod.
#
# headers runs with --max-header-bytes 1048576 (the 64 KiB default answers 431 at
# once), so the heads reach the activator, whose per-revision queue is bounded by
# activator.Options.QueueBytes (64 MiB).
set -euo pipefail

MODE=${1:?usage: hostile-load.sh conns|headers}
SRC=$(cd "$(dirname "$0")/.." && pwd)
PORT=${PORT:-18580}
ADMIN=${ADMIN:-18581}
HOLD=${HOLD:-20} # seconds the load is held

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

(cd "$SRC" && go build -o "$work/controller" ./examples/controller)
mkdir -p "$work/manifests"
cp "$SRC/examples/manifests/helloworld-go.yaml" "$work/manifests/"
mkdir -p "$work/config"
cat >"$work/config/autoscaler.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  name: config-autoscaler
data:
  allow-zero-initial-scale: "true"
EOF
# Ready at zero pods (initial-scale 0), so it is routed; its one pod never gets
# ready, so its requests wait in the activator.
cat >"$work/manifests/held.yaml" <<'EOF'
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: held
spec:
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/initial-scale: "0"
    spec:
      containers:
        - image: held
          command: ["/bin/sh", "-c", "exec sleep 3600"]
EOF
extra=()
if [[ $MODE == headers ]]; then extra=(--max-header-bytes 1048576); fi
"$work/controller" --manifests "$work/manifests" --config "$work/config" --listen "127.0.0.1:$PORT" \
	--admin "127.0.0.1:$ADMIN" "${extra[@]}" >"$work/log" 2>&1 &
ctl=$!
pids+=("$ctl")

rss() { awk '/VmRSS/ {print $2}' "/proc/$ctl/status"; }
hello() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H 'Host: helloworld-go.default.example.com' "http://127.0.0.1:$PORT/"; }
healthz() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$ADMIN/healthz"; }

for _ in $(seq 60); do [[ $(hello) == 200 ]] && break; sleep 1; done
echo "before: RSS $(rss) kB, hello $(hello), /healthz $(healthz), fds $(ls /proc/$ctl/fd | wc -l)"

cat >"$work/load.py" <<'EOF'
import socket, sys, time
mode, port, n, hold = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
socks, failed = [], 0
head = b"X-Big: " + b"a" * 900_000 + b"\r\n"
for i in range(n):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        if mode == "headers":
            s.sendall(b"GET / HTTP/1.1\r\nHost: held.default.example.com\r\n" + head + b"\r\n")
        socks.append(s)
    except OSError:
        failed += 1
print(f"{mode}: {len(socks)} open, {failed} failed to connect", flush=True)
time.sleep(hold)
answered = {}
for s in socks:
    s.setblocking(False)
    try:
        b = s.recv(64)
        k = b.split(b"\r\n")[0].decode(errors="replace") or "closed"
    except BlockingIOError:
        k = "still waiting"
    except OSError as e:
        k = type(e).__name__
    answered[k] = answered.get(k, 0) + 1
    s.close()
print(f"{mode}: outcomes {answered}", flush=True)
EOF

if [[ $MODE == conns ]]; then
	# Two clients of 10,000: a process's own descriptor limit may be 20,000.
	python3 "$work/load.py" conns "$PORT" 10000 "$HOLD" &
	pids+=($!)
	python3 "$work/load.py" conns "$PORT" 10000 "$HOLD" &
	pids+=($!)
else
	python3 "$work/load.py" headers "$PORT" 1000 "$HOLD" &
	pids+=($!)
fi
peak=0
end=$((SECONDS + HOLD - 4))
added=no
while ((SECONDS < end)); do
	r=$(rss)
	((r > peak)) && peak=$r
	if [[ $added == no && $SECONDS -gt $((end - HOLD + 10)) ]]; then
		sed 's/name: helloworld-go/name: during/' "$work/manifests/helloworld-go.yaml" >"$work/manifests/during.yaml"
		added=yes
	fi
	sleep 0.2
done
during_hello=$(hello)
during_new=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H 'Host: during.default.example.com' "http://127.0.0.1:$PORT/")
echo "during: peak RSS $peak kB, hello $during_hello, Service added during the load $during_new, /healthz $(healthz), fds $(ls /proc/$ctl/fd | wc -l)"
wait "${pids[@]:1}" 2>/dev/null || true
sleep 5
echo "after: RSS $(rss) kB, hello $(hello), /healthz $(healthz), fds $(ls /proc/$ctl/fd | wc -l)"
grep -c 'level=WARN\|level=ERROR' "$work/log" | xargs echo "WARN/ERROR lines in the controller's log:"
