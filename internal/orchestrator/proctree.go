package orchestrator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
)

// Package managers are never killed: stopping one mid-transaction corrupts
// its database. They are matched by /proc/<pid>/comm, case-insensitively.
var sparedCommands = map[string]bool{"apt-get": true, "apt": true, "yum": true, "zypper": true, "zypp": true}

const (
	killGrace = 5 * time.Second
	killPoll  = 100 * time.Millisecond
)

// treeKiller kills a process and all its descendants (docs/behaviour.md §5.8), for
// the timeout watchdog and for cancel.
type treeKiller struct {
	log      *logrus.Entry
	procRoot string        // "/proc"; a field so the parsers can be fed fixtures
	grace    time.Duration // how long each signal round waits for the tree to go
	poll     time.Duration
	self     int    // the agent's own pid, never signalled
	sudo     string // ambari-sudo.sh, used when a direct kill is not permitted
}

func newTreeKiller(log *logrus.Entry, sudo string) *treeKiller {
	return &treeKiller{log: log, procRoot: "/proc", grace: killGrace, poll: killPoll, self: os.Getpid(), sudo: sudo}
}

// procEntry is one process of a collected tree.
type procEntry struct {
	pid     int
	comm    string
	cmdline string
}

// kill collects the tree under root breadth-first, leaves package managers
// and the agent alone, then sends SIGTERM to the rest from the highest pid
// down, waits up to the grace period, and sends SIGKILL to what is left.
// Processes that survive a round are logged.
func (k *treeKiller) kill(root int) {
	tree := k.collect(root)
	targets := make([]int, 0, len(tree))
	for _, p := range tree {
		if sparedCommands[strings.ToLower(p.comm)] || p.pid == k.self {
			k.log.WithFields(logrus.Fields{"pid": p.pid, "comm": p.comm}).Info("Process tree kill: sparing package manager or agent process")
			continue
		}
		targets = append(targets, p.pid)
	}
	var failures []string
	for _, round := range []struct {
		sig  syscall.Signal
		name string
	}{{syscall.SIGTERM, "SIGTERM"}, {syscall.SIGKILL, "SIGKILL"}} {
		sig := round.sig
		alive := k.existing(targets)
		sort.Sort(sort.Reverse(sort.IntSlice(alive)))
		for _, pid := range alive {
			if err := k.signal(pid, sig); err != nil {
				failures = append(failures, fmt.Sprintf("%s to %d: %v", round.name, pid, err))
			}
		}
		if len(alive) == 0 {
			continue
		}
		left := k.waitGone(alive)
		if len(left) > 0 {
			var cmds []string
			for _, p := range tree {
				if containsInt(left, p.pid) {
					cmds = append(cmds, p.cmdline)
				}
			}
			k.log.WithField("pids", left).
				Warnf("Processes did not respond to %s. Commands:\n %s", round.name, strings.Join(cmds, "\n"))
		}
	}
	if len(failures) > 0 && len(k.existing(targets)) > 0 {
		k.log.Warnf("Process termination errors:\n%s", strings.Join(failures, "\n"))
	}
}

func containsInt(s []int, v int) bool {
	for _, e := range s {
		if e == v {
			return true
		}
	}
	return false
}

// signal sends sig directly; when that is not permitted and the agent is
// not root, it goes through ambari-sudo.sh as the Python agent does.
func (k *treeKiller) signal(pid int, sig syscall.Signal) error {
	err := syscall.Kill(pid, sig)
	if err == nil || errors.Is(err, syscall.ESRCH) {
		return nil
	}
	if !errors.Is(err, syscall.EPERM) || os.Geteuid() == 0 || k.sudo == "" {
		return err
	}
	if _, serr := os.Stat(k.sudo); serr != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, serr := exec.CommandContext(ctx, k.sudo, "kill", "-"+strconv.Itoa(int(sig)), strconv.Itoa(pid)).CombinedOutput()
	if serr != nil {
		return fmt.Errorf("%s kill: %v: %s", k.sudo, serr, bytes.TrimSpace(out))
	}
	return nil
}

// waitGone polls until none of pids is alive or the grace period ends and
// returns the ones still alive.
func (k *treeKiller) waitGone(pids []int) []int {
	deadline := time.NewTimer(k.grace)
	defer deadline.Stop()
	tick := time.NewTicker(k.poll)
	defer tick.Stop()
	for {
		left := k.existing(pids)
		if len(left) == 0 {
			return nil
		}
		select {
		case <-deadline.C:
			return k.existing(pids)
		case <-tick.C:
		}
	}
}

