package queue_test

import (
	"fmt"
	"net/http/httputil"
	"net/url"

	"github.com/servekit/servekit/queue"
)

// A reverse proxy of one's own (an ingress, say) shares the queue proxy's copy
// buffers by naming the pool.
func ExampleBufferPool() {
	target, _ := url.Parse("http://127.0.0.1:8080")
	rp := &httputil.ReverseProxy{
		Rewrite:    func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		BufferPool: queue.BufferPool{},
	}
	b := rp.BufferPool.Get()
	fmt.Println(len(b))
	rp.BufferPool.Put(b)
	// Output: 32768
}
