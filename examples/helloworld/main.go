// Command helloworld is the seed's sample app: it answers "Hello <TARGET>!" on $PORT.
//
// It is the program the seed's image
// (registry.cn-hangzhou.aliyuncs.com/knative-sample/helloworld-go) runs, rebuilt here so
// that servekit's local runtime can run it as a process with no container:
//
//	PORT=8080 TARGET=servekit go run ./examples/helloworld
//	curl http://127.0.0.1:8080/   # Hello servekit!
//
// Environment: PORT (default 8080), TARGET (default "World"), HOST (address to bind,
// default 127.0.0.1: the local runtime only ever reaches it over loopback). On SIGTERM
// or SIGINT it stops accepting connections and finishes the requests in flight
// (up to 30 s) before it exits.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/servekit/servekit/examples/internal/helloworld"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	code := helloworld.Main(ctx)
	stop()
	os.Exit(code)
}
