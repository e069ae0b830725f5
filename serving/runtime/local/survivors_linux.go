//go:build linux

package local

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// A runtime killed without stopping its pods (SIGKILL, a crash, a power cut of its
// supervisors too) may leave process groups behind. Each pod process is therefore
// recorded, while it runs, in a file of the state directory (podRecordsDir): whose
// it is (the runtime's pid and start time) and which group it leads (the leader's
// pid and start time). A runtime starting up stops the groups of records whose owner
// is gone (issue 17). Start times, from /proc/<pid>/stat, tell a process apart from
// a later one that reuses its pid; the boot id tells a record from before a reboot.

// podRecordsDir is where pod records are kept: $XDG_CACHE_HOME/servekit/pods, or
// ~/.cache/servekit/pods. Empty when there is no such directory.
func podRecordsDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "servekit", "pods")
}

// podRecord is the content of one record file, one field per line.
type podRecord struct {
	boot        string // /proc/sys/kernel/random/boot_id
	owner       int    // the runtime's pid
	ownerStart  string // its start time
	leader      int    // the pod's process-group leader (its supervisor)
	leaderStart string
	pod         string // the pod's name, for the log
}

func (rec podRecord) marshal() []byte {
	return fmt.Appendf(nil, "%s\n%d\n%s\n%d\n%s\n%s\n", rec.boot, rec.owner, rec.ownerStart, rec.leader, rec.leaderStart, rec.pod)
}

func parsePodRecord(b []byte) (podRecord, error) {
	f := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(f) != 6 {
		return podRecord{}, errors.New("want 6 lines")
	}
	owner, err1 := strconv.Atoi(f[1])
	leader, err2 := strconv.Atoi(f[3])
	if err := errors.Join(err1, err2); err != nil || owner <= 0 || leader <= 1 {
		return podRecord{}, fmt.Errorf("bad pid: %v", err)
	}
	return podRecord{boot: f[0], owner: owner, ownerStart: f[2], leader: leader, leaderStart: f[4], pod: f[5]}, nil
}

// bootID identifies this boot of the machine.
var bootID = sync.OnceValue(func() string {
	b, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return string(bytes.TrimSpace(b))
})

// selfStart is this process's start time.
var selfStart = sync.OnceValue(func() string { return startTime(os.Getpid()) })

// startTime returns pid's start time (field 22 of /proc/<pid>/stat, clock ticks
// since boot), or "" when pid does not run.
func startTime(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	// The command name (field 2) may hold spaces and parentheses: fields are
	// counted after its closing parenthesis, which starts at field 3.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return ""
	}
	return f[19]
}

// recordPod records a pod's process group, led by leader, while it runs. The
// returned func removes the record; call it once the group is gone. Failing to
// record is logged and costs only the clean-up after a crash.
func (p *pod) recordPod(leader int) (forget func()) {
	dir := podRecordsDir()
	rec := podRecord{boot: bootID(), owner: os.Getpid(), ownerStart: selfStart(), leader: leader, leaderStart: startTime(leader), pod: p.name}
	if dir == "" || rec.ownerStart == "" || rec.leaderStart == "" {
		return func() {}
	}
	path := filepath.Join(dir, strconv.Itoa(leader)+"-"+rec.leaderStart)
	err := os.MkdirAll(dir, 0o700)
	if err == nil {
		tmp := path + ".tmp"
		if err = os.WriteFile(tmp, rec.marshal(), 0o600); err == nil {
			err = os.Rename(tmp, path)
		}
	}
	if err != nil {
		p.r.logger.Warn("pod: cannot record the process group; it will not be stopped after a crash", "pod", p.name, "err", err)
		return func() {}
	}
	return func() { _ = os.Remove(path) }
}

// stopSurvivors stops the pod process groups that a runtime gone without stopping
// them left running, and forgets their records. Records of a runtime that still
// runs (another one, or this process) are left alone.
func (r *Runtime) stopSurvivors() {
	dir := podRecordsDir()
	if dir == "" {
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return // none yet
	}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		if strings.HasSuffix(e.Name(), ".tmp") || !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		rec, err := parsePodRecord(b)
		if err != nil {
			r.logger.Warn("local: unreadable pod record removed", "file", path, "err", err)
			_ = os.Remove(path)
			continue
		}
		if rec.boot != bootID() {
			_ = os.Remove(path) // from before a reboot: nothing of it runs
			continue
		}
		if startTime(rec.owner) == rec.ownerStart {
			continue // its runtime still runs and stops it itself
		}
		if survivorGroup(rec) {
			err := syscall.Kill(-rec.leader, syscall.SIGKILL)
			if err != nil && !errors.Is(err, syscall.ESRCH) {
				r.logger.Error("local: cannot stop a pod left by a crashed runtime", "pod", rec.pod, "pgid", rec.leader, "err", err)
				continue
			}
			r.logger.Warn("local: stopped a pod left running by a crashed runtime", "pod", rec.pod, "pgid", rec.leader)
		}
		_ = os.Remove(path)
	}
}

// survivorGroup reports whether the process group of rec still runs: its leader is
// the recorded process, or the leader is gone and the group lives on (its id cannot
// have been reused while the group exists).
func survivorGroup(rec podRecord) bool {
	if s := startTime(rec.leader); s != "" {
		return s == rec.leaderStart
	}
	return syscall.Kill(-rec.leader, 0) == nil
}
