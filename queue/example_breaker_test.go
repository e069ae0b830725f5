package queue_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/servekit/servekit/queue"
)

func ExampleBreaker() {
	// One request may run and one may wait: a pod with containerConcurrency 1 and a
	// queue depth of 1.
	b := queue.NewBreaker(queue.BreakerParams{QueueDepth: 1, MaxConcurrency: 1, InitialCapacity: 1})

	release, ok := b.Reserve(context.Background()) // take the only slot
	fmt.Println("reserved:", ok, "in flight:", b.InFlight())

	// The breaker has room for one waiter, whose context has already ended.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := b.Maybe(ctx, func() { fmt.Println("not run") })
	fmt.Println("waiter:", err)

	release()
	err = b.Maybe(context.Background(), func() { fmt.Println("running") })
	fmt.Println("after release:", err, errors.Is(err, queue.ErrRequestQueueFull))
	// Output:
	// reserved: true in flight: 1
	// waiter: context canceled
	// running
	// after release: <nil> false
}
