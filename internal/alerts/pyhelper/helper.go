package pyhelper

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

//go:embed helper.py
var helperSource []byte

// DefaultLibDir is where the agent's Python packages (resource_management,
// ambari_commons, ambari_agent) are installed.
const DefaultLibDir = "/usr/lib/ambari-agent/lib"

// Config configures the helper process.
type Config struct {
	// Python is the interpreter ("": python3).
	Python string
	// Dir is where helper.py is written. "": a private directory created
	// at the first start and removed by Close.
	Dir string
	// LibDirs are put in front of PYTHONPATH. nil: DefaultLibDir; an empty
	// non-nil slice: none.
	LibDirs []string
	// Env holds extra KEY=VALUE entries for the helper's environment (it
	// otherwise inherits the agent's).
	Env []string
	// WorkDir is the helper's working directory ("": inherited).
	WorkDir string
	// Debug starts the helper's Python logging at DEBUG.
	Debug bool
	// Log receives the helper's log lines and lifecycle events.
	Log *logrus.Entry
	// MaxInFlight bounds concurrent calls (0: 32); callers beyond it wait,
	// within their context.
	MaxInFlight int
	// StartTimeout bounds the wait for the ready message (0: 30 s; importing
	// the stack library takes a while on a cold cache).
	StartTimeout time.Duration
	// Grace is how long past a call's own timeout the helper may stay silent
	// before it is declared wedged and killed (0: 5 s).
	Grace time.Duration
	// RetryDelay: after a failed start, calls fail at once for this long
	// instead of starting Python again (0: 5 s).
	RetryDelay time.Duration
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
	// KindCrashed: the child or the whole helper died without an answer.
	KindCrashed = "crashed"
	// KindUnavailable: a library the request needs is not importable.
	KindUnavailable = "unavailable"
	// KindStart: the helper could not be started.
	KindStart = "start"
	// KindBadRequest: the helper rejected the request.
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
		return fmt.Sprintf("python helper %s: %s: %s", e.Kind, e.Type, e.Message)
	}
	return fmt.Sprintf("python helper %s: %s", e.Kind, e.Message)
}

// ErrClosed is returned by calls after Close.
var ErrClosed = errors.New("python helper closed")

// Status is the helper's self-description (its ready message and ping).
type Status struct {
	Pid                     int    `json:"pid"`
	Python                  string `json:"python"`
	ResourceManagement      bool   `json:"resource_management"`
	ResourceManagementError string `json:"resource_management_error"`
	CurlKrbRequest          bool   `json:"curl_krb_request"`
}

// Helper is the agent's single resident Python process. It is started on
// the first call and restarted on the first call after it died or was
// killed. Safe for concurrent use.
type Helper struct {
	cfg Config
	log *logrus.Entry
	sem chan struct{}

	mu        sync.Mutex
	proc      *process
	status    Status
	nextID    uint64
	startErr  error
	startAt   time.Time
	dir       string
	ownDir    bool
	closed    bool
	startLock sync.Mutex // one start at a time, without holding mu
}

// New returns a helper; no process is started until the first call.
func New(cfg Config) *Helper {
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
		cfg.StartTimeout = 30 * time.Second
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 5 * time.Second
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = 5 * time.Second
	}
	log := cfg.Log
	log = logging.OrDiscard(log)
	return &Helper{cfg: cfg, log: log, sem: make(chan struct{}, cfg.MaxInFlight)}
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

// process is one running helper.
type process struct {
	cmd *exec.Cmd
	pid int
	// stdin is our end of the request pipe; an *os.File so writes can carry
	// a deadline (a wedged helper that stops reading must not block callers).
	stdin *os.File
	wmu   sync.Mutex // serialises request lines

	mu      sync.Mutex
	pending map[uint64]chan reply
	dead    chan struct{} // closed once the process is gone and its log copied
	logDone chan struct{} // closed when stderr forwarding ends
	// expected is set when the exit is on purpose (killed or closed), so it
	// is not reported as a failure.
	expected bool
}

