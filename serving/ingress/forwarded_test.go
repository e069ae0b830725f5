package ingress_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// The forwarding headers the app sees on both paths, with and without a User-Agent:
// the ingress and the activator set X-Forwarded-For/-Host/-Proto as
// httputil.ProxyRequest.SetXForwarded does (a client's X-Forwarded-For is not
// trusted), the queue proxy appends its peer and adds Forwarded, and a request that
// came without a User-Agent reaches the app without one (net/http would add its own).
func TestForwardingHeadersReachTheApp(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		for _, k := range []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded", "User-Agent"} {
			v, ok := r.Header[k]
			b.WriteString(k + "=" + strings.Join(v, "|"))
			if !ok {
				b.WriteString("(none)")
			}
			b.WriteString(";")
		}
		_, _ = io.WriteString(w, b.String())
	})
	for _, inPath := range []bool{false, true} {
		url := stack(t, app, inPath, nil, nil)
		for _, tc := range []struct {
			name, ua, want string
		}{
			{"no User-Agent", "", "X-Forwarded-For=127.0.0.1, 127.0.0.1;X-Forwarded-Host=hello.default.example.com;X-Forwarded-Proto=http;" +
				"Forwarded=for=127.0.0.1;host=hello.default.example.com;proto=http;User-Agent=(none);"},
			{"a User-Agent", "curl/8", "X-Forwarded-For=127.0.0.1, 127.0.0.1;X-Forwarded-Host=hello.default.example.com;X-Forwarded-Proto=http;" +
				"Forwarded=for=127.0.0.1;host=hello.default.example.com;proto=http;User-Agent=curl/8;"},
		} {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Host = "hello.default.example.com"
			req.Header["User-Agent"] = []string{tc.ua} // "": the client sends none
			req.Header.Set("X-Forwarded-For", "203.0.113.9")
			req.Header.Set("X-Forwarded-Host", "evil.example.com")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || string(b) != tc.want {
				t.Errorf("activator in path %v, %s: %d\n got %q\nwant %q", inPath, tc.name, resp.StatusCode, b, tc.want)
			}
		}
	}
}
