package pyrunner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// Spec is one stack script run, as the agent would start it with exec.
type Spec struct {
	// Args is the whole command line: the interpreter (it must be the
	// runner's), the script, its arguments.
	Args []string
	// Env replaces the environment wholesale.
	Env []string
	// Dir is the working directory ("": the agent's).
	Dir string
	// Stdout and Stderr receive the script's output; its stdin is
	// /dev/null.
	Stdout, Stderr *os.File
}

// ErrUnavailable wraps every reason Start cannot run a script resident;
// the caller then starts a fresh interpreter.
var ErrUnavailable = errors.New("resident python runner unavailable")

// ErrStatusLost is returned by Process.Wait when the script's exit status
// was collected by something else in the agent's process (it waits for
// its children by pid only, so this means a bug); Wait returns once the
// script is gone.
var ErrStatusLost = errors.New("exit status lost: the script was reaped elsewhere")

// Process is a stack script forked by the runner as the agent's own
// child (see doc.go): the agent waits for it like for a fresh
// interpreter, so its exit status arrives whatever becomes of the runner.
type Process struct {
	pid int
}

// Pid is the script's own process id (for timeouts, cancel, tree kill).
func (p *Process) Pid() int { return p.pid }

// Wait blocks until the script ends, reaps it and returns its exit status
// as the agent reports it: the exit code, or -N for death by signal N.
func (p *Process) Wait() (int, error) {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(p.pid, &ws, 0, nil)
		if err == nil {
			break
		}
		if err != unix.EINTR {
			waitGone(p.pid)
			return 1, ErrStatusLost
		}
	}
	if ws.Signaled() {
		return -int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}

// waitGone blocks until pid no longer runs (a pidfd tells when it exits).
func waitGone(pid int) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err != unix.EINTR {
			return
		}
	}
}

func unavailable(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnavailable, fmt.Sprintf(format, args...))
}

// Warm starts the runner in the background if it is not running (no-op
// when stack scripts are off).
func (h *Runner) Warm() {
	if h.cfg.Scripts {
		h.warm()
	}
}

// warm starts a runner in the background unless one is starting, or the
// backoff after failures has not elapsed.
func (h *Runner) warm() {
	if !h.startLock.TryLock() {
		return
	}
	go func() {
		defer h.startLock.Unlock()
		_, _ = h.ensureLocked()
	}()
}

// replace starts a runner with env in the background; once it is ready it
// takes over and the old one is retired.
func (h *Runner) replace(old *process, env []string, reason string) {
	if !h.startLock.TryLock() {
		return
	}
	h.mu.Lock()
	if h.closed || h.proc != old || (h.startErr != nil && time.Since(h.startAt) < h.retryDelay()) {
		h.mu.Unlock()
		h.startLock.Unlock()
		return
	}
	h.env = env
	h.mu.Unlock()
	h.log.WithField("reason", reason).Info("Replacing the Python runner")
	go func() {
		defer h.startLock.Unlock()
		p, err := h.start(env)
		h.mu.Lock()
		defer h.mu.Unlock()
		h.startAt = time.Now()
		if err != nil {
			h.failures++
			h.startErr = &Error{Kind: KindStart, Message: err.Error()}
			h.log.WithError(err).WithField("retryIn", h.retryDelay()).Error("Cannot start the Python runner")
			return
		}
		if h.closed {
			p.mu.Lock()
			p.expected = true
			p.mu.Unlock()
			p.closeInput()
			return
		}
		h.startErr = nil
		h.install(p)
	}()
}

// current is the runner scripts may use now, without waiting; nil when
// none is ready.
func (h *Runner) current() *process {
	h.mu.Lock()
	p := h.proc
	h.mu.Unlock()
	if p == nil {
		return nil
	}
	select {
	case <-p.dead:
		return nil
	default:
	}
	p.mu.Lock()
	bad := p.expected
	p.mu.Unlock()
	if bad {
		return nil
	}
	return p
}

// degrade logs, once per outage, that scripts run in fresh interpreters.
func (h *Runner) degrade(err error) {
	h.mu.Lock()
	first := !h.degraded
	h.degraded = true
	h.mu.Unlock()
	if first {
		h.log.WithError(err).Warn("Stack scripts run in fresh interpreters until the Python runner is back")
	}
}

