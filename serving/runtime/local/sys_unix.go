//go:build unix

package local

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// startInGroup makes the command the leader of a new process group, so stopping it
// can signal the whole group: whatever the user's program forked goes too.
func startInGroup(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	setDeathSignal(cmd.SysProcAttr)
}

// signalGroup sends sig to the process group led by pid. A group that is already
// gone is not an error.
func signalGroup(pid int, sig syscall.Signal) error {
	err := syscall.Kill(-pid, sig)
	if err == nil || errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return fmt.Errorf("local: signal %v to process group %d: %w", sig, pid, err)
}

var (
	sigTerm = syscall.SIGTERM
	sigKill = syscall.SIGKILL
)

// lockFile takes an exclusive advisory lock on path, blocking until it has it.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("local: lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("local: lock %s: %w", path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
