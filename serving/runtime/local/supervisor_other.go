//go:build unix && !linux

package local

import (
	"os/exec"
	"syscall"
)

// superviseCmd is a no-op where the OS has no parent-death signal: the program is
// the pod's process-group leader itself, and the runtime stops every group when it
// shuts down.
func superviseCmd(*exec.Cmd) {}

// killDescendants is a no-op without /proc: a process that left the pod's group is
// not found.
func killDescendants(int, syscall.Signal) {}
