package controller_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/servekit/servekit/serving/controller"
	v1 "github.com/servekit/servekit/serving/v1"
)

func names[T metav1.Object](objs []T) []string {
	out := []string{}
	for _, o := range objs {
		out = append(out, o.GetNamespace()+"/"+o.GetName())
	}
	return out
}

func TestObjectsListsAppliedAndMadeObjects(t *testing.T) {
	b := newFakeBackend()
	c, err := controller.New(controller.Options{Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	svcs := []v1.Object{testService("zeta", "example.com/z"), testService("alpha", "example.com/a")}
	if err := c.Apply("svc.yaml", svcs); err != nil {
		t.Fatal(err)
	}
	if got := c.Objects(); len(got.Configurations)+len(got.Routes)+len(got.Revisions) != 0 {
		t.Errorf("before any reconcile: %v %v %v, want no children yet", names(got.Configurations), names(got.Routes), names(got.Revisions))
	}
	run(t, c)
	waitFor(t, "both Ready", func() bool {
		st := c.Status()
		return len(st.Services) == 2 && st.Services[0].Ready && st.Services[1].Ready
	})
	got := c.Objects()
	want := map[string][]string{
		"services":       {"default/alpha", "default/zeta"},
		"configurations": {"default/alpha", "default/zeta"},
		"routes":         {"default/alpha", "default/zeta"},
		"revisions":      {"default/alpha-00001", "default/zeta-00001"},
	}
	gotNames := map[string][]string{
		"services":       names(got.Services),
		"configurations": names(got.Configurations),
		"routes":         names(got.Routes),
		"revisions":      names(got.Revisions),
	}
	if diff := cmp.Diff(want, gotNames); diff != "" {
		t.Errorf("Objects (-want +got):\n%s", diff)
	}
	if got.Services[0].Status.LatestReadyRevisionName != "alpha-00001" || !got.Revisions[0].IsReady() {
		t.Errorf("status not carried: service %+v, revision ready %v", got.Services[0].Status, got.Revisions[0].IsReady())
	}
	if ref := metav1.GetControllerOf(got.Revisions[0]); ref == nil || ref.Kind != v1.KindConfiguration || ref.UID != got.Configurations[0].UID {
		t.Errorf("revision controller = %+v, want Configuration with UID %s", ref, got.Configurations[0].UID)
	}

	// The copies are the caller's: changing them changes nothing.
	got.Services[0].Status.URL = "changed"
	got.Revisions[0].Labels["x"] = "y"
	again := c.Objects()
	if again.Services[0].Status.URL == "changed" || again.Revisions[0].Labels["x"] == "y" {
		t.Error("Objects returned the controller's own objects, not copies")
	}
}
