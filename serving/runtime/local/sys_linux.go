//go:build linux

package local

import "syscall"

// setDeathSignal asks Linux to kill the child if the controller dies without
// stopping it (a crash, SIGKILL): pods never outlive the platform.
func setDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
