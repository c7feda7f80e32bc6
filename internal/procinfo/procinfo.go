// Package procinfo identifies processes by more than their pid. A pid is
// reused once its process is gone; a pid together with the process's start
// time (clock ticks after boot, /proc/<pid>/stat field 22) and the boot id
// names one process for good. The pid file and the reaping of commands an
// earlier agent left running rely on it, so that nothing but the process
// meant is ever signalled.
package procinfo

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Stat is what /proc/<pid>/stat says about a process.
type Stat struct {
	PID   int
	State byte
	PPID  int
	// PGID is the process group.
	PGID int
	// StartTime is when the process started, in clock ticks after boot.
	// exec does not change it.
	StartTime uint64
}

// Alive reports whether the process runs: a zombie or a dead entry has
// exited and waits only to be reaped.
func (s Stat) Alive() bool { return s.State != 'Z' && s.State != 'X' && s.State != 'x' }

// Identity names one process across pid reuse.
type Identity struct {
	PID       int    `json:"pid"`
	PGID      int    `json:"pgid"`
	StartTime uint64 `json:"startTime"`
	// BootID is the kernel's boot id: start times restart at each boot.
	BootID string `json:"bootId,omitempty"`
}

// procRoot is "/proc"; tests point it at fixtures.
var procRoot = "/proc"

// ReadStat reads /proc/<pid>/stat. A process that does not exist gives an
// error satisfying errors.Is(err, os.ErrNotExist).
func ReadStat(pid int) (Stat, error) {
	if pid <= 0 {
		return Stat{}, fmt.Errorf("pid %d: %w", pid, os.ErrNotExist)
	}
	data, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
	if err != nil {
		return Stat{}, err
	}
	st, err := ParseStat(data)
	if err != nil {
		return Stat{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return st, nil
}

// ParseStat parses a /proc/<pid>/stat line. The command name in
// parentheses may itself hold spaces and parentheses, so fields are counted
// from the last ')'.
func ParseStat(data []byte) (Stat, error) {
	open := bytes.IndexByte(data, '(')
	end := bytes.LastIndexByte(data, ')')
	if open <= 0 || end < open {
		return Stat{}, errors.New("malformed stat line")
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data[:open])))
	if err != nil {
		return Stat{}, fmt.Errorf("malformed stat line: %w", err)
	}
	// Field 3 (state) is rest[0]; field n is rest[n-3].
	rest := strings.Fields(string(data[end+1:]))
	if len(rest) < 20 || len(rest[0]) != 1 {
		return Stat{}, errors.New("malformed stat line")
	}
	st := Stat{PID: pid, State: rest[0][0]}
	if st.PPID, err = strconv.Atoi(rest[1]); err != nil {
		return Stat{}, fmt.Errorf("malformed stat line: ppid: %w", err)
	}
	if st.PGID, err = strconv.Atoi(rest[2]); err != nil {
		return Stat{}, fmt.Errorf("malformed stat line: pgrp: %w", err)
	}
	if st.StartTime, err = strconv.ParseUint(rest[19], 10, 64); err != nil {
		return Stat{}, fmt.Errorf("malformed stat line: starttime: %w", err)
	}
	return st, nil
}

// BootID returns the kernel's boot id, "" when it cannot be read.
func BootID() string {
	b, err := os.ReadFile(filepath.Join(procRoot, "sys/kernel/random/boot_id"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// Identify returns the identity of a running process.
func Identify(pid int) (Identity, error) {
	st, err := ReadStat(pid)
	if err != nil {
		return Identity{}, err
	}
	if !st.Alive() {
		return Identity{}, fmt.Errorf("process %d has exited: %w", pid, os.ErrNotExist)
	}
	return Identity{PID: pid, PGID: st.PGID, StartTime: st.StartTime, BootID: BootID()}, nil
}

// Same reports whether id still names a running process: same pid, same
// start time, same boot. A process that is gone, or a pid now used by
// another process, is not the same; reason says which.
func (id Identity) Same() (ok bool, reason string) {
	st, err := ReadStat(id.PID)
	if err != nil {
		return false, fmt.Sprintf("process %d is gone", id.PID)
	}
	if !st.Alive() {
		return false, fmt.Sprintf("process %d has exited", id.PID)
	}
	if id.BootID != "" {
		if b := BootID(); b != "" && b != id.BootID {
			return false, fmt.Sprintf("the host rebooted; pid %d now belongs to another process", id.PID)
		}
	}
	if st.StartTime != id.StartTime {
		return false, fmt.Sprintf("pid %d now belongs to another process (started at tick %d, not %d)", id.PID, st.StartTime, id.StartTime)
	}
	return true, ""
}

// Exe returns the path of a process's executable. The kernel appends
// " (deleted)" when the file was replaced (a package upgrade); that suffix
// is removed, since the path is what identifies the program.
func Exe(pid int) (string, error) {
	p, err := os.Readlink(filepath.Join(procRoot, strconv.Itoa(pid), "exe"))
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(p, " (deleted)"), nil
}

// Cmdline returns a process's arguments.
func Cmdline(pid int) []string {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return nil
	}
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil
	}
	return strings.Split(string(b), "\x00")
}