// Call runs op with args in a forked child of the helper and returns the
// result as JSON text in Python's dialect (NaN and Infinity may appear).
// args is marshalled with encoding/json unless it is a json.RawMessage,
// which is sent verbatim (so it may use Python's dialect too). The helper
// kills the child after timeout (0: no limit); the call also ends when ctx
// does. Errors are *Error (errors.As) or ErrClosed.
func (h *Helper) Call(ctx context.Context, op string, args any, timeout time.Duration) ([]byte, error) {
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
		return nil, &Error{Kind: KindCrashed, Message: "python helper exited"}
	}
	p.pending[id] = ch
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		if p.pending != nil {
			delete(p.pending, id)
		}
		p.mu.Unlock()
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
		return nil, &Error{Kind: KindCrashed, Message: "python helper exited during the call"}
	case <-ctx.Done():
		h.cancel(p, id)
		return nil, &Error{Kind: KindCanceled, Message: ctx.Err().Error()}
	case <-wedged:
		// The helper enforces the timeout itself; silence past it means the
		// helper (not a child) is stuck.
		h.kill(p, fmt.Sprintf("no answer %s after the %s timeout of a %s call", h.cfg.Grace, timeout, op))
		return nil, &Error{Kind: KindTimeout, Message: fmt.Sprintf("timed out after %s (helper unresponsive)", timeout)}
	}
}

