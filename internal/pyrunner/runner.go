package pyrunner

import (
	"github.com/ambari-go/ambari-agent/internal/atomicfile"
	"github.com/ambari-go/ambari-agent/internal/logging"

	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
)

//go:embed runner.py
var runnerSource []byte

// DefaultLibDir is where the agent's Python packages (resource_management,
// ambari_commons, ambari_agent) are installed.
const DefaultLibDir = "/usr/lib/ambari-agent/lib"

// AlertModules are preloaded whatever the configuration says: the alert
// operations use them (each is skipped when not installed).
var AlertModules = []string{
	"resource_management.libraries.script.script",
	"resource_management.core.environment",
	"resource_management.libraries.functions.curl_krb_request",
	"ambari_commons.aggregate_functions",
}

// Config configures the runner process.
type Config struct {
	// Python is the interpreter ("": python3).
	Python string
	// Dir is where runner.py is written (created 0700 when missing, kept
	// by Close, so a restarted agent reuses it). "": a private directory
	// created at the first start and removed by Close.
	Dir string
	// LibDirs are put in front of PYTHONPATH when Environ is nil. nil:
	// DefaultLibDir; an empty non-nil slice: none.
	LibDirs []string
	// Environ is the runner's whole environment. Stack scripts run
	// resident only while their environment equals the runner's; the
	// runner is replaced when it differs. nil: the agent's own with
	// LibDirs on PYTHONPATH.
	Environ []string
	// Env holds extra KEY=VALUE entries for the runner's environment.
	Env []string
	// WorkDir is the runner's working directory ("": inherited).
	WorkDir string
	// Debug starts the runner's logging at DEBUG.
	Debug bool
	// Log receives the runner's log lines and lifecycle events.
	Log *logrus.Entry
	// MaxInFlight bounds concurrent alert calls (0: 32); callers beyond
	// it wait, within their context.
	MaxInFlight int
	// StartTimeout bounds the wait for the ready message (0: 60 s;
	// importing the stack library takes a while on a cold cache).
	StartTimeout time.Duration
	// Grace is how long past a call's own timeout the runner may stay
	// silent before it is declared wedged and killed (0: 5 s).
	Grace time.Duration
	// RetryDelay is the first delay before starting Python again after a
	// failed start or an unexpected exit; it doubles with every failure in
	// a row up to MaxRetryDelay (0: 5 s and 5 min).
	RetryDelay    time.Duration
	MaxRetryDelay time.Duration

	// Scripts enables Start: stack scripts forked from the runner
	// ([python] resident_runner).
	Scripts bool
	// Preload lists the modules imported once by the runner for every
	// script ([python] preload_modules); AlertModules are added.
	Preload []string
	// NoAnswer is how long Start waits for the runner to fork a script
	// before it declares the runner wedged (0: 10 s).
	NoAnswer time.Duration

	// Busy marks one request to the runner as a unit of work bounded by d
	// (the agent's liveness model) and returns what ends it; nil: none.
	Busy func(what string, d time.Duration) (end func())
	// Restarted hears of every runner started after the first (a death, a
	// wedge or a library change replaced it); nil: none.
	Restarted func()
}

// Error kinds.
const (
	// KindException: the Python code raised; Type and Message are the
	// exception's class and str().
	KindException = "exception"
	// KindTimeout: the call exceeded its timeout; its child was killed.
	KindTimeout = "timeout"
	// KindCanceled: the caller's context ended first.
	KindCanceled = "canceled"
	// KindCrashed: the child or the whole runner died without an answer.
	KindCrashed = "crashed"
	// KindUnavailable: a library the request needs is not importable.
	KindUnavailable = "unavailable"
	// KindStart: the runner could not be started.
	KindStart = "start"
	// KindBadRequest: the runner rejected the request.
	KindBadRequest = "bad_request"
)

// Error is a failed call.
type Error struct {
	Kind      string
	Type      string // Python exception class, for KindException
	Message   string
	Traceback string
}

func (e *Error) Error() string {
	if e.Type != "" {
		return fmt.Sprintf("python runner %s: %s: %s", e.Kind, e.Type, e.Message)
	}
	return fmt.Sprintf("python runner %s: %s", e.Kind, e.Message)
}

