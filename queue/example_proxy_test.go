package queue_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/servekit/servekit/queue"
)

// ExampleProxy runs a queue proxy in process, in front of an app on a loopback port,
// as servekit's local runtime does for every pod.
func ExampleProxy() {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s", r.Host)
	}))
	defer app.Close()

	p, err := queue.NewProxy(queue.ProxyOptions{
		Target:               app.Listener.Addr().String(),
		ContainerConcurrency: 1,
		Timeout:              5 * time.Minute,
		ReadinessProbes:      []queue.Probe{{TCPSocket: &queue.TCPSocketAction{Port: app.Listener.Addr().(*net.TCPAddr).Port}}},
		DrainQuietPeriod:     10 * time.Millisecond, // Knative's default is 30 s
		PodName:              "example-pod",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, queue.Listeners{Serving: ln}) }()

	fmt.Println("ready:", p.Ready(context.Background()))
	client := &http.Client{Transport: &http.Transport{}}
	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/", nil)
	req.Host = "hello.default.example.com"
	if res, err := client.Do(req); err != nil {
		fmt.Println(err)
	} else {
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		fmt.Println(res.StatusCode, string(body))
	}

	// The autoscaler's view of that second, read in process.
	st := p.ReportStat(time.Now())
	fmt.Println("pod:", st.PodName, "requests:", st.RequestCount > 0)

	cancel() // drain, close the listener, wait for requests in flight
	fmt.Println("run:", <-done)
	client.CloseIdleConnections()
	// Output:
	// ready: true
	// 200 hello from hello.default.example.com
	// pod: example-pod requests: true
	// run: <nil>
}
