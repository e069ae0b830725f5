package queue

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestForwardedHeaders(t *testing.T) {
	tests := []struct {
		name string
		in   map[string]string
		want map[string]string // headers the app sees
	}{{
		name: "no forwarding headers: client address added",
		in:   map[string]string{},
		want: map[string]string{"X-Forwarded-For": "192.0.2.1", "Forwarded": "", "X-Forwarded-Proto": ""},
	}, {
		name: "X-Forwarded-* become a Forwarded header, client appended to XFF",
		in:   map[string]string{"X-Forwarded-For": "203.0.113.9, 2001:db8::1", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "hello.example"},
		want: map[string]string{
			"X-Forwarded-For":   "203.0.113.9, 2001:db8::1, 192.0.2.1",
			"X-Forwarded-Proto": "https",
			"X-Forwarded-Host":  "hello.example",
			"Forwarded":         `for=203.0.113.9;host=hello.example;proto=https, for="[2001:db8::1]"`,
		},
	}, {
		name: "an existing Forwarded header is kept",
		in:   map[string]string{"Forwarded": "for=198.51.100.7", "X-Forwarded-Proto": "https"},
		want: map[string]string{"Forwarded": "for=198.51.100.7", "X-Forwarded-Proto": "https", "X-Forwarded-For": "192.0.2.1"},
	}, {
		name: "revision headers are removed",
		in:   map[string]string{"Knative-Serving-Revision": "r", "Knative-Serving-Namespace": "n"},
		want: map[string]string{"Knative-Serving-Revision": "", "Knative-Serving-Namespace": ""},
	}}
	var (
		mu  sync.Mutex
		got http.Header
	)
	app := startApp(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = r.Header.Clone()
		mu.Unlock()
	}))
	p, err := NewProxy(ProxyOptions{Target: app.Listener.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.CloseIdleConnections()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil) // RemoteAddr 192.0.2.1:1234
			for k, v := range tc.in {
				req.Header.Set(k, v)
			}
			p.ServeHTTP(httptest.NewRecorder(), req)
			mu.Lock()
			defer mu.Unlock()
			seen := map[string]string{}
			for k := range tc.want {
				seen[k] = got.Get(k)
			}
			if diff := cmp.Diff(tc.want, seen); diff != "" {
				t.Errorf("headers at the app (-want +got):\n%s", diff)
			}
		})
	}
}