// existing returns the pids that are still running. Deliberate difference:
// a zombie counts as gone (the Python agent counts any /proc entry), so a
// dead process whose parent has not reaped it yet does not hold up the kill
// for the whole grace period.
func (k *treeKiller) existing(pids []int) []int {
	var out []int
	for _, pid := range pids {
		if k.alive(pid) {
			out = append(out, pid)
		}
	}
	return out
}

func (k *treeKiller) alive(pid int) bool {
	data, err := os.ReadFile(filepath.Join(k.procRoot, strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	_, state, err := parseStat(data)
	if err != nil {
		return true
	}
	return state != 'Z' && state != 'X' && state != 'x'
}

// collect walks the tree under root breadth-first, root first.
func (k *treeKiller) collect(root int) []procEntry {
	var parents map[int][]int // built lazily when the kernel has no children files
	var tree []procEntry
	seen := map[int]bool{}
	pending := []int{root}
	for len(pending) > 0 {
		pid := pending[0]
		pending = pending[1:]
		if seen[pid] {
			continue
		}
		seen[pid] = true
		children, ok := k.readChildren(pid)
		if !ok {
			if parents == nil {
				parents = k.scanParents()
			}
			children = parents[pid]
		}
		tree = append(tree, procEntry{pid: pid, comm: k.readComm(pid), cmdline: k.readCmdline(pid)})
		pending = append(pending, children...)
	}
	return tree
}

// readChildren lists the children of every thread of pid from
// /proc/<pid>/task/<tid>/children. The Python agent reads only the main
// thread's list, which misses children forked by other threads. ok is false
// when the kernel does not provide these files.
func (k *treeKiller) readChildren(pid int) ([]int, bool) {
	taskDir := filepath.Join(k.procRoot, strconv.Itoa(pid), "task")
	tids, err := os.ReadDir(taskDir)
	if err != nil {
		// The process is gone (or never was): no children, nothing to scan.
		return nil, true
	}
	var out []int
	found := false
	for _, t := range tids {
		data, err := os.ReadFile(filepath.Join(taskDir, t.Name(), "children"))
		if err != nil {
			continue
		}
		found = true
		out = append(out, parseChildren(data)...)
	}
	if !found && len(tids) > 0 {
		return nil, false
	}
	return out, true
}

// parseChildren parses the space-separated pid list of a children file.
func parseChildren(data []byte) []int {
	var out []int
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// scanParents maps every pid to its children from /proc/*/stat, the
// fallback for kernels built without /proc/<pid>/task/<tid>/children.
func (k *treeKiller) scanParents() map[int][]int {
	ents, err := os.ReadDir(k.procRoot)
	if err != nil {
		return nil
	}
	parents := map[int][]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join(k.procRoot, e.Name(), "stat"))
		if err != nil {
			continue
		}
		ppid, _, err := parseStat(data)
		if err != nil {
			continue
		}
		parents[ppid] = append(parents[ppid], pid)
	}
	for _, c := range parents {
		sort.Ints(c)
	}
	return parents
}

// parseStat extracts the parent pid and the state from /proc/<pid>/stat.
// The command name in parentheses may itself contain spaces and
// parentheses, so fields are counted from the last ')'.
func parseStat(data []byte) (ppid int, state byte, err error) {
	end := bytes.LastIndexByte(data, ')')
	if end < 0 || end+2 >= len(data) {
		return 0, 0, fmt.Errorf("malformed stat line")
	}
	fields := strings.Fields(string(data[end+1:]))
	if len(fields) < 2 || len(fields[0]) != 1 {
		return 0, 0, fmt.Errorf("malformed stat line")
	}
	ppid, err = strconv.Atoi(fields[1])
	if err != nil {
		return 0, 0, fmt.Errorf("malformed stat line: %w", err)
	}
	return ppid, fields[0][0], nil
}

func (k *treeKiller) readComm(pid int) string {
	data, err := os.ReadFile(filepath.Join(k.procRoot, strconv.Itoa(pid), "comm"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

func (k *treeKiller) readCmdline(pid int) string {
	data, err := os.ReadFile(filepath.Join(k.procRoot, strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(strings.ReplaceAll(string(bytes.TrimRight(data, "\x00")), "\x00", " "))
}