// ErrClosed is returned by calls after Close.
var ErrClosed = errors.New("python runner closed")

// Status is the runner's self-description (its ready message and ping).
type Status struct {
	Pid                     int    `json:"pid"`
	Python                  string `json:"python"`
	Executable              string `json:"executable"`
	ResourceManagement      bool   `json:"resource_management"`
	ResourceManagementError string `json:"resource_management_error"`
	CurlKrbRequest          bool   `json:"curl_krb_request"`
	// Scripts is false when the runner cannot run stack scripts (started
	// without them, or a preload import raised: PreloadError).
	Scripts        bool     `json:"scripts"`
	PreloadError   string   `json:"preload_error"`
	PreloadMissing []string `json:"preload_missing"`
	// Preloaded counts the modules the preload imported.
	Preloaded int `json:"preloaded"`
	// Files are the preloaded modules' files as [path, mtime_ns, size,
	// inode] when they were imported.
	Files [][]json.RawMessage `json:"files"`
}

// Runner is the agent's single resident Python process. For alerts it is
// started on the first call and restarted on the first call after it died
// or was killed; for stack scripts it is started in the background and
// scripts run in fresh interpreters until it is ready. Safe for
// concurrent use.
type Runner struct {
	cfg Config
	log *logrus.Entry
	sem chan struct{}

	mu     sync.Mutex
	proc   *process
	nextID uint64
	// startErr, startAt and failures space out restarts after failures.
	startErr error
	startAt  time.Time
	failures int
	lastDied time.Time
	// env is the environment the next runner starts with (nil: default).
	env    []string
	dir    string
	ownDir bool
	closed bool
	// degraded is set while scripts cannot run resident: the reason is
	// logged once when it starts and once when it ends.
	degraded  bool
	startLock sync.Mutex // one start at a time, without holding mu
	// started counts runners installed, for Config.Restarted.
	started int
}

// New returns a runner; no process is started until needed.
func New(cfg Config) *Runner {
	if cfg.Python == "" {
		cfg.Python = "python3"
	}
	if cfg.LibDirs == nil {
		cfg.LibDirs = []string{DefaultLibDir}
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 32
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 60 * time.Second
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 5 * time.Second
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = 5 * time.Second
	}
	if cfg.MaxRetryDelay < cfg.RetryDelay {
		cfg.MaxRetryDelay = 5 * time.Minute
		if cfg.MaxRetryDelay < cfg.RetryDelay {
			cfg.MaxRetryDelay = cfg.RetryDelay
		}
	}
	if cfg.NoAnswer <= 0 {
		cfg.NoAnswer = 10 * time.Second
	}
	log := logging.OrDiscard(cfg.Log)
	r := &Runner{cfg: cfg, log: log, sem: make(chan struct{}, cfg.MaxInFlight)}
	if cfg.Environ != nil {
		r.env = cfg.Environ
	}
	return r
}

// reply is one decoded response line.
type reply struct {
	ID        uint64  `json:"id"`
	OK        bool    `json:"ok"`
	Result    *string `json:"result"`
	Kind      string  `json:"kind"`
	Type      string  `json:"type"`
	Error     string  `json:"error"`
	Traceback string  `json:"traceback"`
}

// process is one running runner.
type process struct {
	cmd *exec.Cmd
	pid int
	// stdin is our end of the request pipe; an *os.File so writes can carry
	// a deadline (a wedged runner that stops reading must not block callers).
	stdin *os.File
	wmu   sync.Mutex // serialises request lines
	// execConn carries stack script requests and their descriptors; nil
	// when scripts are off.
	execConn *net.UnixConn
	// env is the environment it started with; status what it reported.
	env     []string
	status  Status
	started time.Time
	// stamps identify the interpreter and the preloaded files on disk.
	stamps *stamps

	mu      sync.Mutex
	pending map[uint64]chan reply
	dead    chan struct{} // closed once the process is gone and its log copied
	logDone chan struct{} // closed when stderr forwarding ends
	// expected is set when the exit is on purpose (killed, closed,
	// replaced), so it is not reported as a failure.
	expected bool
	// calls counts alert calls in flight; a retired process is closed when
	// it drops to zero.
	calls   int
	retired bool
}