// Start forks spec's script from the warm interpreter and returns once it
// runs. Any error wraps ErrUnavailable: nothing was started and the
// caller runs a fresh interpreter instead. A runner that is missing,
// stale (a preloaded file or the interpreter changed on disk) or started
// with another environment is (re)started in the background meanwhile.
func (h *Runner) Start(spec Spec) (*Process, error) {
	if !h.cfg.Scripts {
		return nil, unavailable("resident runner is off")
	}
	if len(spec.Args) < 2 || spec.Args[0] != h.cfg.Python {
		return nil, unavailable("not the runner's interpreter")
	}
	if spec.Stdout == nil || spec.Stderr == nil {
		return nil, unavailable("no output files")
	}
	for _, s := range [][]string{spec.Args, spec.Env} {
		for _, v := range s {
			if !utf8.ValidString(v) {
				return nil, unavailable("arguments or environment are not UTF-8")
			}
		}
	}
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		return nil, unavailable("closed")
	}
	if h.cfg.Busy != nil {
		defer h.cfg.Busy("start "+filepath.Base(spec.Args[1]), 2*h.cfg.NoAnswer)()
	}
	p := h.current()
	if p == nil {
		h.warm()
		err := unavailable("not running")
		h.mu.Lock()
		starting := h.startErr == nil && h.failures == 0
		h.mu.Unlock()
		if !starting {
			h.degrade(err)
		}
		return nil, err
	}
	if !p.status.Scripts {
		h.mu.Lock()
		due := time.Since(p.started) >= h.retryDelay()
		h.mu.Unlock()
		if due {
			h.replace(p, p.env, "retrying the preload")
		}
		return nil, unavailable("preload failed: %s", p.status.PreloadError)
	}
	if !sameStrings(p.env, spec.Env) {
		h.replace(p, spec.Env, "the scripts' environment changed")
		return nil, unavailable("environment differs from the runner's")
	}
	if reason := p.stamps.changed(); reason != "" {
		h.replace(p, p.env, reason)
		return nil, unavailable("%s", reason)
	}
	proc, err := h.fork(p, spec)
	if err != nil {
		h.degrade(err)
		return nil, err
	}
	return proc, nil
}

// maxScriptRequest is the runner's receive buffer (MAX_SCRIPT_REQUEST).
const maxScriptRequest = 256 << 10

// scriptRequest is what the runner needs besides the descriptors.
type scriptRequest struct {
	Argv  []string `json:"argv"`
	Env   []string `json:"env"`
	Cwd   string   `json:"cwd"`
	Umask *int     `json:"umask,omitempty"`
}

// fork sends one script request with its descriptors (the run's socket,
// stdout, stderr), reads the script's pid (the script, already the
// agent's child, writes it) and lets it go.
func (h *Runner) fork(p *process, spec Spec) (*Process, error) {
	cwd := spec.Dir
	if cwd == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, unavailable("working directory: %v", err)
		}
		cwd = wd
	}
	req := scriptRequest{Argv: spec.Args, Env: spec.Env, Cwd: cwd}
	if m, ok := processUmask(); ok {
		req.Umask = &m
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, unavailable("encode request: %v", err)
	}
	if len(body) > maxScriptRequest {
		return nil, unavailable("request of %d bytes (environment too large)", len(body))
	}
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, unavailable("socketpair: %v", err)
	}
	if err := syscall.SetNonblock(fds[0], true); err != nil {
		syscall.Close(fds[0])
		syscall.Close(fds[1])
		return nil, unavailable("socket: %v", err)
	}
	local := os.NewFile(uintptr(fds[0]), "pyrunner-run")
	oob := syscall.UnixRights(fds[1], int(spec.Stdout.Fd()), int(spec.Stderr.Fd()))
	_ = p.execConn.SetWriteDeadline(time.Now().Add(h.cfg.NoAnswer))
	_, _, err = p.execConn.WriteMsgUnix(body, oob, nil)
	syscall.Close(fds[1])
	if err != nil {
		local.Close()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			h.kill(p, "no answer to a script request")
		}
		return nil, unavailable("send script request: %v", err)
	}
	_ = local.SetReadDeadline(time.Now().Add(h.cfg.NoAnswer))
	pid, err := readPid(local)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			h.kill(p, fmt.Sprintf("no script started within %s", h.cfg.NoAnswer))
			// The script may still come: it is our child, so it is told
			// to exit and reaped.
			go reapLate(local)
		} else {
			local.Close()
		}
		return nil, unavailable("script not started: %v", err)
	}
	_ = local.SetWriteDeadline(time.Now().Add(h.cfg.NoAnswer))
	_, err = local.Write([]byte("g"))
	local.Close()
	if err != nil {
		// It exits without the go-ahead.
		_, _ = (&Process{pid: pid}).Wait()
		return nil, unavailable("go-ahead: %v", err)
	}
	return &Process{pid: pid}, nil
}

