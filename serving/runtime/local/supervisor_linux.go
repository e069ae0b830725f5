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
// the runtime dies kills the whole group. It is a child subreaper
// (PR_SET_CHILD_SUBREAPER): a descendant that leaves the group and is orphaned (a
// daemon that calls setsid, a wrapper's background job once the wrapper exits) is
// reparented to it, not to init, so it stays in the pod's process tree. The
// supervisor passes the signals sent to the group on to descendants outside it,
// stops those left when the program exits (SIGTERM, then SIGKILL after
// orphanGrace), and kills every descendant when the runtime dies; the runtime kills
// them before the group when the termination grace runs out (killDescendants). It
// exits as the program did, so the runtime sees the program's exit. cmd must
// already be set up by startInGroup.
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
	// Orphaned descendants come to this process instead of init (see superviseCmd).
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		fmt.Fprintf(os.Stderr, "servekit: pod supervisor: PR_SET_CHILD_SUBREAPER: %v\n", errno)
	}
	self, group := os.Getpid(), syscall.Getpgrp()
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
			// What the program left behind goes with it.
			stopDescendants(self)
			ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
			if !ws.Signaled() {
				return ws.ExitStatus()
			}
			// Die of the same signal, so the runtime reports the program's end.
			dieOf(ws.Signal())
			return 128 + int(ws.Signal()) // a signal whose default is not to end a process
		case sig := <-sigs:
			if orphaned() {
				// The runtime died: kill every descendant, then the pod's whole
				// group, this process too.
				killDescendants(self, syscall.SIGKILL)
				_ = syscall.Kill(0, syscall.SIGKILL)
				select {}
			}
			// A signal sent to the group (the runtime's SIGTERM): those that left
			// the group get it too.
			if s, ok := sig.(syscall.Signal); ok {
				for _, d := range descendants(self) {
					if d.pgid != group {
						_ = syscall.Kill(d.pid, s)
					}
				}
			}
		}
	}
}

// prSetChildSubreaper is prctl's PR_SET_CHILD_SUBREAPER (linux/prctl.h).
const prSetChildSubreaper = 36

// orphanGrace is how long descendants left when a pod's program exits have between
// SIGTERM and SIGKILL.
const orphanGrace = time.Second

// proc is a process as /proc shows it.
type proc struct{ pid, ppid, pgid int }

// descendants returns every process below root in the process tree, read from /proc
// in one pass (nil without /proc).
func descendants(root int) []proc {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]proc{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := readProc(pid); ok {
			children[p.ppid] = append(children[p.ppid], p)
		}
	}
	var out []proc
	queue := []int{root}
	for len(queue) > 0 {
		for _, c := range children[queue[0]] {
			out = append(out, c)
			queue = append(queue, c.pid)
		}
		queue = queue[1:]
	}
	return out
}

// readProc reads pid's parent and process group from /proc/<pid>/stat.
func readProc(pid int) (proc, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return proc{}, false
	}
	// The command name (field 2) may hold spaces and parentheses: fields are
	// counted after its closing parenthesis (state, ppid, pgrp, ...).
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return proc{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 3 {
		return proc{}, false
	}
	ppid, err1 := strconv.Atoi(f[1])
	pgid, err2 := strconv.Atoi(f[2])
	if err1 != nil || err2 != nil {
		return proc{}, false
	}
	return proc{pid: pid, ppid: ppid, pgid: pgid}, true
}

// killDescendants sends sig to every descendant of root, twice over, so that one
// forked while the first pass ran gets it too.
func killDescendants(root int, sig syscall.Signal) {
	for range 2 {
		for _, d := range descendants(root) {
			_ = syscall.Kill(d.pid, sig)
		}
	}
}

// stopDescendants stops what is left below the supervisor (self) once the program
// has exited: SIGTERM, up to orphanGrace for them to end, SIGKILL; it reaps them
// all (they are its children once orphaned).
func stopDescendants(self int) {
	reap := func() {
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				return
			}
		}
	}
	alive := func() bool {
		reap()
		for _, d := range descendants(self) {
			if st, ok := procState(d.pid); ok && st != 'Z' {
				return true
			}
		}
		return false
	}
	if !alive() {
		return
	}
	killDescendants(self, syscall.SIGTERM)
	for deadline := time.Now().Add(orphanGrace); time.Now().Before(deadline); {
		if !alive() {
			return
		}
		time.Sleep(10 * time.Millisecond) // a supervisor's wait for its orphans to end
	}
	killDescendants(self, syscall.SIGKILL)
	for deadline := time.Now().Add(orphanGrace); alive() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
}

// procState returns pid's state letter (R, S, Z, ...).
func procState(pid int) (byte, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 || i+2 >= len(b) {
		return 0, false
	}
	return b[i+2], true
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