// Call runs op with args in a forked child of the runner and returns the
// result as JSON text in Python's dialect (NaN and Infinity may appear).
// args is marshalled with encoding/json unless it is a json.RawMessage,
// which is sent verbatim (so it may use Python's dialect too). The runner
// kills the child after timeout (0: no limit); the call also ends when ctx
// does. Errors are *Error (errors.As) or ErrClosed.
func (h *Runner) Call(ctx context.Context, op string, args any, timeout time.Duration) ([]byte, error) {
	var argText []byte
	switch a := args.(type) {
	case json.RawMessage:
		argText = a
	case nil:
		argText = []byte("{}")
	default:
		b, err := json.Marshal(a)
		if err != nil {
			return nil, fmt.Errorf("encode %s arguments: %w", op, err)
		}
		argText = b
	}
	select {
	case h.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, &Error{Kind: KindCanceled, Message: ctx.Err().Error()}
	}
	defer func() { <-h.sem }()
	if h.cfg.Busy != nil {
		defer h.cfg.Busy(op, timeout+h.cfg.StartTimeout+h.cfg.Grace)()
	}

	p, err := h.ensure()
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.nextID++
	id := h.nextID
	h.mu.Unlock()

	ch := make(chan reply, 1)
	p.mu.Lock()
	if p.pending == nil {
		p.mu.Unlock()
		return nil, &Error{Kind: KindCrashed, Message: "python runner exited"}
	}
	p.pending[id] = ch
	p.calls++
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		if p.pending != nil {
			delete(p.pending, id)
		}
		p.calls--
		drained := p.retired && p.calls == 0
		p.mu.Unlock()
		if drained {
			p.closeInput()
		}
	}()

	var line bytes.Buffer
	line.Grow(len(argText) + 96)
	line.WriteString(`{"id":`)
	line.WriteString(strconv.FormatUint(id, 10))
	line.WriteString(`,"op":`)
	opText, _ := json.Marshal(op)
	line.Write(opText)
	line.WriteString(`,"timeout":`)
	line.WriteString(strconv.FormatFloat(timeout.Seconds(), 'f', -1, 64))
	line.WriteString(`,"args":`)
	line.Write(argText)
	line.WriteString("}\n")
	writeLimit := writeTimeout
	if timeout > 0 {
		writeLimit = timeout + h.cfg.Grace
	}
	if err := p.write(line.Bytes(), writeLimit); err != nil {
		h.kill(p, "request write failed")
		return nil, &Error{Kind: KindCrashed, Message: fmt.Sprintf("write request: %v", err)}
	}

	var wedged <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout + h.cfg.Grace)
		defer t.Stop()
		wedged = t.C
	}
	select {
	case r := <-ch:
		if r.OK {
			if r.Result == nil {
				return []byte("null"), nil
			}
			return []byte(*r.Result), nil
		}
		return nil, &Error{Kind: r.Kind, Type: r.Type, Message: r.Error, Traceback: r.Traceback}
	case <-p.dead:
		// A reply may have been delivered just before the process ended.
		select {
		case r := <-ch:
			if r.OK && r.Result != nil {
				return []byte(*r.Result), nil
			}
			if !r.OK {
				return nil, &Error{Kind: r.Kind, Type: r.Type, Message: r.Error, Traceback: r.Traceback}
			}
		default:
		}
		return nil, &Error{Kind: KindCrashed, Message: "python runner exited during the call"}
	case <-ctx.Done():
		h.cancel(p, id)
		return nil, &Error{Kind: KindCanceled, Message: ctx.Err().Error()}
	case <-wedged:
		// The runner enforces the timeout itself; silence past it means the
		// runner (not a child) is stuck.
		h.kill(p, fmt.Sprintf("no answer %s after the %s timeout of a %s call", h.cfg.Grace, timeout, op))
		return nil, &Error{Kind: KindTimeout, Message: fmt.Sprintf("timed out after %s (runner unresponsive)", timeout)}
	}
}