// readPid reads the script's "pid N" line (it is the only thing written
// to the run's socket).
func readPid(f *os.File) (int, error) {
	var buf [32]byte
	n := 0
	for n < len(buf) {
		m, err := f.Read(buf[n:])
		n += m
		if i := bytes.IndexByte(buf[:n], '\n'); i >= 0 {
			pid, perr := strconv.Atoi(strings.TrimPrefix(string(buf[:i]), "pid "))
			if perr != nil || pid <= 0 {
				return 0, fmt.Errorf("bad answer %q", buf[:i])
			}
			return pid, nil
		}
		if err != nil {
			return 0, err
		}
	}
	return 0, fmt.Errorf("bad answer %q", buf[:n])
}

// lateScriptWait bounds the wait for a script forked after Start gave up
// (the runner was killed meanwhile, so it comes within moments or never).
const lateScriptWait = time.Minute

// reapLate waits for the pid of a script forked after Start gave up on
// the runner, then closes the socket (no go-ahead: the script exits at
// once) and reaps it.
func reapLate(f *os.File) {
	_ = f.SetReadDeadline(time.Now().Add(lateScriptWait))
	pid, err := readPid(f)
	f.Close()
	if err == nil {
		_, _ = (&Process{pid: pid}).Wait()
	}
}

var umaskOnce = sync.OnceValues(func() (int, bool) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	return parseUmask(data)
})

// processUmask is the agent's umask, which a fresh interpreter inherits
// (read from /proc: setting it to read it would race with other threads).
func processUmask() (int, bool) { return umaskOnce() }

func parseUmask(status []byte) (int, bool) {
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "Umask:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 8, 32)
			return int(n), err == nil
		}
	}
	return 0, false
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || &a[0] == &b[0] {
		return true
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// stampCheckEvery bounds how often the files are checked: a library
// upgrade is noticed within a second, without a stat per file per run.
const stampCheckEvery = time.Second

type fileStamp struct {
	path  string
	mtime int64
	size  int64
	ino   uint64
}

// stamps identify what the runner loaded: the interpreter and every
// preloaded module's file.
type stamps struct {
	python string
	py     *fileStamp
	files  []fileStamp

	mu      sync.Mutex
	checked time.Time
	reason  string
}

func stampOf(python string) (*fileStamp, error) {
	path := python
	if !strings.Contains(path, "/") {
		p, err := exec.LookPath(path)
		if err != nil {
			return nil, err
		}
		path = p
	}
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return nil, err
	}
	return &fileStamp{path: path, mtime: st.Mtim.Nano(), size: st.Size, ino: st.Ino}, nil
}

func newStamps(python string, py *fileStamp, pyErr error, files [][]json.RawMessage) *stamps {
	s := &stamps{python: python, checked: time.Now()}
	if pyErr == nil {
		s.py = py
	}
	for _, f := range files {
		if len(f) != 4 {
			continue
		}
		var fs fileStamp
		if json.Unmarshal(f[0], &fs.path) != nil || json.Unmarshal(f[1], &fs.mtime) != nil ||
			json.Unmarshal(f[2], &fs.size) != nil || json.Unmarshal(f[3], &fs.ino) != nil {
			continue
		}
		s.files = append(s.files, fs)
	}
	return s
}

// changed names what changed on disk since the runner started ("": nothing).
func (s *stamps) changed() string {
	if s == nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reason != "" || time.Since(s.checked) < stampCheckEvery {
		return s.reason
	}
	s.checked = time.Now()
	if s.py != nil {
		now, err := stampOf(s.python)
		if err != nil || now.path != s.py.path || !sameStat(now.path, s.py) {
			s.reason = "the interpreter " + s.python + " changed"
			return s.reason
		}
	}
	for i := range s.files {
		if !sameStat(s.files[i].path, &s.files[i]) {
			s.reason = "preloaded file " + s.files[i].path + " changed"
			return s.reason
		}
	}
	return ""
}

func sameStat(path string, want *fileStamp) bool {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return false
	}
	return st.Mtim.Nano() == want.mtime && st.Size == want.size && st.Ino == want.ino
}

// Prestart starts the runner now, if none runs, and waits until it is
// ready; the error says why it could not start.
func (h *Runner) Prestart() error {
	_, err := h.ensure()
	return err
}
