package peers_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/servekit/servekit/serving/platform/peers"
)

// printRecorder stands for a replica's controller.
type printRecorder struct {
	name string
	got  chan struct{}
}

func (r printRecorder) RecordActivatorStat(ns, name string, conc, reqs float64) {
	fmt.Printf("%s records %s/%s: concurrency %v, %v requests\n", r.name, ns, name, conc, reqs)
	close(r.got)
}

func (r printRecorder) UpdateActivators(index, count int) error {
	fmt.Printf("%s is activator %d of %d\n", r.name, index, count)
	return nil
}

// Two replicas: a's activator reports demand, and b's controller records it.
func ExamplePeers() {
	const token = "the installation's peer token"
	got := make(chan struct{})
	b := peers.New(peers.Options{Token: token, Recorder: printRecorder{"b", got}})
	srv := httptest.NewServer(b) // b's admin listener, serving peers.StatsPath
	defer srv.Close()
	addrB := strings.TrimPrefix(srv.URL, "http://")

	a := peers.New(peers.Options{Self: "127.0.0.1:1", Token: token, Recorder: printRecorder{"a", nil}})
	a.SetAddrs([]string{addrB, "127.0.0.1:1"}) // as Watch would, from the Service's endpoints
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- a.Run(ctx) }()

	a.Observe("default", "hello-00001", 3, 5) // a's Controller.Options.OnActivatorStat
	<-got
	cancel()
	<-done
	// Output:
	// a is activator 0 of 2
	// b records default/hello-00001: concurrency 3, 5 requests
}
