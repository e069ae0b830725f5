// Package local is servekit's local runtime: it runs a revision's pods as processes
// on this machine, each fronted by its own queue proxy on loopback, so the whole
// platform works with no cluster.
//
// A pod is the container's command (or, since an image means nothing here, the local
// command an ImageMap gives for its image) started in its own process group with the
// manifest's env plus Knative's PORT (a free loopback port), K_SERVICE,
// K_CONFIGURATION and K_REVISION, behind a Front — by default the queue package's
// Proxy, in-process, on another loopback port: that port is the pod's address.
//
// The runtime keeps each revision at the scale it is asked for. A process that exits
// is restarted with exponential back-off and its restarts and last exit are reported
// on the pod. The runtime is also the pods' kubelet (prober.go): it runs the
// container's startup, liveness and readiness probes (httpGet, tcpSocket, grpc, exec)
// with Kubernetes' timings and defaults, takes a pod failing readiness out of
// rotation (PodNotReady) until it passes again, and restarts a process failing
// liveness or startup with the same back-off; the pod's last probe failure is
// reported on it. Scaling down drains the least busy pods first (not ready before ready,
// then fewest requests in flight): the front finishes its requests, then the process
// group gets SIGTERM and, after a grace period, SIGKILL, so nothing a pod forked
// survives it. On Linux each pod's program runs under a small supervisor (this binary
// re-executed, see supervisor_linux.go) that kills the whole group when the runtime's
// process dies, even of SIGKILL; it is the child subreaper of the program, so what
// leaves the group (setsid) is still found and stopped with the pod. A restarted
// runtime stops the groups a crashed one left (records under the user's cache
// directory).
//
// The seed's image maps by default to the examples/helloworld program: the command
// Options.Builtins gives for it, or a binary the runtime builds once with `go build`
// into a cache directory (BuiltinPrefix).
//
// Runtime implements serving/runtime's Backend interface, what serving/controller
// needs, through the Backend adapter.
package local
