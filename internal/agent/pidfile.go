package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ReadPid returns the pid recorded in a pid file (decimal, surrounding
// whitespace ignored: the Python agent writes none, editors may add one).
func ReadPid(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pid file %s does not hold a process id: %q", path, strings.TrimSpace(string(b)))
	}
	return pid, nil
}

// Alive reports whether a process with this pid exists (as the control
// script's `ps -p` does). A zombie counts as gone: it has exited and waits
// only to be reaped by its parent.
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// state is the field after the parenthesised command name
		if i := strings.LastIndexByte(string(st), ')'); i > 0 && i+2 < len(st) && st[i+2] == 'Z' {
			return false
		}
	}
	return true
}

// WritePidFile records this process's pid, refusing when the file names a
// live process other than this one (so two daemons with the same pid file
// cannot both start). A stale file is replaced. Written like the Python
// agent: decimal, no newline.
func WritePidFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create pid dir: %w", err)
	}
	self := os.Getpid()
	for attempt := 0; attempt < 2; attempt++ {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			_, werr := f.WriteString(strconv.Itoa(self))
			cerr := f.Close()
			if werr != nil || cerr != nil {
				os.Remove(path)
				return fmt.Errorf("write pid file %s: %w", path, errors.Join(werr, cerr))
			}
			return nil
		}
		if !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("create pid file: %w", err)
		}
		pid, rerr := ReadPid(path)
		if rerr == nil && pid == self {
			return nil // re-executed after a self-restart: the file is ours
		}
		if rerr == nil && Alive(pid) {
			return fmt.Errorf("%s already exists and names running process %d; is another agent using this pid file?", path, pid)
		}
		os.Remove(path) // stale
	}
	return fmt.Errorf("could not create pid file %s", path)
}

// RemovePidFile removes the pid file if it still names this process.
func RemovePidFile(path string) {
	if pid, err := ReadPid(path); err == nil && pid == os.Getpid() {
		os.Remove(path)
	}
}
