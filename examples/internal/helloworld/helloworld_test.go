package helloworld

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestServe(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{name: "default target", env: map[string]string{}, want: "Hello World!\n"},
		{name: "TARGET set", env: map[string]string{"TARGET": "servekit"}, want: "Hello servekit!\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.env["PORT"] = "0"
			ctx, cancel := context.WithCancel(context.Background())
			ready := make(chan net.Addr, 1)
			done := make(chan error, 1)
			go func() { done <- Run(ctx, env(tc.env), ready, slog.New(slog.DiscardHandler)) }()
			var addr net.Addr
			select {
			case addr = <-ready:
			case err := <-done:
				t.Fatalf("run returned early: %v", err)
			}
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			resp, err := client.Get("http://" + addr.String() + "/")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if diff := cmp.Diff(tc.want, string(body)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run after cancel: %v", err)
			}
		})
	}
}

// TestShutdownStopsListening checks that a cancelled run returns nil and closes its
// port, so the runtime can tell the process ended cleanly.
func TestShutdownStopsListening(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, env(map[string]string{"PORT": "0"}), ready, slog.New(slog.DiscardHandler))
	}()
	addr := (<-ready).String()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Errorf("dial %s after shutdown succeeded, want connection refused", addr)
	}
}

func TestParseEnvRejectsBadPort(t *testing.T) {
	_, err := parseEnv(env(map[string]string{"PORT": "http"}))
	if err == nil || !strings.Contains(err.Error(), `PORT="http"`) {
		t.Errorf("parseEnv(PORT=http) = %v, want an error naming PORT and its value", err)
	}
}