// cancel asks the helper to kill the child of request id; no reply.
func (h *Helper) cancel(p *process, id uint64) {
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

// Pid returns the running helper's process id, 0 when none runs.
func (h *Helper) Pid() int {
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

// Status returns what the running helper reported at start (zero value
// when none has started).
func (h *Helper) Status() Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.status
}

// Close stops the helper (its children die with it) and removes the files
// it wrote. Later calls fail with ErrClosed.
func (h *Helper) Close() error {
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
		// Closing stdin lets the helper kill its children and exit.
		p.wmu.Lock()
		_ = p.stdin.Close()
		p.wmu.Unlock()
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

// ensure returns the running process, starting one when needed.
func (h *Helper) ensure() (*process, error) {
	if p := h.running(); p != nil {
		return p, nil
	}
	h.startLock.Lock()
	defer h.startLock.Unlock()
	if p := h.running(); p != nil {
		return p, nil
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrClosed
	}
	if h.startErr != nil && time.Since(h.startAt) < h.cfg.RetryDelay {
		err := h.startErr
		h.mu.Unlock()
		return nil, err
	}
	h.mu.Unlock()

	p, st, err := h.start()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.startAt = time.Now()
	if err != nil {
		h.startErr = &Error{Kind: KindStart, Message: err.Error()}
		h.log.WithError(err).Error("Cannot start the Python helper")
		return nil, h.startErr
	}
	h.startErr = nil
	h.proc = p
	h.status = st
	h.log.WithFields(logrus.Fields{"pid": st.Pid, "python": st.Python,
		"resource_management": st.ResourceManagement}).Info("Python helper started")
	if !st.ResourceManagement && st.ResourceManagementError != "" {
		h.log.WithField("error", st.ResourceManagementError).
			Info("Python helper runs without the stack library (resource_management)")
	}
	return p, nil
}

// running returns the current process if it can take requests. A process
// being killed is waited for (it dies within moments of SIGKILL) so its
// successor never overlaps it.
func (h *Helper) running() *process {
	h.mu.Lock()
	p := h.proc
	h.mu.Unlock()
	if p == nil {
		return nil
	}
	p.mu.Lock()
	doomed := p.expected
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

// script writes helper.py (once per content) and returns its path.
func (h *Helper) script() (string, error) {
	h.mu.Lock()
	dir := h.dir
	h.mu.Unlock()
	if dir == "" {
		if h.cfg.Dir != "" {
			dir = h.cfg.Dir
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return "", fmt.Errorf("create %s: %w", dir, err)
			}
		} else {
			d, err := os.MkdirTemp("", "ambari-agent-pyhelper-")
			if err != nil {
				return "", fmt.Errorf("create helper directory: %w", err)
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
	sum := sha256.Sum256(helperSource)
	path := filepath.Join(dir, "ambari_agent_pyhelper_"+hex.EncodeToString(sum[:6])+".py")
	if b, err := os.ReadFile(path); err == nil && bytes.Equal(b, helperSource) {
		return path, nil
	}
	if err := atomicfile.Write(path, helperSource, 0o600); err != nil {
		return "", fmt.Errorf("write helper: %w", err)
	}
	return path, nil
}

func (h *Helper) environ() []string {
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
	// Replies must not depend on the host's locale.
	out = append(out, "PYTHONIOENCODING=utf-8")
	return append(out, h.cfg.Env...)
}

func (h *Helper) start() (*process, Status, error) {
	path, err := h.script()
	if err != nil {
		return nil, Status{}, err
	}
	args := []string{"-B", path}
	if h.cfg.Debug {
		args = append(args, "--debug")
	}
	cmd := exec.Command(h.cfg.Python, args...)
	cmd.Env = h.environ()
	cmd.Dir = h.cfg.WorkDir
	// Its own process group: a terminal's Ctrl-C must reach the agent, which
	// then stops the helper, not the helper directly.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdinR, stdin, err := os.Pipe()
	if err != nil {
		return nil, Status{}, err
	}
	cmd.Stdin = stdinR
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, Status{}, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, Status{}, err
	}
	err = cmd.Start()
	stdinR.Close() // the child has its copy
	if err != nil {
		stdin.Close()
		return nil, Status{}, fmt.Errorf("start %s: %w", h.cfg.Python, err)
	}
	p := &process{cmd: cmd, pid: cmd.Process.Pid, stdin: stdin,
		pending: map[uint64]chan reply{}, dead: make(chan struct{}), logDone: make(chan struct{})}
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
		return p, st, nil
	case <-p.dead:
		return nil, Status{}, fmt.Errorf("%s exited before it was ready (%v)", h.cfg.Python, cmd.ProcessState)
	case <-t.C:
		h.kill(p, "no ready message")
		<-p.dead
		return nil, Status{}, fmt.Errorf("%s sent no ready message within %s", h.cfg.Python, h.cfg.StartTimeout)
	}
}

// maxReplyBytes bounds one reply line (the helper bounds results to 16 MiB;
// JSON escaping may grow them).
const maxReplyBytes = 64 << 20

// read dispatches reply lines until the process's stdout ends, then reaps
// the process and fails the calls still waiting.
func (h *Helper) read(p *process, stdout io.Reader, ready chan<- reply) {
	br := bufio.NewReaderSize(stdout, 64<<10)
	first := true
	for {
		line, err := readLine(br, maxReplyBytes)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				h.log.WithError(err).Warn("Python helper output unreadable; restarting it")
			}
			break
		}
		var r reply
		if err := json.Unmarshal(line, &r); err != nil {
			h.log.WithError(err).Warn("Python helper sent a malformed reply")
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
	p.wmu.Lock()
	_ = p.stdin.Close()
	p.wmu.Unlock()
	p.mu.Lock()
	p.pending = nil
	expected := p.expected
	p.mu.Unlock()
	if !expected {
		h.log.WithField("pid", p.pid).WithError(err).Warn("Python helper exited")
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

// kill stops a helper process; the reader then fails its pending calls and
// the next call starts a new one.
func (h *Helper) kill(p *process, reason string) {
	p.mu.Lock()
	already := p.expected
	p.expected = true
	p.mu.Unlock()
	if !already {
		h.log.WithFields(logrus.Fields{"pid": p.pid, "reason": reason}).Warn("Killing the Python helper")
	}
	_ = syscall.Kill(-p.pid, syscall.SIGKILL)
	_ = p.cmd.Process.Kill()
}

// maxLogLine bounds one forwarded log line.
const maxLogLine = 8 << 10

// forwardLog copies the helper's stderr (its Python logging, and whatever
// scripts print) into the agent's log.
func (h *Helper) forwardLog(r io.Reader, pid int) {
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
