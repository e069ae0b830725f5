package revision_test

import (
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/servekit/servekit/serving/revision"
	v1 "github.com/servekit/servekit/serving/v1"
)

func ExampleSnapshot() {
	cfg := &v1.Configuration{
		ObjectMeta: metav1.ObjectMeta{
			Name:        "hello",
			Namespace:   "default",
			UID:         "0b6e4f0c",
			Generation:  2,
			Labels:      map[string]string{"serving.knative.dev/service": "hello"},
			Annotations: map[string]string{"serving.knative.dev/routes": "hello", "serving.knative.dev/lastModifier": "alice"},
		},
		Spec: v1.ConfigurationSpec{Template: v1.RevisionTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "hello"}},
			Spec: v1.RevisionSpec{PodSpec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "user-container", Image: "example.com/hello:v2"}},
			}},
		}},
	}
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	rev, err := revision.Snapshot(cfg, now)
	if err != nil {
		fmt.Println(err)
		return
	}
	// Editing the Configuration afterwards never changes the snapshot.
	cfg.Spec.Template.Spec.Containers[0].Image = "example.com/hello:v3"

	fmt.Println(rev.Name, rev.Spec.Containers[0].Image)
	fmt.Println("owner:", rev.OwnerReferences[0].Kind, rev.OwnerReferences[0].Name)
	for _, m := range []map[string]string{rev.Labels, rev.Annotations} {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Printf("  %s: %s\n", k, m[k])
		}
	}
	// Output:
	// hello-00002 example.com/hello:v2
	// owner: Configuration hello
	//   app: hello
	//   serving.knative.dev/configuration: hello
	//   serving.knative.dev/configurationGeneration: 2
	//   serving.knative.dev/configurationUID: 0b6e4f0c
	//   serving.knative.dev/routingState: active
	//   serving.knative.dev/service: hello
	//   serving.knative.dev/creator: alice
	//   serving.knative.dev/routes: hello
	//   serving.knative.dev/routingStateModified: 2026-11-27T12:00:00Z
}

func ExampleUpdateLatest() {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	ready := func(name, gen string, ok corev1.ConditionStatus) *v1.Revision {
		r := &v1.Revision{ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: "default", Generation: 1,
			Labels: map[string]string{
				"serving.knative.dev/configuration":           "hello",
				"serving.knative.dev/configurationGeneration": gen,
			},
		}}
		r.Status.ObservedGeneration = 1
		r.Status.Conditions = v1.Conditions{{Type: v1.RevisionConditionReady, Status: ok, Message: "image not found"}}
		return r
	}
	good, bad := ready("hello-00001", "1", corev1.ConditionTrue), ready("hello-00002", "2", corev1.ConditionFalse)

	cfg := &v1.Configuration{ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "default", Generation: 2}}
	cfg.Status.LatestCreatedRevisionName = "hello-00001"
	cfg.Status.LatestReadyRevisionName = "hello-00001"

	events, err := revision.UpdateLatest(cfg, bad, []*v1.Revision{good, bad}, now)
	if err != nil {
		fmt.Println(err)
		return
	}
	c := cfg.Status.GetCondition(v1.ConfigurationConditionReady)
	fmt.Println("latest created:", cfg.Status.LatestCreatedRevisionName)
	fmt.Println("latest ready:  ", cfg.Status.LatestReadyRevisionName)
	fmt.Println("Ready:", c.Status, c.Reason, c.Message)
	fmt.Println("event:", events[0].Reason)
	// Output:
	// latest created: hello-00002
	// latest ready:   hello-00001
	// Ready: False RevisionFailed Revision "hello-00002" failed with message: image not found.
	// event: LatestCreatedFailed
}
