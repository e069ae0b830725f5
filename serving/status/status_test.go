package status_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/servekit/servekit/serving/controller"
	"github.com/servekit/servekit/serving/status"
)

func TestFetch(t *testing.T) {
	want := controller.Status{
		Services: []controller.ServiceStatus{{Namespace: "default", Name: "hello", Ready: true}},
		Errors:   []controller.SourceError{{Source: "bad.yaml", Error: "bad.yaml: spec: nope"}},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/status" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(want)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	got, err := status.Fetch(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
	var b bytes.Buffer
	status.Print(&b, got)
	if !strings.Contains(b.String(), "REJECTED MANIFESTS (nothing of them applied):\n  bad.yaml: spec: nope\n") {
		t.Errorf("Print lacks the rejected manifest:\n%s", b.String())
	}
}

func TestFetchErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	if _, err := status.Fetch(context.Background(), strings.TrimPrefix(srv.URL, "http://")); err == nil || !strings.Contains(err.Error(), "GET /status: 503") {
		t.Errorf("Fetch from a 503 = %v, want an error naming the status", err)
	}
	if _, err := status.Fetch(context.Background(), "127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "is the controller running with --admin 127.0.0.1:1?") {
		t.Errorf("Fetch with nothing listening = %v", err)
	}
}