// cancel asks the runner to kill the child of request id; no reply.
func (h *Runner) cancel(p *process, id uint64) {
	msg := fmt.Sprintf("{\"id\":0,\"op\":\"cancel\",\"args\":{\"target\":%d}}\n", id)
	if err := p.write([]byte(msg), writeTimeout); err != nil {
		h.kill(p, "cancel write failed")
	}
}

// writeTimeout bounds a request write when the call itself has no limit.
const writeTimeout = 30 * time.Second

func (p *process) write(b []byte, limit time.Duration) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	_ = p.stdin.SetWriteDeadline(time.Now().Add(limit))
	_, err := p.stdin.Write(b)
	return err
}

// closeInput closes the request pipe and the script socket: the runner
// then exits (its alert children with it, stack scripts not).
func (p *process) closeInput() {
	p.wmu.Lock()
	_ = p.stdin.Close()
	p.wmu.Unlock()
	if p.execConn != nil {
		_ = p.execConn.Close()
	}
}

// Pid returns the running runner's process id, 0 when none runs.
func (h *Runner) Pid() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.proc == nil {
		return 0
	}
	select {
	case <-h.proc.dead:
		return 0
	default:
		return h.proc.pid
	}
}

// Status returns what the running runner reported at start (zero value
// when none runs).
func (h *Runner) Status() Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.proc == nil {
		return Status{}
	}
	return h.proc.status
}

// Close stops the runner (its alert children die with it; stack scripts
// and their shepherds do not) and removes the files it wrote. Later calls
// fail with ErrClosed.
func (h *Runner) Close() error {
	h.startLock.Lock()
	defer h.startLock.Unlock()
	h.mu.Lock()
	h.closed = true
	p := h.proc
	h.proc = nil
	dir, own := h.dir, h.ownDir
	h.mu.Unlock()
	if p != nil {
		p.mu.Lock()
		p.expected = true
		p.mu.Unlock()
		p.closeInput()
		select {
		case <-p.dead:
		case <-time.After(3 * time.Second):
			h.kill(p, "shutdown")
			<-p.dead
		}
	}
	if own && dir != "" {
		return os.RemoveAll(dir)
	}
	return nil
}

// retryDelay is the wait before the next start after failures in a row.
func (h *Runner) retryDelay() time.Duration {
	d := h.cfg.RetryDelay
	for i := 1; i < h.failures && d < h.cfg.MaxRetryDelay; i++ {
		d *= 2
	}
	return min(d, h.cfg.MaxRetryDelay)
}

// ensure returns the running process, starting one when needed.
func (h *Runner) ensure() (*process, error) {
	if p := h.running(); p != nil {
		return p, nil
	}
	h.startLock.Lock()
	defer h.startLock.Unlock()
	return h.ensureLocked()
}

func (h *Runner) ensureLocked() (*process, error) {
	if p := h.running(); p != nil {
		return p, nil
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrClosed
	}
	if h.startErr != nil && time.Since(h.startAt) < h.retryDelay() {
		err := h.startErr
		h.mu.Unlock()
		return nil, err
	}
	env := h.env
	h.mu.Unlock()

	p, err := h.start(env)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.startAt = time.Now()
	if err != nil {
		h.failures++
		h.startErr = &Error{Kind: KindStart, Message: err.Error()}
		h.log.WithError(err).WithField("retryIn", h.retryDelay()).Error("Cannot start the Python runner")
		return nil, h.startErr
	}
	if h.closed {
		p.mu.Lock()
		p.expected = true
		p.mu.Unlock()
		p.closeInput()
		return nil, ErrClosed
	}
	h.startErr = nil
	h.install(p)
	return p, nil
}

