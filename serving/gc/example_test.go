package gc_test

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/servekit/servekit/serving"
	"github.com/servekit/servekit/serving/gc"
	v1 "github.com/servekit/servekit/serving/v1"
)

func ExampleCollect() {
	// config-gc as a platform team might write it: keep one spare revision,
	// and none that has been out of traffic for more than an hour.
	c, err := gc.ConfigFromMap(map[string]string{
		"retain-since-create-time":      "disabled",
		"retain-since-last-active-time": "1h",
		"min-non-active-revisions":      "1",
		"max-non-active-revisions":      "disabled",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	revision := func(name, state string, lastActive time.Duration) *v1.Revision {
		return &v1.Revision{ObjectMeta: metav1.ObjectMeta{
			Name:              name,
			Namespace:         "default",
			CreationTimestamp: metav1.NewTime(now.Add(-72 * time.Hour)),
			Labels: map[string]string{
				serving.ConfigurationLabelKey: "hello",
				serving.RoutingStateLabelKey:  state,
			},
			Annotations: map[string]string{
				serving.RoutingStateModifiedAnnotationKey: now.Add(-lastActive).Format(time.RFC3339),
			},
		}}
	}
	revs := []*v1.Revision{
		revision("hello-00001", serving.RoutingStateReserve, 50*time.Hour),
		revision("hello-00002", serving.RoutingStateReserve, 40*time.Hour),
		revision("hello-00003", serving.RoutingStateReserve, 30*time.Hour),
		revision("hello-00004", serving.RoutingStateActive, 30*time.Hour), // routed: kept
	}
	config := &v1.Configuration{ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "default"}}
	config.Status.LatestReadyRevisionName = "hello-00004"

	fmt.Println(gc.Collect(c, config, revs, now))
	// Output: [hello-00001 hello-00002]
}
