package platform_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/servekit/servekit/serving/platform"
)

// A platform serves the manifests of a directory until its context is done. Here
// the directory is empty; a Knative Service written into it is applied within a
// PollInterval, and served on IngressAddr by its Host.
func ExamplePlatform_Run() {
	dir, _ := os.MkdirTemp("", "manifests")
	defer os.RemoveAll(dir)
	p, err := platform.New(platform.Options{
		Manifests: dir,
		Listen:    "127.0.0.1:0", // any free port
		Admin:     "127.0.0.1:0",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()

	if resp, err := http.Get("http://" + p.AdminAddr().String() + "/healthz"); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Print(string(body))
	}

	cancel()
	fmt.Println("stopped:", <-done)
	// Output:
	// ok
	// stopped: <nil>
}