// install makes p the current runner; the one it replaces is retired.
// Called with mu held.
func (h *Runner) install(p *process) {
	old := h.proc
	h.proc = p
	if h.started++; h.started > 1 && h.cfg.Restarted != nil {
		h.cfg.Restarted()
	}
	st := p.status
	h.log.WithFields(logrus.Fields{"pid": st.Pid, "python": st.Python, "preloaded": st.Preloaded,
		"scripts": st.Scripts, "resource_management": st.ResourceManagement}).Info("Python runner started")
	if len(st.PreloadMissing) > 0 {
		h.log.WithField("modules", strings.Join(st.PreloadMissing, ",")).
			Warn("Preload modules are not installed and were skipped")
	}
	if h.cfg.Scripts && !st.Scripts {
		h.failures++
		h.log.WithField("error", st.PreloadError).WithField("retryIn", h.retryDelay()).
			Warn("Python runner cannot run stack scripts (a preload import failed); they run in fresh interpreters")
		h.degraded = true
	} else if h.degraded {
		h.degraded = false
		h.log.Info("Stack scripts run in the resident Python runner again")
	}
	if old != nil && old != p {
		go h.retire(old)
	}
}

// retire closes a replaced runner once its alert calls are answered;
// stack scripts it forked report to the agent directly.
func (h *Runner) retire(p *process) {
	p.mu.Lock()
	p.expected = true
	p.retired = true
	idle := p.calls == 0
	p.mu.Unlock()
	if idle {
		p.closeInput()
	}
}

// running returns the current process if it can take requests. A process
// being killed is waited for (it dies within moments of SIGKILL) so its
// successor never overlaps it.
func (h *Runner) running() *process {
	h.mu.Lock()
	p := h.proc
	h.mu.Unlock()
	if p == nil {
		return nil
	}
	p.mu.Lock()
	doomed := p.expected && !p.retired
	p.mu.Unlock()
	if doomed {
		<-p.dead
	}
	select {
	case <-p.dead:
		h.mu.Lock()
		if h.proc == p {
			h.proc = nil
		}
		h.mu.Unlock()
		return nil
	default:
		return p
	}
}

// script writes runner.py (once per content) and returns its path.
func (h *Runner) script() (string, error) {
	h.mu.Lock()
	dir := h.dir
	h.mu.Unlock()
	if dir == "" {
		if h.cfg.Dir != "" {
			dir = h.cfg.Dir
			if err := privateDir(dir); err != nil {
				return "", err
			}
		} else {
			d, err := os.MkdirTemp("", "ambari-agent-pyrunner-")
			if err != nil {
				return "", fmt.Errorf("create runner directory: %w", err)
			}
			dir = d
			h.mu.Lock()
			h.ownDir = true
			h.mu.Unlock()
		}
		h.mu.Lock()
		h.dir = dir
		h.mu.Unlock()
	}
	sum := sha256.Sum256(runnerSource)
	path := filepath.Join(dir, "ambari_agent_pyrunner_"+hex.EncodeToString(sum[:6])+".py")
	if b, err := os.ReadFile(path); err == nil && bytes.Equal(b, runnerSource) {
		return path, nil
	}
	if err := atomicfile.Write(path, runnerSource, 0o600); err != nil {
		return "", fmt.Errorf("write runner: %w", err)
	}
	// A fixed directory outlives agent versions: drop the runners of
	// earlier ones.
	if old, _ := filepath.Glob(filepath.Join(dir, "ambari_agent_pyrunner_*.py")); len(old) > 0 {
		for _, f := range old {
			if f != path {
				_ = os.Remove(f)
			}
		}
	}
	return path, nil
}

// privateDir creates dir (0700) unless it exists, and refuses one that is
// not a real directory of ours closed to others: the interpreter runs the
// file written there.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Geteuid() || fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("runner directory %s is not a directory of this user closed to others", dir)
	}
	return nil
}

// defaultEnviron is the agent's environment with LibDirs in front of
// PYTHONPATH.
func (h *Runner) defaultEnviron() []string {
	env := os.Environ()
	var pyPath []string
	pyPath = append(pyPath, h.cfg.LibDirs...)
	out := env[:0:0]
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PYTHONPATH="); ok {
			if v != "" {
				pyPath = append(pyPath, v)
			}
			continue
		}
		out = append(out, kv)
	}
	if len(pyPath) > 0 {
		out = append(out, "PYTHONPATH="+strings.Join(pyPath, string(os.PathListSeparator)))
	}
	return out
}

