//go:build unix && !linux

package local

import "os/exec"

// superviseCmd is a no-op where the OS has no parent-death signal: the program is
// the pod's process-group leader itself, and the runtime stops every group when it
// shuts down.
func superviseCmd(*exec.Cmd) {}
