//go:build unix && !linux

package local

import "syscall"

// setDeathSignal is a no-op where the OS has no parent-death signal; the runtime
// still stops every process group when it shuts down.
func setDeathSignal(*syscall.SysProcAttr) {}
