package activator

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/servekit/servekit/queue"
)

// Issue 17: "Expect: 100-continue" goes through the activator to the pod, which
// decides. The client gets exactly one 100 Continue when the pod reads the body (the
// pod's, forwarded, and the server's own on the first read of the body raced to send
// two), none when it answers without reading (and then sends no body), and always
// the final response, at once: the activator used to replace the server's own
// request body, so that the server, finding it unread, waited for the client to send
// it.
func TestHandlerExpectContinue(t *testing.T) {
	reader := newPod(t, nil) // reads the body, answers 200 "<addr> <body>"
	rejecter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(queue.ProbeHeaderName) == queue.ProbeHeaderValue {
			io.WriteString(w, queue.ProbeHeaderValue)
			return
		}
		http.Error(w, "too large", http.StatusRequestEntityTooLarge)
	}))
	t.Cleanup(rejecter.Close)
	const size = 64 << 10
	for _, tc := range []struct {
		name      string
		addr      string
		wantCode  int
		wantBody  string
		want100   int32
		wantBytes int64
	}{
		{"pod reads the body", reader.addr, 200, reader.addr + " " + strings.Repeat("x", size), 1, size},
		{"pod answers without reading", strings.TrimPrefix(rejecter.URL, "http://"), 413, "too large\n", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := startActivator(t, Options{}, map[RevisionKey]Revision{testKey: {Timeout: 10 * time.Second}})
			if err := a.t.UpdateEndpoints(testKey, []string{tc.addr}); err != nil {
				t.Fatal(err)
			}
			// A client that waits 5 s for 100 Continue before it sends the body anyway.
			tr := &http.Transport{ExpectContinueTimeout: 5 * time.Second}
			t.Cleanup(tr.CloseIdleConnections)
			for i := range 20 {
				var interim atomic.Int32
				var sent atomic.Int64
				ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
					Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
						if code == http.StatusContinue {
							interim.Add(1)
						}
						return nil
					},
				})
				body := io.TeeReader(strings.NewReader(strings.Repeat("x", size)), writerFunc(func(p []byte) (int, error) {
					sent.Add(int64(len(p)))
					return len(p), nil
				}))
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, a.srv.URL, body)
				req.ContentLength = size
				req.Header.Set("X-Revision", testKey.String())
				req.Header.Set("Expect", "100-continue")
				resp, err := tr.RoundTrip(req)
				if err != nil {
					t.Fatalf("request %d: %v, want the final response", i, err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tc.wantCode || string(b) != tc.wantBody {
					t.Errorf("request %d = %d %.40q, want %d %.40q", i, resp.StatusCode, b, tc.wantCode, tc.wantBody)
				}
				if got := interim.Load(); got != tc.want100 {
					t.Errorf("request %d: got %d 100 Continue, want %d", i, got, tc.want100)
				}
				if got := sent.Load(); got != tc.wantBytes {
					t.Errorf("request %d: the client sent %d body bytes, want %d", i, got, tc.wantBytes)
				}
				if t.Failed() {
					return
				}
			}
		})
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
