//go:build !linux

package local

import (
	"fmt"
	goruntime "runtime"
)

// groupUsage is what a pod's processes use: CPU seconds and resident memory in
// bytes.
type groupUsage struct {
	cpu float64
	rss int64
}

// readGroupUsage reports that the local HPA has no CPU or memory metrics here: it
// reads them from Linux's /proc.
func readGroupUsage([]int) (map[int]groupUsage, error) {
	return nil, fmt.Errorf("local: cpu and memory metrics are unavailable on %s: the local HPA reads them from Linux's /proc; the revision stays at its initial scale", goruntime.GOOS)
}
