package queue

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestGRPCTimeout(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"1H", time.Hour, true},
		{"2M", 2 * time.Minute, true},
		{"3S", 3 * time.Second, true},
		{"299m", 299 * time.Millisecond, true},
		{"12345678u", 12345678 * time.Microsecond, true},
		{"7n", 7, true},
		{"", 0, false},
		{"m", 0, false},
		{"10", 0, false},
		{"10s", 0, false},
		{"123456789m", 0, false}, // more than 8 digits
		{"-1S", 0, false},
		{"+1S", 0, false},
		{"1.5S", 0, false},
	} {
		h := http.Header{}
		if tc.in != "" {
			h.Set("Grpc-Timeout", tc.in)
		}
		got, ok := GRPCTimeout(h)
		if got != tc.want || ok != tc.ok {
			t.Errorf("GRPCTimeout(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestIsGRPC(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/grpc":       true,
		"application/grpc+proto": true,
		"application/grpc-web":   false,
		"application/grpcx":      false,
		"application/json":       false,
		"":                       false,
	} {
		r := &http.Request{Header: http.Header{"Content-Type": {ct}}}
		if got := IsGRPC(r); got != want {
			t.Errorf("IsGRPC(Content-Type %q) = %v, want %v", ct, got, want)
		}
	}
}

// h2cClient sends HTTP/2 with prior knowledge and, unlike a gRPC client, does not
// enforce grpc-timeout itself: what it gets is the hop's answer.
func h2cClient() *http.Client {
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: tr}
}

// TestProxyGRPCUpstreamError: when the app resets a gRPC call's stream before
// answering, the queue proxy answers with a gRPC status, not a 502 (which a gRPC
// client reads as Unavailable whatever happened): DeadlineExceeded once the call's
// grpc-timeout has passed (the app's copy of the deadline ended the stream),
// Unavailable before. A plain request still gets 502.
func TestProxyGRPCUpstreamError(t *testing.T) {
	app := startApp(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d, err := time.ParseDuration(r.Header.Get("X-Reset-After")); err == nil {
			// The app's own copy of the deadline: it ends the stream when it
			// passes, before any response.
			select {
			case <-time.After(d):
			case <-r.Context().Done():
			}
		}
		panic(http.ErrAbortHandler) // RST_STREAM on HTTP/2, a closed connection on HTTP/1.1
	}))
	rp := startProxy(t, app, ProxyOptions{})
	c := h2cClient()
	defer c.CloseIdleConnections()
	for _, tc := range []struct {
		name           string
		hdr            map[string]string
		code           int
		grpcStatus     string
		messageContain string
	}{
		{"deadline passed", map[string]string{"Content-Type": "application/grpc", "Grpc-Timeout": "100m", "X-Reset-After": "150ms"},
			200, "4", "deadline exceeded"},
		{"deadline not passed", map[string]string{"Content-Type": "application/grpc", "Grpc-Timeout": "20S"},
			200, "14", "queue: "},
		{"no deadline", map[string]string{"Content-Type": "application/grpc+proto", "X-Reset-After": "150ms"},
			200, "14", "queue: "},
		{"not gRPC", map[string]string{"Content-Type": "application/json", "Grpc-Timeout": "100m", "X-Reset-After": "150ms"},
			502, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := mustReq(t, "POST", rp.url+"/svc/Method", tc.hdr)
			res, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tc.code || res.Header.Get("Grpc-Status") != tc.grpcStatus ||
				!strings.Contains(res.Header.Get("Grpc-Message"), tc.messageContain) {
				t.Errorf("got %d grpc-status %q grpc-message %q; want %d grpc-status %q with %q",
					res.StatusCode, res.Header.Get("Grpc-Status"), res.Header.Get("Grpc-Message"),
					tc.code, tc.grpcStatus, tc.messageContain)
			}
			if tc.grpcStatus != "" && res.Header.Get("Content-Type") != "application/grpc" {
				t.Errorf("Content-Type %q, want application/grpc", res.Header.Get("Content-Type"))
			}
		})
	}
}

// TestProxyGRPCRevisionTimeout: a gRPC call past the revision timeout ends with
// status DeadlineExceeded from the queue proxy — trailers-only when the app has not
// answered, in the trailers after what it sent when it had — not with Knative's 504
// (read as Unavailable) or "request timeout" appended to a gRPC body. A plain
// request keeps the 504.
func TestProxyGRPCRevisionTimeout(t *testing.T) {
	app := startApp(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/started" {
			w.Header().Set("Content-Type", "application/grpc")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte{0, 0, 0, 0, 0}) // one empty message
			http.NewResponseController(w).Flush()
		}
		<-r.Context().Done()
	}))
	rp := startProxy(t, app, ProxyOptions{Timeout: 300 * time.Millisecond})
	c := h2cClient()
	defer c.CloseIdleConnections()
	type answer struct {
		Code                                 int
		Status, Message, TrailerStatus, Body string
	}
	for _, tc := range []struct {
		name, path, contentType string
		want                    answer
	}{
		{"gRPC, nothing answered", "/", "application/grpc", answer{Code: 200, Status: "4", Message: "queue: request timeout"}},
		{"gRPC, answer started", "/started", "application/grpc", answer{Code: 200, TrailerStatus: "4", Body: "\x00\x00\x00\x00\x00"}},
		{"plain", "/", "text/plain", answer{Code: 504, Body: "request timeout"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := c.Do(mustReq(t, "POST", rp.url+tc.path, map[string]string{"Content-Type": tc.contentType}))
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil {
				t.Fatalf("reading the body: %v", err)
			}
			got := answer{Code: res.StatusCode, Status: res.Header.Get("Grpc-Status"), Message: res.Header.Get("Grpc-Message"),
				TrailerStatus: res.Trailer.Get("Grpc-Status"), Body: string(body)}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestProxyGRPCUpstreamDownIsUnavailable: a real gRPC client reads the queue proxy's
// answer for an app that does not listen as Unavailable with the proxy's message.
func TestProxyGRPCUpstreamDownIsUnavailable(t *testing.T) {
	ln := listen(t)
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	rp := startProxy(t, startApp(t, http.NotFoundHandler()), ProxyOptions{Target: addr})
	conn, err := grpc.NewClient("passthrough:///"+strings.TrimPrefix(rp.url, "http://"),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = conn.Invoke(ctx, "/svc/Method", wrapperspb.String("x"), new(wrapperspb.StringValue))
	if s := status.Convert(err); s.Code() != codes.Unavailable || !strings.Contains(s.Message(), "queue: ") ||
		!strings.Contains(s.Message(), "connection refused") {
		t.Errorf("got %v, want Unavailable with the queue proxy's dial error", err)
	}
}

func TestGRPCEncodeMessage(t *testing.T) {
	if got, want := grpcEncodeMessage("50% ok\né"), "50%25 ok%0A%C3%A9"; got != want {
		t.Errorf("grpcEncodeMessage = %q, want %q", got, want)
	}
}
