package main

import (
	"context"
	"fmt"
	"io"
)

// run runs the platform. This placeholder is replaced by the platform
// runtime (run.go, get.go, ...) written in a later step by another
// contributor; only the signature is fixed: it returns the exit status.
func run(_ context.Context, _ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "controller: platform runtime not built yet; try: controller validate [-o yaml] FILE...")
	return 1
}
