package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/servekit/servekit/serving/status"
)

// runGet implements "controller get [--admin ADDR]": it reads GET /status from a
// running controller and prints it as tables, like `kubectl get ksvc` and
// `kubectl get revisions`.
func runGet(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	fs.SetOutput(stderr)
	admin := fs.String("admin", "127.0.0.1:8081", "the admin address of the running controller")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	st, err := status.Fetch(ctx, *admin)
	if err != nil {
		fmt.Fprintln(stderr, "controller get:", err)
		return 1
	}
	status.Print(stdout, st)
	return 0
}
