package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/ambari-go/ambari-agent/internal/logging"
	"github.com/ambari-go/ambari-agent/internal/protocol"
	"github.com/sirupsen/logrus"
)

// Command names with special handling.
const (
	CommandStatus        = "STATUS"
	CommandGetVersion    = "GET_VERSION"
	commandActionExecute = "ACTIONEXECUTE"
	commandCustomCommand = "CUSTOM_COMMAND"
)

// Retention policies for command-<id>.json ([agent]
// command_file_retention_policy).
const (
	RetentionKeep            = "keep"
	RetentionRemove          = "remove"
	RetentionRemoveOnSuccess = "remove_on_success"
)

// Defaults of the paths and values a Config may leave empty.
const (
	DefaultTmpDir             = "/var/lib/ambari-agent/tmp"
	DefaultForceHTTPSProtocol = "PROTOCOL_TLSv1_2"
	DefaultCredentialLibDir   = "/var/lib/ambari-agent/cred/lib"
	DefaultCredentialConfDir  = "/var/lib/ambari-agent/cred/conf"
	DefaultCredentialShellCmd = "org.apache.hadoop.security.alias.CredentialShell"
	DefaultSudoPath           = "/var/lib/ambari-agent/ambari-sudo.sh"
)

// DefaultPythonPath is where the agent's Python packages (ambari_agent,
// resource_management, ...) live; stack scripts import them.
var DefaultPythonPath = []string{"/usr/lib/ambari-agent/lib"}

// ErrStopped is the Result.Err of a run the agent stopped waiting for
// because it is shutting down. A command's script is left running:
// stopping the agent must not kill the work the server asked for. A status
// or version check is killed instead (see runScript).
var ErrStopped = errors.New("agent stopping: command left running")

// DirProvider makes a directory of the resources cache current and returns
// its path (filecache.Cache). serverURL is ambariLevelParams.jdk_location.
type DirProvider interface {
	Provide(ctx context.Context, serverURL, sub string) (string, error)
}

// Config holds the orchestrator's settings and collaborators.
type Config struct {
	// Prefix is [agent] prefix, the data dir for command and output files.
	Prefix string
	// CacheDir is [agent] cache_dir, root of every script the agent runs.
	CacheDir string
	// TmpDir is passed to scripts as argv[6]; "" = DefaultTmpDir.
	TmpDir string
	// KeysDir is [security] keysdir. With Prefix, TmpDir and
	// <CacheDir>/cluster_cache it is a directory of the agent's own that no
	// script or cache directory of a command may lead into.
	KeysDir string
	// WorkDir is the scripts' working directory; "" = the agent's own (the
	// control script starts the agent in /var/lib/ambari-agent).
	WorkDir string
	// Python is the interpreter; "" = ResolvePython().
	Python string
	// PythonPath is prepended to the scripts' PYTHONPATH; nil =
	// DefaultPythonPath.
	PythonPath []string
	// ForceHTTPSProtocol and CACertPath are [security] force_https_protocol
	// (default PROTOCOL_TLSv1_2) and ca_cert_path, argv[7] and argv[8].
	ForceHTTPSProtocol string
	CACertPath         string
	// LogOutFiles is set when [logging] log_out_files exists: "-o" is
	// appended to every script's argv.
	LogOutFiles bool
	// LogLevel returns the agent's log level name for argv[5] ("INFO",
	// "DEBUG"); nil = "INFO".
	LogLevel func() string
	// RetentionPolicy is [agent] command_file_retention_policy.
	RetentionPolicy string
	// LogMaxSymbols is [heartbeat] log_max_symbols_size; 0 = unlimited.
	LogMaxSymbols int
	// LogCommandExecutes is [logging] log_command_executes = 1.
	LogCommandExecutes bool
	// PublicHostname, ParallelExecution and UseSystemProxySettings go into
	// every command's agentLevelParams.
	PublicHostname         string
	ParallelExecution      int
	UseSystemProxySettings bool
	// Credential store settings ([security] credential_lib_dir,
	// credential_conf_dir, credential_shell_cmd); "" = defaults.
	CredentialLibDir   string
	CredentialConfDir  string
	CredentialShellCmd string
	// SudoPath is ambari-sudo.sh, used to signal processes of other users
	// when the agent is not root; "" = DefaultSudoPath.
	SudoPath string
	// Caches supplies the cluster data commands are built from.
	Caches CommandSource
	// FileCache provides cache directories; nil = use them as they are.
	FileCache DirProvider
	// EncryptionKey returns the key the server sent ("" = none yet). When
	// set it reaches scripts as AGENT_ENCRYPTION_KEY.
	EncryptionKey func() string
	// OnWriteError hears of each failed write in the data dir (the agent
	// marks itself degraded). May be nil.
	OnWriteError func(error)
	// Resident forks scripts from the warm interpreter ([python]
	// resident_runner); nil: every script in a fresh interpreter.
	Resident ResidentRunner
	// Log is the component logger; nil discards.
	Log *logrus.Entry
}