func (h *Runner) preloadList() string {
	seen := map[string]bool{}
	var mods []string
	for _, m := range append(append([]string(nil), h.cfg.Preload...), AlertModules...) {
		if m = strings.TrimSpace(m); m != "" && !seen[m] {
			seen[m] = true
			mods = append(mods, m)
		}
	}
	return strings.Join(mods, ",")
}

func (h *Runner) start(env []string) (*process, error) {
	path, err := h.script()
	if err != nil {
		return nil, err
	}
	// No interpreter options: the runner's sys.flags and sys.path are the
	// ones a script's fresh interpreter would have.
	args := []string{path, "--preload", h.preloadList()}
	if h.cfg.Debug {
		args = append(args, "--debug")
	}
	if env == nil {
		env = h.defaultEnviron()
	}
	runEnv := append(env[:len(env):len(env)], h.cfg.Env...)
	pyStamp, pyErr := stampOf(h.cfg.Python)
	cmd := exec.Command(h.cfg.Python, args...)
	cmd.Env = runEnv
	cmd.Dir = h.cfg.WorkDir
	// Its own process group: a terminal's Ctrl-C must reach the agent, which
	// then stops the runner, not the runner directly. No new session: the
	// scripts it forks are in the agent's session, as when the agent
	// starts them.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdinR, stdin, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdin = stdinR
	var execConn *net.UnixConn
	var execRemote *os.File
	if h.cfg.Scripts {
		execConn, execRemote, err = seqpacketPair()
		if err != nil {
			stdinR.Close()
			stdin.Close()
			return nil, err
		}
		cmd.ExtraFiles = []*os.File{execRemote}
	}
	closeAll := func() {
		stdin.Close()
		if execConn != nil {
			execConn.Close()
		}
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		stdinR.Close()
		closeAll()
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		stdinR.Close()
		closeAll()
		return nil, err
	}
	err = cmd.Start()
	stdinR.Close() // the child has its copies
	if execRemote != nil {
		execRemote.Close()
	}
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("start %s: %w", h.cfg.Python, err)
	}
	p := &process{cmd: cmd, pid: cmd.Process.Pid, stdin: stdin, execConn: execConn, env: env,
		started: time.Now(), pending: map[uint64]chan reply{}, dead: make(chan struct{}), logDone: make(chan struct{})}
	go func() {
		defer close(p.logDone)
		h.forwardLog(stderr, p.pid)
	}()

	ready := make(chan reply, 1)
	go h.read(p, stdout, ready)

	t := time.NewTimer(h.cfg.StartTimeout)
	defer t.Stop()
	select {
	case r := <-ready:
		var st Status
		if r.Result != nil {
			_ = json.Unmarshal([]byte(*r.Result), &st)
		}
		if st.Pid == 0 {
			st.Pid = p.pid
		}
		if !h.cfg.Scripts {
			st.Scripts = false
		}
		p.status = st
		p.stamps = newStamps(h.cfg.Python, pyStamp, pyErr, st.Files)
		return p, nil
	case <-p.dead:
		return nil, fmt.Errorf("%s exited before it was ready (%v)", h.cfg.Python, cmd.ProcessState)
	case <-t.C:
		h.kill(p, "no ready message")
		<-p.dead
		return nil, fmt.Errorf("%s sent no ready message within %s", h.cfg.Python, h.cfg.StartTimeout)
	}
}

// seqpacketPair returns a connected pair of AF_UNIX SOCK_SEQPACKET
// sockets: ours as a *net.UnixConn (deadlines, descriptor passing), the
// runner's as a file for ExtraFiles.
func seqpacketPair() (*net.UnixConn, *os.File, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	local := os.NewFile(uintptr(fds[0]), "pyrunner-exec")
	remote := os.NewFile(uintptr(fds[1]), "pyrunner-exec-remote")
	c, err := net.FileConn(local)
	local.Close()
	if err != nil {
		remote.Close()
		return nil, nil, fmt.Errorf("exec socket: %w", err)
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		remote.Close()
		return nil, nil, fmt.Errorf("exec socket: unexpected %T", c)
	}
	return uc, remote, nil
}

