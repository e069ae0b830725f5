package main

// Websockets and server-sent events end to end through the platform on the local
// runtime (issue 13 item 3), with a real websocket library on both ends
// (github.com/coder/websocket, imported by test files only).

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/servekit/servekit/serving/controller"
)

// serveStream serves the e2e app's streaming endpoints and reports whether r was for
// one: /ws, a websocket that first pushes "hello from <revision>", then echoes each
// message, and closes with 4001 "bye" when sent "close"; /sse, five server-sent
// events 200 ms apart.
func serveStream(w http.ResponseWriter, r *http.Request) bool {
	switch r.URL.Path {
	case "/ws":
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return true
		}
		defer c.CloseNow()
		ctx := r.Context()
		if err := c.Write(ctx, websocket.MessageText, []byte("hello from "+os.Getenv("K_REVISION"))); err != nil {
			return true
		}
		for {
			typ, msg, err := c.Read(ctx)
			if err != nil {
				return true
			}
			if string(msg) == "close" {
				_ = c.Close(4001, "bye")
				return true
			}
			if err := c.Write(ctx, typ, append([]byte("echo "), msg...)); err != nil {
				return true
			}
		}
	case "/sse":
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		for i := range 5 {
			if i > 0 {
				select {
				case <-time.After(200 * time.Millisecond):
				case <-r.Context().Done():
					return true
				}
			}
			fmt.Fprintf(w, "data: %d\n\n", i)
			if err := rc.Flush(); err != nil {
				return true
			}
		}
		return true
	}
	return false
}

// streamService is a Service of the e2e app held at one pod; tbc is its
// target-burst-capacity: "-1" keeps the activator in the path, "0" takes it out.
func streamService(name, tbc string) string {
	return fmt.Sprintf(`apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: %s
spec:
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/min-scale: "1"
        autoscaling.knative.dev/max-scale: "1"
        autoscaling.knative.dev/target-burst-capacity: "%s"
    spec:
      containers:
        - image: %s
          env:
            - name: %s
              value: "1"
`, name, tbc, testImage, appEnv)
}

// TestWebsocketAndSSE: on both paths (through the activator, and straight to the
// queue proxy), a websocket gets the app's push, 100 echoes in order and the app's
// close code and reason; server-sent events arrive one by one as the app writes them,
// not buffered to the end.
func TestWebsocketAndSSE(t *testing.T) {
	tp := startPlatform(t, map[string]string{
		"ws-act.yaml":    streamService("ws-act", "-1"),
		"ws-direct.yaml": streamService("ws-direct", "0"),
	}, "")
	for _, tc := range []struct {
		svc    string
		inPath bool
	}{{"ws-act", true}, {"ws-direct", false}} {
		t.Run(tc.svc, func(t *testing.T) {
			rev := tc.svc + "-00001"
			host := tc.svc + ".default.example.com"
			tp.waitStatus(t, tc.svc+" ready, activator in the path: "+fmt.Sprint(tc.inPath), time.Minute, func(st controller.Status) bool {
				r := revision(st, tc.svc, rev)
				return r != nil && r.ReadyPods == 1 && r.ActivatorInPath == tc.inPath
			})

			t.Run("websocket", func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				tr := &http.Transport{}
				defer tr.CloseIdleConnections()
				c, resp, err := websocket.Dial(ctx, "ws://"+tp.ingress+"/ws", &websocket.DialOptions{
					Host: host, HTTPClient: &http.Client{Transport: tr},
				})
				if err != nil {
					t.Fatalf("dial: %v (response %v)", err, resp)
				}
				defer c.CloseNow()
				if _, msg, err := c.Read(ctx); err != nil || string(msg) != "hello from "+rev {
					t.Fatalf("first message %q, %v; want the app's push %q", msg, err, "hello from "+rev)
				}
				for i := range 100 {
					want := fmt.Sprintf("m%d", i)
					if err := c.Write(ctx, websocket.MessageText, []byte(want)); err != nil {
						t.Fatalf("write %d: %v", i, err)
					}
					if _, msg, err := c.Read(ctx); err != nil || string(msg) != "echo "+want {
						t.Fatalf("echo %d = %q, %v; want %q", i, msg, err, "echo "+want)
					}
				}
				if err := c.Write(ctx, websocket.MessageText, []byte("close")); err != nil {
					t.Fatal(err)
				}
				_, _, err = c.Read(ctx)
				var ce websocket.CloseError
				if !errors.As(err, &ce) || ce.Code != 4001 || ce.Reason != "bye" {
					t.Errorf("after \"close\": %v; want the app's close frame 4001 \"bye\"", err)
				}
			})

			t.Run("server-sent events", func(t *testing.T) {
				req, err := http.NewRequest(http.MethodGet, "http://"+tp.ingress+"/sse", nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Host = host
				resp, err := tp.client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
					t.Fatalf("got %d %q, want 200 text/event-stream", resp.StatusCode, resp.Header.Get("Content-Type"))
				}
				var got []string
				var first, last time.Time
				sc := bufio.NewScanner(resp.Body)
				for sc.Scan() {
					if line := sc.Text(); strings.HasPrefix(line, "data: ") {
						if len(got) == 0 {
							first = time.Now()
						}
						last = time.Now()
						got = append(got, strings.TrimPrefix(line, "data: "))
					}
				}
				if strings.Join(got, ",") != "0,1,2,3,4" {
					t.Errorf("events %q, want 0..4", got)
				}
				// The app writes the five events over 800 ms: the first must arrive
				// well before the last, or the platform buffered the stream.
				if d := last.Sub(first); d < 250*time.Millisecond {
					t.Errorf("first to last event: %v, want >= 250ms (the events were buffered)", d)
				}
			})
		})
	}
}

