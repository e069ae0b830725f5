package ingress_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/servekit/servekit/queue"
)

// Issue 13: internal headers sent from outside must change nothing: each, alone and
// all together, on both paths, gives the app's answer, the app sees the client's Host
// and User-Agent and none of the platform's headers. Before, internal probe headers
// changed behaviour: `K-Network-Probe: queue` got "queue" from the pod on the direct path (and a
// 400 from the activator), `K-Kubelet-Probe` got "ok" from the activator; neither
// reached the app. The ingress is where outside traffic enters: it drops them, so
// such a request is an ordinary one, answered by the app, on both paths.
func TestProbeHeadersFromOutsideReachTheApp(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// What the app sees: the User-Agent, the Host, and any internal header that
		// reached it (none may).
		var internal []string
		for _, k := range []string{queue.ProbeHeaderName, queue.KubeletProbeHeader, queue.ProxyHeaderName,
			queue.OriginalHostHeader, queue.PeerTokenHeader} {
			if v := r.Header.Get(k); v != "" {
				internal = append(internal, k+"="+v)
			}
		}
		_, _ = io.WriteString(w, "app|"+r.UserAgent()+"|"+r.Host+"|"+strings.Join(internal, ","))
	})
	for _, inPath := range []bool{false, true} {
		url := stack(t, app, inPath, nil, nil)
		for _, h := range []struct{ name, value string }{
			{queue.ProbeHeaderName, queue.ProbeHeaderValue},
			{queue.ProbeHeaderName, "activator"},
			{queue.KubeletProbeHeader, "x"},
			{"User-Agent", "kube-probe/1.30"},
			{"User-Agent", "Knative-Activator-Probe"},
			{"User-Agent", "Knative-Autoscaling-Probe"},
			{"User-Agent+" + queue.KubeletProbeHeader, "kube-probe/1.30"},
			{queue.ProxyHeaderName, queue.ProxyHeaderValue},
			{queue.OriginalHostHeader, "evil.example.com"},
			{queue.PeerTokenHeader, "a-guess"},
			{"all", ""},
		} {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Host = "hello.default.example.com"
			ua := "Go-http-client/1.1"
			switch h.name {
			case "User-Agent":
				ua = h.value
				req.Header.Set("User-Agent", h.value)
			case "User-Agent+" + queue.KubeletProbeHeader:
				ua = h.value
				req.Header.Set("User-Agent", h.value)
				req.Header.Set(queue.KubeletProbeHeader, "x")
			case "all":
				ua = "kube-probe/1.30"
				req.Header.Set("User-Agent", ua)
				req.Header.Set(queue.ProbeHeaderName, queue.ProbeHeaderValue)
				req.Header.Set(queue.KubeletProbeHeader, "x")
				req.Header.Set(queue.ProxyHeaderName, queue.ProxyHeaderValue)
				req.Header.Set(queue.OriginalHostHeader, "evil.example.com")
				req.Header.Set(queue.PeerTokenHeader, "a-guess")
			default:
				req.Header.Set(h.name, h.value)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			// Through the activator the app sees the activator's own marker, as
			// behind Knative's (set by the activator, never the client's).
			mark := ""
			if inPath {
				mark = queue.ProxyHeaderName + "=" + queue.ProxyHeaderValue
			}
			if want := "app|" + ua + "|hello.default.example.com|" + mark; resp.StatusCode != http.StatusOK || string(b) != want {
				t.Errorf("activator in path %v, %s: %s: %d %q, want 200 %q", inPath, h.name, h.value, resp.StatusCode, b, want)
			}
		}
	}
}
