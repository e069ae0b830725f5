package traffic_test

import (
	"fmt"

	"github.com/servekit/servekit/route/traffic"
)

func ExampleValidate() {
	pct := func(v int64) *int64 { return &v }
	targets := []traffic.Target{
		{Tag: "canary", RevisionName: "hello-00002", Percent: pct(10)},
		{Tag: "canary", ConfigurationName: "hello", Percent: pct(80)},
	}
	for _, e := range traffic.Validate(targets, false) {
		fmt.Printf("[%d] %s: %s\n", e.Index, e.Field, e.Message())
	}
	// Output:
	// [0] tag: Multiple definitions for "canary"
	// [1] tag: Multiple definitions for "canary"
	// [-1] : Traffic targets sum to 90, want 100
}
