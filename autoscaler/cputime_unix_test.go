//go:build unix

package autoscaler

import (
	"syscall"
	"time"
)

// processCPU returns the user + system CPU time the process has used, so
// a benchmark on a machine shared with other jobs can report CPU per
// operation next to wall time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
