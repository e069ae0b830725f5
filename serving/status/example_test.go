package status_test

import (
	"fmt"
	"strings"

	"github.com/servekit/servekit/serving/controller"
	"github.com/servekit/servekit/serving/status"
)

// Print shows a controller's Status (from status.Fetch, or Controller.Status in
// process) as tables.
func ExamplePrint() {
	var b strings.Builder
	status.Print(&b, controller.Status{Services: []controller.ServiceStatus{{
		Namespace: "default", Name: "hello", URL: "http://hello.default.example.com",
		LatestCreatedRevisionName: "hello-00002", LatestReadyRevisionName: "hello-00002", Ready: true,
		Traffic: []controller.TrafficStatus{
			{RevisionName: "hello-00001", Percent: 80},
			{RevisionName: "hello-00002", Percent: 20, Tag: "candidate"},
		},
		Revisions: []controller.RevisionStatus{
			{Name: "hello-00001", DesiredScale: 2, ReadyPods: 2, ActualPods: 2, Ready: true},
			{Name: "hello-00002", ActivatorInPath: true, Ready: true},
		},
	}}})
	for line := range strings.Lines(b.String()) {
		fmt.Println(strings.TrimRight(line, " \n")) // the empty REASON column pads with blanks
	}
	// Output:
	// NAMESPACE   NAME    URL                                LATESTCREATED   LATESTREADY   READY   REASON
	// default     hello   http://hello.default.example.com   hello-00002     hello-00002   True
	//
	// NAMESPACE   NAME          SERVICE   TRAFFIC   TAGS        DESIRED   READY PODS   ACTUAL   ACTIVATOR   READY   REASON
	// default     hello-00001   hello     80%                   2         2            2        no          True
	// default     hello-00002   hello     20%       candidate   0         0            0        in path     True
}
