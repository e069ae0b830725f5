package service

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/servekit/servekit/serving/revision"
	v1 "github.com/servekit/servekit/serving/v1"
)

// TestSeedThroughServingV1 runs the seed manifest through serving/v1's
// decoder and defaults, checks the result against the admission output
// this package's tests are written against, and checks that every object
// made from it passes serving/v1's validation, as Knative's webhooks would
// require when the controller creates them.
func TestSeedThroughServingV1(t *testing.T) {
	f, err := os.Open("testdata/helloworld-go.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	docs, err := v1.Decode(f, v1.DecodeOptions{Strict: true})
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if len(docs) != 1 {
		t.Fatalf("Decode returned %d documents, want 1", len(docs))
	}
	svc, ok := docs[0].Object.(*v1.Service)
	if !ok {
		t.Fatalf("Decode returned a %T, want *v1.Service", docs[0].Object)
	}
	d := v1.StockDefaults()
	svc.SetDefaults(d)
	// What the API server and the webhook's user info add.
	svc.Namespace, svc.UID, svc.Generation = "default", "svc-uid", 1
	svc.Annotations = map[string]string{
		"serving.knative.dev/creator":      "alice",
		"serving.knative.dev/lastModifier": "alice",
	}
	if diff := cmp.Diff(seedService(t), svc); diff != "" {
		t.Errorf("serving/v1 admission of the seed differs from seed-example.md §2 (-reference +serving/v1):\n%s", diff)
	}
	if errs := svc.Validate(d); len(errs) != 0 {
		t.Errorf("seed Service invalid: %v", errs)
	}

	cfg := MakeConfiguration(svc)
	if errs := cfg.Validate(d); len(errs) != 0 {
		t.Errorf("MakeConfiguration result invalid: %v", errs)
	}
	route := MakeRoute(svc)
	if errs := route.Validate(d); len(errs) != 0 {
		t.Errorf("MakeRoute result invalid: %v", errs)
	}

	cfg.UID, cfg.Generation = "cfg-uid", 1
	r1, err := revision.Snapshot(cfg, now)
	if err != nil {
		t.Fatal(err)
	}
	if errs := r1.Validate(d); len(errs) != 0 {
		t.Errorf("Snapshot result invalid: %v", errs)
	}

	// A template change makes generation 2 and a second valid Revision.
	svc.Spec.Template.Spec.Containers[0].Env[0].Value = "Knative"
	next, changed := ApplyConfiguration(cfg, MakeConfigurationFromExisting(svc, cfg))
	if !changed {
		t.Fatal("ApplyConfiguration: template change not seen")
	}
	if errs := next.ValidateUpdate(cfg, d); len(errs) != 0 {
		t.Errorf("updated Configuration invalid: %v", errs)
	}
	next.Generation = 2
	r2, err := revision.Snapshot(next, now)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Name != "helloworld-go-00002" {
		t.Errorf("second Revision is %q, want helloworld-go-00002", r2.Name)
	}
	if errs := r2.Validate(d); len(errs) != 0 {
		t.Errorf("second Snapshot invalid: %v", errs)
	}
	if got := r1.Spec.Containers[0].Env[0].Value; got != "World" {
		t.Errorf("first Revision's TARGET = %q after the template changed, want World", got)
	}

	// The labeler's edits of a Revision are metadata only: still a valid
	// update of an immutable Revision.
	// Once the Route serves generation 2, the first Revision goes to reserve.
	route.Generation, route.Status.ObservedGeneration = 1, 1
	route.Status.InitializeConditions(now)
	route.Status.MarkTrafficAssigned(now)
	route.Status.MarkTLSNotEnabled(now, v1.MessageTLSNotEnabled)
	route.Status.PropagateIngressReady(now, "True", "", "")
	route.Status.Traffic = []v1.TrafficTarget{{RevisionName: r2.Name, LatestRevision: ptr(true), Percent: ptr[int64](100)}}
	next.Status.LatestCreatedRevisionName = r2.Name
	ch := revision.SyncRoutingState(route, []*v1.Configuration{next}, []*v1.Revision{r1, r2}, now)
	if len(ch.Revisions) != 1 || ch.Revisions[0].Name != r1.Name || ch.Revisions[0].Labels["serving.knative.dev/routingState"] != "reserve" {
		t.Errorf("SyncRoutingState revisions = %v, want %s to reserve", ch.Revisions, r1.Name)
	}
	for _, r := range ch.Revisions {
		old := r1
		if r.Name == r2.Name {
			old = r2
		}
		if errs := r.ValidateUpdate(old, d); len(errs) != 0 {
			t.Errorf("labeler update of %s invalid: %v", r.Name, errs)
		}
	}
}