// Request is one execution command to run.
type Request struct {
	// Command is the command as received (decoded JSON, numbers preferably
	// as json.Number). It is not modified.
	Command map[string]any
	// OutFile and ErrFile receive the scripts' stdout and stderr.
	OutFile, ErrFile string
	// StructuredOutFile is passed to scripts; "" =
	// <prefix>/structured-out-<taskId>.json.
	StructuredOutFile string
	// CommandName overrides roleCommand as the script's command name.
	CommandName string
	// Overwrite is set for a command's first attempt: the output files are
	// truncated (after backing up existing ones). Retries append.
	Overwrite bool
	// OnBackgroundDone receives the final result of a
	// BACKGROUND_EXECUTION_COMMAND, exactly once, on its own goroutine.
	OnBackgroundDone func(Result)
	// OnPrepared is called, on Run's goroutine, once the command is
	// prepared (its JSON built and written, its cache directories current)
	// and its scripts are about to run; not when the preparation failed.
	// The Python agent counts a command as running for its component
	// from this point (docs/behaviour.md §7.3). May be nil.
	OnPrepared func()
	// OnProcessStarted is called with the pid of each script of the
	// command as soon as it runs (its own process group leader, not yet
	// reaped), so that a later agent process can find it (ReapOrphan).
	// May be nil.
	OnProcessStarted func(pid int)
}

// Result is the outcome of a command, a status check or a background start.
type Result struct {
	// ExitCode is the last script's exit code, -N for death by signal N,
	// protocol.ExitCodeTimedOut after a timeout kill,
	// protocol.ExitCodeInProgress for a started background command
	// (docs/behaviour.md §5.10), 1 when the agent failed (Err set).
	ExitCode int
	// Stdout and Stderr are the output files' texts cut to LogMaxSymbols.
	Stdout, Stderr string
	// StructuredOut is the parsed structured output ({} when missing).
	StructuredOut map[string]any
	// TimedOut is set when the watchdog killed a script.
	TimedOut bool
	// Canceled is set when the command was cancelled; CancelReason is the
	// reason given (the texts already carry the "Command aborted" suffix).
	Canceled     bool
	CancelReason string
	// Err is the agent-side failure behind an ExitCode 1 result with the
	// "Caught an exception" texts, or ErrStopped; nil when scripts ran.
	Err error
}

// Orchestrator runs commands and status checks as processes.
type Orchestrator struct {
	cfg    Config
	log    *logrus.Entry
	killer *treeKiller
	env    *environment

	mu sync.Mutex
	// tasks holds the running commands by taskId, for Cancel.
	tasks map[string]*task

	// configs memoises ClusterConfiguration for the alert checks.
	configs clusterConfigs
}

// New checks cfg, fills in defaults and resolves the interpreter.
func New(cfg Config) (*Orchestrator, error) {
	if cfg.Prefix == "" {
		return nil, errors.New("orchestrator: Prefix (data dir) is required")
	}
	if cfg.CacheDir == "" {
		return nil, errors.New("orchestrator: CacheDir is required")
	}
	if cfg.Caches == nil {
		return nil, errors.New("orchestrator: Caches is required")
	}
	log := cfg.Log
	log = logging.OrDiscard(log)
	if cfg.TmpDir == "" {
		cfg.TmpDir = DefaultTmpDir
	}
	if cfg.ForceHTTPSProtocol == "" {
		cfg.ForceHTTPSProtocol = DefaultForceHTTPSProtocol
	}
	if cfg.CredentialLibDir == "" {
		cfg.CredentialLibDir = DefaultCredentialLibDir
	}
	if cfg.CredentialConfDir == "" {
		cfg.CredentialConfDir = DefaultCredentialConfDir
	}
	if cfg.CredentialShellCmd == "" {
		cfg.CredentialShellCmd = DefaultCredentialShellCmd
	}
	if cfg.SudoPath == "" {
		cfg.SudoPath = DefaultSudoPath
	}
	if cfg.PythonPath == nil {
		cfg.PythonPath = DefaultPythonPath
	}
	switch p := strings.ToLower(strings.TrimSpace(cfg.RetentionPolicy)); p {
	case RetentionKeep, RetentionRemove, RetentionRemoveOnSuccess:
		cfg.RetentionPolicy = p
	case "":
		cfg.RetentionPolicy = RetentionKeep
	default:
		log.Warnf("Unknown command_file_retention_policy %q, keeping command files", cfg.RetentionPolicy)
		cfg.RetentionPolicy = RetentionKeep
	}
	if cfg.Python == "" {
		p, err := ResolvePython()
		if err != nil {
			return nil, fmt.Errorf("orchestrator: %w", err)
		}
		cfg.Python = p
	}
	// A bare name is looked up in PATH; a path must be an executable file.
	// Either way a missing interpreter stops the agent at start, where the
	// operator sees it, not at the first command.
	python, err := exec.LookPath(cfg.Python)
	if err != nil {
		return nil, fmt.Errorf("orchestrator: Python interpreter %s: %w", cfg.Python, err)
	}
	cfg.Python = python
	closeInheritedOnExec()
	prepareDataDir(cfg.Prefix, log)
	return &Orchestrator{
		cfg:    cfg,
		log:    log,
		killer: newTreeKiller(log, cfg.SudoPath),
		env:    newEnvironment(os.Environ(), cfg.PythonPath),
		tasks:  make(map[string]*task),
	}, nil
}

