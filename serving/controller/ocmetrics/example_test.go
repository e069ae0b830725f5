package ocmetrics_test

import (
	"fmt"
	"time"

	"go.opencensus.io/stats/view"
	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/serving/controller/ocmetrics"
)

// A binary registers the Views once and gives a Reporter to controller.Options;
// here the Reporter is called directly.
func ExampleReporter() {
	views := ocmetrics.Views()
	if err := view.Register(views...); err != nil {
		fmt.Println(err)
		return
	}
	defer view.Unregister(views...)

	(&ocmetrics.Reporter{}).ReportColdStart(types.NamespacedName{Namespace: "default", Name: "hello-00001"}, 2*time.Second)
	rows, _ := view.RetrieveData("servekit_cold_start_seconds")
	d := rows[0].Data.(*view.DistributionData)
	fmt.Println(d.Count, d.Max)
	// Output: 1 2
}
