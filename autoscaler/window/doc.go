// Package window holds the time-bucketed metric windows the autoscaler
// averages over, reproducing Knative's aggregation package number for number.
//
// Every method takes the current instant as an argument; nothing here reads
// the wall clock. Three windows exist:
//
//   - [TimedBuckets]: 1-second buckets averaged linearly (Knative's default
//     "linear" algorithm), with its warm-up denominator, same-second sums and
//     the rule that silence after the last write shrinks the window.
//   - [WeightedBuckets]: the same storage averaged with un-normalised
//     exponential weights ("weighted-exponential").
//   - [Max]: a sliding maximum over integer slots, used for scale-down delay.
//
// The windows are not safe for concurrent use; the caller (the autoscaler's
// collector) serialises access. None of the hot-path methods allocate.
package window
