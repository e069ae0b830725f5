package status_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

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

// Print shows each pod: in rotation or not and why, its restarts and its last
// failed probe, on one line however the probe's message is written.
func TestPrintPods(t *testing.T) {
	at := time.Date(2026, 12, 4, 9, 30, 0, 0, time.UTC)
	var b bytes.Buffer
	status.Print(&b, controller.Status{Services: []controller.ServiceStatus{{
		Namespace: "default", Name: "hello",
		Revisions: []controller.RevisionStatus{{Name: "hello-00001", Pods: []controller.PodStatus{
			{Name: "hello-00001-1", Ready: true},
			{Name: "hello-00001-2", Reason: "readiness probe failed: HTTP probe failed with statuscode: 500", Restarts: 1,
				LastProbeFailure: &controller.ProbeFailure{Probe: "readiness", Message: "HTTP probe failed with statuscode: 500: boom\nline two", Time: at}},
			{Name: "hello-00001-3", Pending: true, Reason: "waiting for room"},
			{Name: "hello-00001-4", Terminating: true},
		}}},
	}}})
	var got []string
	inPods := false
	for line := range strings.Lines(b.String()) {
		line = strings.Join(strings.Fields(line), " ")
		if strings.HasPrefix(line, "NAMESPACE REVISION POD") {
			inPods = true
		}
		if inPods && line != "" {
			got = append(got, line)
		}
	}
	want := []string{
		"NAMESPACE REVISION POD READY RESTARTS REASON LAST PROBE FAILURE",
		"default hello-00001 hello-00001-1 True 0",
		"default hello-00001 hello-00001-2 False 1 readiness probe failed: HTTP probe failed with statuscode: 500 readiness at 2026-12-04T09:30:00Z: HTTP probe failed with statuscode: 500: boom line two",
		"default hello-00001 hello-00001-3 False 0 waiting for room",
		"default hello-00001 hello-00001-4 False 0 Terminating",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pods table (-want +got):\n%s\nfull output:\n%s", diff, b.String())
	}
}
