package ingress_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/servekit/servekit/queue"
)

// Issue 13: internal probe headers sent from outside changed behaviour they should
// not: `K-Network-Probe: queue` got "queue" from the pod on the direct path (and a
// 400 from the activator), `K-Kubelet-Probe` got "ok" from the activator; neither
// reached the app. The ingress is where outside traffic enters: it drops them, so
// such a request is an ordinary one, answered by the app, on both paths.
func TestProbeHeadersFromOutsideReachTheApp(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "app|"+r.UserAgent())
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
			default:
				req.Header.Set(h.name, h.value)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := "app|" + ua; resp.StatusCode != http.StatusOK || string(b) != want {
				t.Errorf("activator in path %v, %s: %s: %d %q, want 200 %q", inPath, h.name, h.value, resp.StatusCode, b, want)
			}
		}
	}
}
