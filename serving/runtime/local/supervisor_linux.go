//go:build linux

package local

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// supervisorEnv marks a process as a pod's supervisor; its value is the pid of the
// runtime's process (the supervisor's expected parent).
const supervisorEnv = "SERVEKIT_LOCAL_POD_SUPERVISOR"

// A pod's supervisor is the runtime's own binary, re-executed (/proc/self/exe) with
// supervisorEnv set; this init makes it act as one before the program's main runs.
// Only the runtime sets supervisorEnv, in the supervisor's environment alone.
func init() {
	parent, ok := os.LookupEnv(supervisorEnv)
	if !ok {
		return
	}
	// syscall.Exit, not os.Exit: the supervisor has nothing to flush, and a binary
	// built with -race would otherwise sleep a second before exiting.
	syscall.Exit(supervise(parent, os.Args[1:]))
}

// superviseCmd makes cmd start the pod's program under a supervisor (issue 17): the
// parent-death signal reaches only the runtime's direct child, so a program started
// through a wrapper (`sh -c "app ..."`) would outlive a runtime killed with SIGKILL.
// The supervisor leads the pod's process group, starts the program in it, and when
// the runtime dies kills the whole group. It exits as the program did, so the
// runtime sees the program's exit. cmd must already be set up by startInGroup.
func superviseCmd(cmd *exec.Cmd) {
	if cmd.Err != nil {
		return // Start reports it
	}
	if _, err := os.Stat("/proc/self/exe"); err != nil {
		return // no /proc: the program runs unsupervised, as elsewhere
	}
	cmd.Args = append([]string{"servekit-pod-supervisor", cmd.Path}, cmd.Args...)
	cmd.Path = "/proc/self/exe"
	cmd.Env = append(cmd.Env, supervisorEnv+"="+strconv.Itoa(os.Getpid()))
	// Not SIGKILL: the supervisor must live to kill the group. It tells this
	// signal apart from a SIGTERM sent to the group by its changed parent.
	cmd.SysProcAttr.Pdeathsig = syscall.SIGTERM
}

// supervise is the supervisor's main: args are the program's path and its argv.
// It returns the exit code, or kills itself with the signal that killed the program.
func supervise(parent string, args []string) int {
	// Signals sent to the pod's group reach the program directly; the supervisor
	// only outlives them. Catching them before looking at the parent means a
	// parent-death signal is never missed.
	sigs := make(chan os.Signal, 8)
	caught := []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2}
	signal.Notify(sigs, caught...)
	orphaned := func() bool { return strconv.Itoa(os.Getppid()) != parent }
	if orphaned() || len(args) < 2 {
		return 1 // the runtime is gone already: start nothing
	}
	env := make([]string, 0, len(os.Environ()))
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, supervisorEnv+"=") {
			env = append(env, kv)
		}
	}
	cmd := &exec.Cmd{
		Path:   args[0],
		Args:   args[1:],
		Env:    env,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		// If the supervisor itself is killed, the program at least goes too.
		SysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "servekit: start %q: %v\n", args[1], err)
		return 127 // as a shell reports a program it cannot run
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	for {
		select {
		case <-exited:
			ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
			if !ws.Signaled() {
				return ws.ExitStatus()
			}
			// Die of the same signal, so the runtime reports the program's end.
			dieOf(ws.Signal())
			return 128 + int(ws.Signal()) // a signal whose default is not to end a process
		case <-sigs:
			if orphaned() {
				// The runtime died: kill the pod's whole group, this process too.
				_ = syscall.Kill(0, syscall.SIGKILL)
				select {}
			}
		}
	}
}

// dieOf ends this process with sig's default action, as the program's process ended.
// The Go runtime's handlers are bypassed: through them SIGQUIT, SIGABRT or SIGSEGV
// would print a traceback into the pod's log, and SIGPIPE would be ignored.
func dieOf(sig syscall.Signal) {
	// A struct sigaction of zeros is SIG_DFL with no flags and an empty mask on
	// every Linux architecture; 32 bytes cover the largest (the kernel reads
	// less on some).
	var dfl [4]uint64
	_, _, _ = syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&dfl)), 0, 8, 0, 0)
	_ = syscall.Kill(os.Getpid(), sig)
	time.Sleep(time.Second) // delivered asynchronously: the process ends meanwhile
}