// TestWebsocketDrainDeadline: a websocket open on a pod whose revision is deleted
// (its manifest removed) lives on through the drain until the stream deadline, the
// revision's timeoutSeconds from the start of the drain, and then gets a close frame
// 1001 "going away" from the queue proxy, not before (issue 13 item 4). Before, it
// was cut without a close frame when the drain's bound ended.
func TestWebsocketDrainDeadline(t *testing.T) {
	const timeout = 4 * time.Second
	manifest := strings.Replace(streamService("ws-drain", "0"), "    spec:\n", "    spec:\n      timeoutSeconds: 4\n", 1)
	tp := startPlatform(t, map[string]string{"ws-drain.yaml": manifest}, "")
	tp.waitStatus(t, "ws-drain ready", time.Minute, serviceReady("ws-drain", "ws-drain-00001"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c, resp, err := websocket.Dial(ctx, "ws://"+tp.ingress+"/ws", &websocket.DialOptions{
		Host: "ws-drain.default.example.com", HTTPClient: &http.Client{Transport: tr},
	})
	if err != nil {
		t.Fatalf("dial: %v (response %v)", err, resp)
	}
	defer c.CloseNow()
	if _, msg, err := c.Read(ctx); err != nil || string(msg) != "hello from ws-drain-00001" {
		t.Fatalf("first message %q, %v", msg, err)
	}
	start := time.Now()
	if err := os.Remove(filepath.Join(tp.dir, "ws-drain.yaml")); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Read(ctx)
	after := time.Since(start)
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusGoingAway || ce.Reason != "going away" {
		t.Fatalf("websocket read while its revision drains: %v, want a close frame 1001 \"going away\"", err)
	}
	if after < timeout {
		t.Errorf("closed %v after the revision was deleted, before the %v stream deadline", after, timeout)
	}
	t.Logf("closed with 1001 %v after the revision was deleted (stream deadline %v)", after, timeout)
}

// TestDrainStreamDeadlineConfig: config-deployment's
// queue-sidecar-drain-stream-deadline sets the drain's stream deadline of the local
// runtime's queue proxies (the Kubernetes runtime hands it to its sidecars as
// SERVEKIT_DRAIN_STREAM_DEADLINE). A websocket open on a revision with timeoutSeconds
// 120 whose manifest is removed gets the close frame 1001 "going away" at the 2 s the
// config says, not at the revision timeout.
func TestDrainStreamDeadlineConfig(t *testing.T) {
	const deadline = 2 * time.Second
	manifest := strings.Replace(streamService("ws-cfg", "0"), "    spec:\n", "    spec:\n      timeoutSeconds: 120\n", 1)
	tp := startPlatform(t, map[string]string{"ws-cfg.yaml": manifest}, `apiVersion: v1
kind: ConfigMap
metadata:
  name: config-deployment
data:
  queue-sidecar-drain-stream-deadline: "2s"
`)
	tp.waitStatus(t, "ws-cfg ready", time.Minute, serviceReady("ws-cfg", "ws-cfg-00001"))
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c, resp, err := websocket.Dial(ctx, "ws://"+tp.ingress+"/ws", &websocket.DialOptions{
		Host: "ws-cfg.default.example.com", HTTPClient: &http.Client{Transport: tr},
	})
	if err != nil {
		t.Fatalf("dial: %v (response %v)", err, resp)
	}
	defer c.CloseNow()
	if _, msg, err := c.Read(ctx); err != nil || string(msg) != "hello from ws-cfg-00001" {
		t.Fatalf("first message %q, %v", msg, err)
	}
	start := time.Now()
	if err := os.Remove(filepath.Join(tp.dir, "ws-cfg.yaml")); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Read(ctx)
	after := time.Since(start)
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusGoingAway || ce.Reason != "going away" {
		t.Fatalf("websocket read while its revision drains: %v, want a close frame 1001 \"going away\" within %v", err, 40*time.Second)
	}
	if after < deadline || after > 30*time.Second {
		t.Errorf("closed %v after the revision was deleted, want at the configured %v (the revision timeout is 120s)", after, deadline)
	}
	t.Logf("closed with 1001 %v after the revision was deleted (configured stream deadline %v)", after, deadline)
}
