package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// OpenCensus's view worker is process-wide and never stops.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"))
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    *Config
		wantErr string
	}{
		{name: "empty", in: "", want: &Config{}},
		{
			name: "yaml",
			in:   "revisions:\n- namespace: default\n  name: hello\n  containerConcurrency: 1\n  hosts: [Hello.Example.com]\n  addresses: [\"127.0.0.1:8081\"]\n",
			want: &Config{Revisions: []RevisionConfig{{Namespace: "default", Name: "hello", ContainerConcurrency: 1, Hosts: []string{"Hello.Example.com"}, Addresses: []string{"127.0.0.1:8081"}}}},
		},
		{
			name: "json",
			in:   `{"revisions":[{"namespace":"a","name":"b","addresses":["10.0.0.1:1","garbage"]}]}`,
			want: &Config{Revisions: []RevisionConfig{{Namespace: "a", Name: "b", Addresses: []string{"10.0.0.1:1", "garbage"}}}},
		},
		{name: "unknown field", in: "revisions:\n- namespace: a\n  name: b\n  concurrency: 1\n", wantErr: `unknown field "concurrency"`},
		{name: "no namespace", in: "revisions:\n- name: b\n", wantErr: "revisions[0].namespace: required"},
		{name: "negative cc", in: "revisions:\n- {namespace: a, name: b, containerConcurrency: -1}\n", wantErr: "revisions[0].containerConcurrency: must be >= 0, got -1"},
		{name: "negative timeout", in: "revisions:\n- {namespace: a, name: b, timeoutSeconds: -5}\n", wantErr: "revisions[0].timeoutSeconds: must be >= 0, got -5"},
		{name: "duplicate revision", in: "revisions:\n- {namespace: a, name: b}\n- {namespace: a, name: b}\n", wantErr: "revisions[1]: revision a/b listed twice"},
		{name: "duplicate host", in: "revisions:\n- {namespace: a, name: b, hosts: [x]}\n- {namespace: a, name: c, hosts: [X]}\n", wantErr: `revisions[1].hosts[0]: host "x" already routes to a/b`},
		{name: "not yaml", in: "revisions: [", wantErr: "endpoints file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseConfig([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("revisions:\n- {namespace: a, name: b, hosts: [x], addresses: [\"1.2.3.4:5\"]}\n"))
	f.Add([]byte(`{"revisions":[]}`))
	f.Add([]byte("revisions: ["))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseConfig(data)
		if err != nil {
			return
		}
		for _, r := range c.Revisions {
			if r.Namespace == "" || r.Name == "" || r.ContainerConcurrency < 0 || r.TimeoutSeconds < 0 {
				t.Errorf("accepted invalid revision %+v", r)
			}
		}
	})
}

func TestParseRevisionFlag(t *testing.T) {
	got, err := parseRevisionFlag("ns/rev=127.0.0.1:1, 127.0.0.1:2,", 2, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := RevisionConfig{Namespace: "ns", Name: "rev", ContainerConcurrency: 2, TimeoutSeconds: 30, Addresses: []string{"127.0.0.1:1", "127.0.0.1:2"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, bad := range []string{"rev=1.2.3.4:5", "/rev", "ns/"} {
		if _, err := parseRevisionFlag(bad, 0, 0); err == nil || !strings.Contains(err.Error(), "-revision") {
			t.Errorf("parseRevisionFlag(%q) = %v, want an error naming -revision", bad, err)
		}
	}
}

func TestFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-revision", "a/b=", "-endpoints-file", "x"},
		{"-revision", "a/b=", "-poll-interval", "0s"},
		{"-nope"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q): no error", args)
		}
	}
}

func pod(t *testing.T, name string) (*httptest.Server, string) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("K-Network-Probe") == "queue" {
			io.WriteString(w, "queue")
			return
		}
		io.WriteString(w, name+" "+r.Header.Get("Servekit-Peer-Token"))
	}))
	t.Cleanup(srv.Close)
	return srv, strings.TrimPrefix(srv.URL, "http://")
}

func TestRunWithEndpointsFile(t *testing.T) {
	_, a1 := pod(t, "pod-1")
	_, a2 := pod(t, "pod-2")
	file := filepath.Join(t.TempDir(), "endpoints.yaml")
	write := func(addr string) {
		cfg := "revisions:\n- namespace: default\n  name: hello-00001\n  containerConcurrency: 1\n  timeoutSeconds: 5\n  hosts: [hello.example.com]\n  addresses: [\"" + addr + "\", \"garbage\"]\n"
		if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(a1)

	ctx, cancel := context.WithCancel(context.Background())
	type listeners struct{ traffic, admin net.Addr }
	ready := make(chan listeners, 1)
	done := make(chan error, 1)
	logs := &strings.Builder{}
	lw := &lockedWriter{w: logs}
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-admin", "127.0.0.1:0", "-endpoints-file", file,
			"-poll-interval", "10ms", "-drain-delay", "0s"},
			func(k string) string { return map[string]string{"SERVEKIT_PEER_TOKEN": "tok"}[k] }, lw,
			func(tr, ad net.Addr) { ready <- listeners{tr, ad} })
	}()
	var l listeners
	select {
	case l = <-ready:
	case err := <-done:
		t.Fatalf("run: %v", err)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	get := func(url, host string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Host = host
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	traffic := "http://" + l.traffic.String()
	if code, body := get(traffic, "hello.example.com"); code != 200 || body != "pod-1 tok" {
		t.Errorf("via host: %d %q", code, body)
	}
	if code, body := get(traffic, "hello-00001.default.svc.cluster.local"); code != 200 || body != "pod-1 tok" {
		t.Errorf("via service host: %d %q", code, body)
	}
	if code, _ := get(traffic, "other.example.com"); code != 404 {
		t.Errorf("unknown host: %d, want 404", code)
	}
	// The file changes: the next request goes to the new pod.
	write(a2)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, body := get(traffic, "hello.example.com"); body == "pod-2 tok" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("new endpoints never used")
		}
		time.Sleep(5 * time.Millisecond)
	}
	admin := "http://" + l.admin.String()
	if code, body := get(admin+"/healthz", ""); code != 200 || body != "ok" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if _, body := get(admin+"/metrics", ""); !strings.Contains(body, "activator_queue_wait_ms_count") {
		t.Errorf("/metrics lacks the queue wait histogram:\n%s", body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run after cancel: %v", err)
	}
	if !strings.Contains(lw.String(), `address=garbage reason="not ip:port"`) {
		t.Errorf("bad address not logged:\n%s", lw.String())
	}
}

func TestRunStatic(t *testing.T) {
	_, a1 := pod(t, "pod-1")
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-admin", "127.0.0.1:0", "-revision", "default/hello=" + a1, "-drain-delay", "0s"},
			func(string) string { return "" }, io.Discard, func(tr, _ net.Addr) { ready <- tr })
	}()
	addr := <-ready
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr.String(), nil)
	req.Host = "hello.default.svc.cluster.local"
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "pod-1 " {
		t.Errorf("got %d %q", resp.StatusCode, b)
	}
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}
