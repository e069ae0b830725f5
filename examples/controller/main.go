// Command controller is servekit's platform binary: the whole control
// plane in one process. Its first sub-command checks manifests:
//
//	controller validate [-o yaml] FILE...
//
// decodes, defaults and validates each file as Knative's webhooks would,
// printing every error as "FILE: <field path>: <message>"; it exits 1 if
// any file is invalid. "controller sample helloworld" runs the seed's sample app
// (what the local runtime starts for builtin:helloworld, so the binary needs no Go
// toolchain). Any other invocation runs the platform.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/servekit/servekit/examples/internal/helloworld"
)

func main() {
	os.Exit(dispatch(os.Args[1:]))
}

// dispatch picks the sub-command. It owns the signal context; main only
// turns its result into the exit status.
func dispatch(args []string) int {
	if len(args) > 0 && args[0] == "validate" {
		return runValidate(args[1:], os.Stdout, os.Stderr)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(args) == 2 && args[0] == "sample" && args[1] == "helloworld" { // a pod of builtin:helloworld
		return helloworld.Main(ctx)
	}
	return run(ctx, args, os.Stdout, os.Stderr)
}
