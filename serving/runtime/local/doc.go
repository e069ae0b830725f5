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
// on the pod. Scaling down drains the least busy pods first (not ready before ready,
// then fewest requests in flight): the front finishes its requests, then the process
// group gets SIGTERM and, after a grace period, SIGKILL, so nothing a pod forked
// survives it; on Linux every pod also gets a parent-death signal.
//
// The seed's image maps by default to the examples/helloworld program, which the
// runtime builds once with `go build` into a cache directory (BuiltinPrefix).
//
// Runtime implements serving/runtime's Backend interface, what serving/controller
// needs, through the Backend adapter.
package local
