package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/ambari-go/ambari-agent/internal/atomicfile"
	"github.com/ambari-go/ambari-agent/internal/procinfo"
)

// The pid file holds the pid alone, as the Python agent writes it, so that
// systemd's PIDFile=, `kill $(cat ...)` and other tools keep working. A pid
// alone is not enough to signal a process safely: after an OOM kill and a
// reboot or pid reuse it may name any process. So next to it,
// <pidfile>.identity records which process that pid was: its start time
// (/proc/<pid>/stat field 22, kept across exec, so a self-restart keeps
// it), the boot id and the executable. A pid file without a matching
// identity file (an older agent's) is trusted only when the process is an
// ambari-agent.
const identitySuffix = ".identity"

// pidIdentity is the content of the identity file.
type pidIdentity struct {
	procinfo.Identity
	Exe string `json:"exe,omitempty"`
}

// PidRecord is what the pid file and its identity file say.
type PidRecord struct {
	Pid int
	// ID is nil for a pid file without a matching identity (an older
	// format).
	ID *pidIdentity
}

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

// ReadPidRecord reads the pid file and, when it matches, its identity
// file.
func ReadPidRecord(path string) (PidRecord, error) {
	pid, err := ReadPid(path)
	if err != nil {
		return PidRecord{}, err
	}
	rec := PidRecord{Pid: pid}
	if b, err := os.ReadFile(path + identitySuffix); err == nil {
		var id pidIdentity
		if json.Unmarshal(b, &id) == nil && id.PID == pid && id.StartTime != 0 {
			rec.ID = &id
		}
	}
	return rec, nil
}

// Running reports whether the record names a running agent; when it does
// not, reason says why (for the operator). Only a process that passes
// this check is ever signalled.
func (r PidRecord) Running() (ok bool, reason string) {
	if !Alive(r.Pid) {
		return false, fmt.Sprintf("no process %d", r.Pid)
	}
	if r.ID != nil {
		if same, why := r.ID.Same(); !same {
			return false, why
		}
		// The executable is compared when it can be read (another user's
		// process hides it unless we are root).
		if r.ID.Exe != "" {
			if exe, err := procinfo.Exe(r.Pid); err == nil && exe != r.ID.Exe {
				return false, fmt.Sprintf("process %d runs %s, not %s", r.Pid, exe, r.ID.Exe)
			}
		}
		return true, ""
	}
	// An older pid file: the pid alone. Trust it only for a process that
	// is an ambari-agent.
	if looksLikeAgent(r.Pid) {
		return true, ""
	}
	return false, fmt.Sprintf("process %d is not an ambari-agent (%s)", r.Pid, describeProcess(r.Pid))
}

// looksLikeAgent reports whether a process is an agent daemon: this
// agent's binary or an ambari-agent binary running `run`, or the Python
// agent.
func looksLikeAgent(pid int) bool {
	args := procinfo.Cmdline(pid)
	daemon := slices.Contains(args, "run")
	if exe, err := procinfo.Exe(pid); err == nil && daemon {
		if self, err := selfExe(); err == nil && exe == self {
			return true
		}
		if filepath.Base(exe) == "ambari-agent" {
			return true
		}
	}
	if len(args) > 0 && filepath.Base(args[0]) == "ambari-agent" && daemon {
		return true
	}
	for _, a := range args {
		// python .../ambari_agent/AmbariAgent.py start, and its child
		// .../ambari_agent/main.py start
		if base := filepath.Base(a); (base == "AmbariAgent.py" || base == "main.py") && filepath.Base(filepath.Dir(a)) == "ambari_agent" {
			return true
		}
	}
	return false
}

func describeProcess(pid int) string {
	if exe, err := procinfo.Exe(pid); err == nil {
		return exe
	}
	if args := procinfo.Cmdline(pid); len(args) > 0 {
		return args[0]
	}
	return "unknown program"
}

// selfExe is this process's executable as /proc shows it.
func selfExe() (string, error) { return procinfo.Exe(os.Getpid()) }

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
	if st, err := procinfo.ReadStat(pid); err == nil && !st.Alive() {
		return false
	}
	return true
}

// WritePidFile records this process's pid and identity, refusing when the
// file names another running agent (so two daemons with the same pid file
// cannot both start). A stale file is replaced; so is our own, after a
// self-restart by exec (same pid, same start time), which also brings an
// older-format file up to date. The pid file is written like the Python
// agent's: decimal, no newline.
func WritePidFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create pid dir: %w", err)
	}
	self := os.Getpid()
	id, err := procinfo.Identify(self)
	if err != nil {
		return fmt.Errorf("identify this process: %w", err)
	}
	ident := pidIdentity{Identity: id}
	ident.Exe, _ = selfExe()
	for attempt := 0; attempt < 2; attempt++ {
		if rec, err := ReadPidRecord(path); err == nil && rec.Pid != self {
			if ok, _ := rec.Running(); ok {
				return fmt.Errorf("%s already exists and names running agent process %d; is another agent using this pid file?", path, rec.Pid)
			}
		}
		// The identity goes first: a pid file is never seen with a
		// stale identity of the same pid.
		data, _ := json.Marshal(ident)
		if err := atomicfile.Write(path+identitySuffix, data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", path+identitySuffix, err)
		}
		if pid, err := ReadPid(path); err == nil && pid == self {
			return nil // re-executed after a self-restart: the file is ours
		}
		os.Remove(path) // stale or unreadable
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, os.ErrExist) {
			continue // another daemon raced us; look again
		}
		if err != nil {
			return fmt.Errorf("create pid file: %w", err)
		}
		_, werr := f.WriteString(strconv.Itoa(self))
		serr := f.Sync()
		cerr := f.Close()
		if werr != nil || serr != nil || cerr != nil {
			os.Remove(path)
			return fmt.Errorf("write pid file %s: %w", path, errors.Join(werr, serr, cerr))
		}
		return nil
	}
	return fmt.Errorf("could not create pid file %s", path)
}

// RemovePidFile removes the pid file (and its identity) if it still names
// this process.
func RemovePidFile(path string) {
	if pid, err := ReadPid(path); err == nil && pid == os.Getpid() {
		os.Remove(path)
		os.Remove(path + identitySuffix)
	}
}

// removeStalePidFile removes a pid file and its identity file.
func removeStalePidFile(path string) {
	os.Remove(path)
	os.Remove(path + identitySuffix)
}
