// Command controller is servekit's platform binary: the whole control
// plane in one process. Its first sub-command checks manifests:
//
//	controller validate [-o yaml] FILE...
//
// decodes, defaults and validates each file as Knative's webhooks would,
// printing every error as "FILE: <field path>: <message>"; it exits 1 if
// any file is invalid. Any other invocation runs the platform.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
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
	return run(ctx, args, os.Stdout, os.Stderr)
}