// maxReplyBytes bounds one reply line (the runner bounds results to 16 MiB;
// JSON escaping may grow them).
const maxReplyBytes = 64 << 20

// read dispatches reply lines until the process's stdout ends, then reaps
// the process and fails the calls still waiting.
func (h *Runner) read(p *process, stdout io.Reader, ready chan<- reply) {
	br := bufio.NewReaderSize(stdout, 64<<10)
	first := true
	for {
		line, err := readLine(br, maxReplyBytes)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				h.log.WithError(err).Warn("Python runner output unreadable; restarting it")
			}
			break
		}
		var r reply
		if err := json.Unmarshal(line, &r); err != nil {
			h.log.WithError(err).Warn("Python runner sent a malformed reply")
			continue
		}
		if first {
			first = false
			if r.ID == 0 {
				ready <- r
				continue
			}
		}
		p.mu.Lock()
		ch := p.pending[r.ID]
		p.mu.Unlock()
		if ch != nil {
			select {
			case ch <- r:
			default:
			}
		}
	}
	// Make sure the process is gone (a protocol error leaves it running),
	// then reap it.
	_ = p.cmd.Process.Kill()
	err := p.cmd.Wait() // also closes stderr, ending forwardLog
	<-p.logDone
	p.closeInput()
	p.mu.Lock()
	p.pending = nil
	expected := p.expected
	p.mu.Unlock()
	if !expected {
		h.mu.Lock()
		// A runner that lived a while is not part of a failure streak.
		if time.Since(p.started) > time.Minute {
			h.failures = 0
		}
		h.failures++
		h.lastDied = time.Now()
		if h.failures > 1 {
			// Dying again soon after a start: the next start waits.
			h.startErr = &Error{Kind: KindCrashed, Message: "python runner exited"}
			h.startAt = time.Now()
		}
		wasCurrent := h.proc == p
		if wasCurrent && h.cfg.Scripts && !h.degraded {
			h.degraded = true
		}
		delay := time.Duration(0)
		if h.startErr != nil {
			delay = h.retryDelay()
		}
		h.mu.Unlock()
		h.log.WithField("pid", p.pid).WithError(err).WithField("restartIn", delay).
			Warn("Python runner exited; stack scripts run in fresh interpreters until it is back")
	}
	close(p.dead)
}

// readLine reads one '\n'-terminated line of at most limit bytes.
func readLine(br *bufio.Reader, limit int) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf)+len(chunk) > limit {
			return nil, fmt.Errorf("reply longer than %d bytes", limit)
		}
		buf = append(buf, chunk...)
		switch {
		case err == nil:
			return buf, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return nil, err
		}
	}
}

// kill stops a runner process; the reader then fails its pending calls
// and the next call starts a new one. Only the runner's pid is signalled:
// its group holds nothing else (every child moves to a group of its own),
// and stack scripts must survive it.
func (h *Runner) kill(p *process, reason string) {
	p.mu.Lock()
	already := p.expected
	p.expected = true
	p.mu.Unlock()
	if !already {
		h.log.WithFields(logrus.Fields{"pid": p.pid, "reason": reason}).Warn("Killing the Python runner")
	}
	_ = p.cmd.Process.Kill()
}

// maxLogLine bounds one forwarded log line.
const maxLogLine = 8 << 10

// forwardLog copies the runner's stderr (its log, and whatever alert
// scripts print) into the agent's log.
func (h *Runner) forwardLog(r io.Reader, pid int) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	log := h.log.WithField("pid", pid)
	level := logrus.InfoLevel
	for sc.Scan() {
		line := sc.Text()
		if len(line) > maxLogLine {
			line = line[:maxLogLine] + "..."
		}
		if lvl, rest, ok := strings.Cut(line, " "); ok {
			switch lvl {
			case "DEBUG":
				level, line = logrus.DebugLevel, rest
			case "INFO":
				level, line = logrus.InfoLevel, rest
			case "WARNING":
				level, line = logrus.WarnLevel, rest
			case "ERROR", "CRITICAL":
				level, line = logrus.ErrorLevel, rest
			}
		}
		log.Log(level, line)
	}
}
