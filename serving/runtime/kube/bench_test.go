package kube

import (
	"fmt"
	"testing"

	discoveryv1 "k8s.io/api/discovery/v1"
)

// BenchmarkPods measures Pods for a revision with 100 pods in two EndpointSlices, read
// from the informer's index: the controller calls it on every endpoint refresh and
// autoscaler tick.
func BenchmarkPods(b *testing.B) {
	be := newBenchBackend(b)
	for s := range 2 {
		var eps []discoveryv1.Endpoint
		for i := range 50 {
			eps = append(eps, endpoint(fmt.Sprintf("pod-%d-%d", s, i), fmt.Sprintf("10.1.%d.%d", s, i), ptr(true), nil))
		}
		if err := be.slices.GetIndexer().Add(slice(fmt.Sprintf("s%d", s), eps...)); err != nil {
			b.Fatal(err)
		}
	}
	if n := len(be.Pods(seedKey)); n != 100 {
		b.Fatalf("%d pods, want 100", n)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		be.Pods(seedKey)
	}
}

// BenchmarkMakeDeployment measures building the seed revision's Deployment (once per
// Apply).
func BenchmarkMakeDeployment(b *testing.B) {
	rev := seedRevision(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := makeDeployment(rev, testPodConfig); err != nil {
			b.Fatal(err)
		}
	}
}

func newBenchBackend(b *testing.B) *Backend {
	b.Helper()
	be, err := New(Options{Client: newFakeClient(), QueueImage: "q", StatsClient: &fakeStats{}})
	if err != nil {
		b.Fatal(err)
	}
	return be
}
