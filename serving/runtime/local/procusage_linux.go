package local

import (
	"os"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of the CPU times in /proc/<pid>/stat: the
// kernel reports them in 1/100 s on every architecture Go supports on Linux.
const clockTicks = 100

// groupUsage is what a pod's processes use: CPU seconds (user and system, with
// those of reaped children) and resident memory in bytes.
type groupUsage struct {
	cpu float64
	rss int64
}

// procStat is the part of /proc/<pid>/stat the HPA reads.
type procStat struct {
	ppid, pgid int
	ticks      uint64 // utime + stime + cutime + cstime
	rssPages   int64
}

// readGroupUsage returns, for each of pids (pod process leaders), the usage of its
// process group together with its descendants that left the group (setsid), read
// from /proc in one pass. A pid whose process is gone has no entry.
func readGroupUsage(pids []int) (map[int]groupUsage, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	byPID := make(map[int]procStat, len(ents))
	children := map[int][]int{}
	byGroup := map[int][]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, ok := readStat(pid)
		if !ok {
			continue
		}
		byPID[pid] = st
		children[st.ppid] = append(children[st.ppid], pid)
		byGroup[st.pgid] = append(byGroup[st.pgid], pid)
	}
	page := int64(os.Getpagesize())
	out := make(map[int]groupUsage, len(pids))
	for _, leader := range pids {
		if _, ok := byPID[leader]; !ok {
			continue
		}
		seen := map[int]bool{}
		queue := append([]int{leader}, byGroup[leader]...)
		var ticks uint64
		var rss int64
		for len(queue) > 0 {
			pid := queue[0]
			queue = queue[1:]
			if seen[pid] {
				continue
			}
			seen[pid] = true
			st := byPID[pid]
			ticks += st.ticks
			rss += st.rssPages * page
			queue = append(queue, children[pid]...)
		}
		out[leader] = groupUsage{cpu: float64(ticks) / clockTicks, rss: rss}
	}
	return out, nil
}

// readStat parses /proc/<pid>/stat (proc(5)): after the command name, in
// parentheses that may hold anything, come state (field 3), ppid, pgrp, …, utime
// (14), stime, cutime, cstime (17), … rss (24, in pages).
func readStat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 22 {
		return procStat{}, false
	}
	var st procStat
	var err1, err2 error
	st.ppid, err1 = strconv.Atoi(f[1])
	st.pgid, err2 = strconv.Atoi(f[2])
	if err1 != nil || err2 != nil {
		return procStat{}, false
	}
	for _, k := range []int{11, 12, 13, 14} { // utime stime cutime cstime
		v, err := strconv.ParseInt(f[k], 10, 64)
		if err != nil {
			return procStat{}, false
		}
		st.ticks += uint64(max(v, 0))
	}
	st.rssPages, _ = strconv.ParseInt(f[21], 10, 64)
	return st, true
}