// TaskFiles are the per-task files of an execution command (docs/behaviour.md §1.2, §5.3).
type TaskFiles struct {
	Out, Err string
	// StructuredOut is what scripts write to.
	StructuredOut string
	// ReportedStructuredOut is the path IN_PROGRESS reports name. It differs
	// from StructuredOut for AUTO_EXECUTION commands, a quirk kept from the
	// Python agent (the script still writes structured-out-<id>.json).
	ReportedStructuredOut string
}

// TaskFiles returns the file names for a command of the given type and
// task id under the data dir.
func (o *Orchestrator) TaskFiles(commandType, taskID string) TaskFiles {
	p := o.cfg.Prefix
	f := TaskFiles{
		Out:           filepath.Join(p, "output-"+taskID+".txt"),
		Err:           filepath.Join(p, "errors-"+taskID+".txt"),
		StructuredOut: filepath.Join(p, "structured-out-"+taskID+".json"),
	}
	f.ReportedStructuredOut = f.StructuredOut
	if commandType == protocol.AutoExecutionCommand {
		f.Out = filepath.Join(p, "auto_output-"+taskID+".txt")
		f.Err = filepath.Join(p, "auto_errors-"+taskID+".txt")
		f.ReportedStructuredOut = filepath.Join(p, "auto_structured-out-"+taskID+".json")
	}
	return f
}

// task is a running command that can be cancelled.
type task struct {
	id string
	// kill is closed by Cancel; the goroutine waiting for the script kills
	// its process tree.
	kill chan struct{}

	mu       sync.Mutex
	canceled bool
	reason   string
	pid      int
	// onStarted is Request.OnProcessStarted.
	onStarted func(pid int)
}

func (t *task) cancel(reason string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.canceled {
		return false
	}
	t.canceled, t.reason = true, reason
	close(t.kill)
	return true
}

func (t *task) cancelState() (bool, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.canceled, t.reason
}

func (t *task) setPID(pid int) {
	t.mu.Lock()
	t.pid = pid
	t.mu.Unlock()
	if t.onStarted != nil {
		t.onStarted(pid)
	}
}

func (o *Orchestrator) register(id string) *task {
	t := &task{id: id, kill: make(chan struct{})}
	o.mu.Lock()
	o.tasks[id] = t
	o.mu.Unlock()
	return t
}

func (o *Orchestrator) unregister(t *task) {
	o.mu.Lock()
	if o.tasks[t.id] == t {
		delete(o.tasks, t.id)
	}
	o.mu.Unlock()
}

// Cancel kills the running command with the given task id (its whole
// process tree) and records the reason, which the result carries in the
// "Command aborted" suffix. A command still being prepared never starts a
// script. It returns false when no such command is running (the action
// queue then remembers the cancel itself). Cancel does not wait for the
// kill.
func (o *Orchestrator) Cancel(taskID, reason string) bool {
	o.mu.Lock()
	t := o.tasks[taskID]
	o.mu.Unlock()
	if t == nil {
		o.log.WithField("taskId", taskID).Warn("Unable to find process associated with task to cancel")
		return false
	}
	o.log.WithFields(logrus.Fields{"taskId": taskID, "reason": reason}).Info("Canceling command")
	t.cancel(reason)
	return true
}

// abortSuffix is appended to outputs of a cancelled command.
func abortSuffix(reason string) string {
	if reason == "" {
		return "\nCommand aborted."
	}
	return fmt.Sprintf("\nCommand aborted. Reason: '%s'", reason)
}

// failure is the result of an agent-side error (the Python agent's
// "Caught an exception" result).
func failure(err error) Result {
	kind := "Exception"
	var ae *agentError
	if errors.As(err, &ae) {
		kind = "AgentException"
	}
	msg := fmt.Sprintf("Caught an exception while executing custom service command: <class '%s'>: %v; %v", kind, err, err)
	return Result{ExitCode: 1, Stdout: msg, Stderr: msg, StructuredOut: map[string]any{}, Err: err}
}

// closeInheritedOnExec marks every descriptor the agent inherited from its
// parent (>= 3) close-on-exec. Go opens all its own files that way, but
// leaves inherited ones alone, so without this a script would get them: the
// Python agent starts scripts with close_fds, so they see only 0, 1 and 2.
func closeInheritedOnExec() {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
}
