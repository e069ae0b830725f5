package metrics_test

import (
	"fmt"

	"github.com/servekit/servekit/autoscaler/metrics"
)

// A queue proxy encodes its report for the autoscaler's scrape; the autoscaler
// decodes it.
func ExampleStat_AppendProto() {
	st := metrics.Stat{PodName: "p", AverageConcurrentRequests: 1}
	b := st.AppendProto(make([]byte, 0, 64))
	fmt.Printf("% x\n", b)

	var got metrics.Stat
	if err := got.UnmarshalBinary(b); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s: %.1f\n", got.PodName, got.AverageConcurrentRequests)

	err := got.UnmarshalBinary([]byte{0x11, 0, 0}) // a truncated double
	fmt.Println(err)
	// Output:
	// 0a 01 70 11 00 00 00 00 00 00 f0 3f
	// p: 1.0
	// metrics: malformed protobuf Stat: field 2: unexpected EOF
}
