package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ambari-go/ambari-agent/internal/cache"
	"github.com/ambari-go/ambari-agent/internal/filecache"
	"github.com/ambari-go/ambari-agent/internal/protocol"
	"github.com/ambari-go/ambari-agent/internal/pyvalue"
)

// plan is a command ready to run: its full JSON written to disk and the
// chain of scripts (pre hooks, the script, post hooks) chosen.
type plan struct {
	cmd         map[string]any
	clusterID   string
	taskID      string
	commandType string
	commandName string // after CUSTOM_COMMAND substitution
	timeoutSecs int64
	chain       []chainItem
	structured  string
	jsonPath    string
	background  bool
}

type chainItem struct {
	script  string
	baseDir string // argv[3]: the package dir, the hook's dir or custom_actions
}

// runSpec is one call of the orchestrator, command or status check.
type runSpec struct {
	header     map[string]any
	out, err   string
	structured string
	forced     string
	overwrite  bool
	status     bool
	// prepared is Request.OnPrepared.
	prepared func()
}

// prepare builds the command and picks its scripts (docs/behaviour.md §5.4.1 to
// §5.4.5). The returned plan is never nil; its jsonPath is set as soon as the
// command file exists, so that a later failure still cleans it up.
func (o *Orchestrator) prepare(ctx context.Context, s *runSpec) (*plan, error) {
	p := &plan{}
	cmd, err := buildCommand(o.cfg.Caches, s.header, o.agentParams())
	if err != nil {
		return p, err
	}
	p.cmd = cmd
	cp := child(cmd, "commandParams")
	if cp == nil {
		return p, errors.New("the command has no commandParams")
	}
	scriptType, ok := cp["script_type"].(string)
	if !ok {
		return p, errors.New("commandParams.script_type is missing")
	}
	script, ok := cp["script"].(string)
	if !ok {
		return p, errors.New("commandParams.script is missing")
	}
	if p.timeoutSecs, ok = pyvalue.Integral(cp["command_timeout"]); !ok {
		return p, fmt.Errorf("commandParams.command_timeout %v is missing or not an integer", cp["command_timeout"])
	}
	p.clusterID = pyvalue.Str(cmd["clusterId"])
	p.commandType, _ = cmd["commandType"].(string)
	if s.status {
		p.taskID = "status"
	} else {
		tid, ok := cmd["taskId"]
		if !ok {
			return p, errors.New("the command has no taskId")
		}
		p.taskID = pyvalue.Str(tid)
		p.commandName, _ = cmd["roleCommand"].(string)
	}
	if s.forced != "" {
		p.commandName = s.forced
	}
	serverURL, _ := child(cmd, "ambariLevelParams")["jdk_location"].(string)

	var main chainItem
	if p.commandName == commandActionExecute {
		if main.baseDir, err = o.provide(ctx, serverURL, filecache.CustomActionsDir); err != nil {
			return p, err
		}
		// Like the Python agent, an action script's existence is left for
		// the interpreter to report.
		if main.script, err = o.scriptPath(filepath.Join(filecache.CustomActionsDir, "scripts", script)); err != nil {
			return p, err
		}
	} else {
		if p.commandName == commandCustomCommand {
			if p.commandName, ok = cp["custom_command"].(string); !ok {
				return p, errors.New("commandParams.custom_command is missing for a CUSTOM_COMMAND")
			}
		}
		// Checked for every command so host scripts stay current; the path
		// itself is not used here.
		if _, err := o.provide(ctx, serverURL, filecache.HostScriptsDir); err != nil {
			return p, err
		}
		folder, ok := cp["service_package_folder"].(string)
		if !ok {
			if folder, ok = child(cmd, "serviceLevelParams")["service_package_folder"].(string); !ok {
				return p, errors.New("service_package_folder is in neither commandParams nor serviceLevelParams")
			}
		}
		if main.baseDir, err = o.provide(ctx, serverURL, folder); err != nil {
			return p, err
		}
		if main.script, err = o.scriptPath(filepath.Join(folder, script)); err != nil {
			return p, err
		}
		if _, err := os.Stat(main.script); err != nil {
			return p, agentErrorf("Script %s does not exist", main.script)
		}
	}
	p.structured = s.structured
	if p.structured == "" {
		p.structured = filepath.Join(o.cfg.Prefix, "structured-out-"+p.taskID+".json")
	}
	if !strings.EqualFold(scriptType, "PYTHON") {
		return p, agentErrorf("Unknown script type %s", scriptType)
	}
	p.background = p.commandType == protocol.BackgroundExecutionCommand
	if needsCredentialStore(cmd, p.commandName) {
		if err := o.generateJCEKS(cmd); err != nil {
			return p, err
		}
	}
	path := o.commandFilePath(p.commandType, p.taskID, s.status)
	if err := writeCommandFile(path, cmd); err != nil {
		return p, err
	}
	p.jsonPath = path
	pre, post, err := o.resolveHooks(ctx, cmd, p.commandName, serverURL)
	if err != nil {
		return p, err
	}
	p.chain = append(append(append(p.chain, pre...), main), post...)
	if p.background && len(p.chain) > 1 {
		return p, agentErrorf("Background commands are supported without hooks only")
	}
	return p, nil
}

func (o *Orchestrator) agentParams() agentParams {
	return agentParams{
		publicHostname:         o.cfg.PublicHostname,
		cacheDir:               o.cfg.CacheDir,
		parallelExecution:      o.cfg.ParallelExecution,
		useSystemProxySettings: o.cfg.UseSystemProxySettings,
	}
}

// provide returns <cache_dir>/sub after making it current. sub comes from the
// server; one that would lead outside cache_dir is refused before anything
// is downloaded or run.
func (o *Orchestrator) provide(ctx context.Context, serverURL, sub string) (string, error) {
	full, err := filecache.SafeJoin(o.cfg.CacheDir, sub)
	if err == nil {
		err = filecache.CheckNotAgentDir(full, o.agentDirs())
	}
	if err != nil {
		return "", agentErrorf("Refusing cache directory %q: %w", sub, err)
	}
	if o.cfg.FileCache == nil {
		return full, nil
	}
	if _, err := o.cfg.FileCache.Provide(ctx, serverURL, sub); err != nil {
		return "", err
	}
	return full, nil
}

// agentDirs are the agent's own directories, which no command path may
// lead into.
func (o *Orchestrator) agentDirs() []string {
	return []string{o.cfg.Prefix, o.cfg.TmpDir, o.cfg.KeysDir, filepath.Join(o.cfg.CacheDir, cache.DirName)}
}

// scriptPath returns <cache_dir>/rel, refusing paths that escape cache_dir.
func (o *Orchestrator) scriptPath(rel string) (string, error) {
	full, err := filecache.SafeJoin(o.cfg.CacheDir, rel)
	if err == nil {
		err = filecache.CheckNotAgentDir(full, o.agentDirs())
	}
	if err != nil {
		return "", agentErrorf("Refusing to run script %q: %w", rel, err)
	}
	return full, nil
}

// resolveHooks finds the hook scripts around a command (docs/behaviour.md §5.4.5):
// before-C, before-C-S, before-C-S-R, then after-C-S-R, after-C-S, after-C,
// each used only when <hooks>/<name>/scripts/hook.py is a file.
func (o *Orchestrator) resolveHooks(ctx context.Context, cmd map[string]any, commandName, serverURL string) (pre, post []chainItem, err error) {
	if cmd["commandType"] == protocol.StatusCommand || commandName == "" {
		return nil, nil, nil
	}
	folder, ok := child(cmd, "clusterLevelParams")["hooks_folder"].(string)
	if !ok || folder == "" {
		return nil, nil, nil
	}
	if _, err := o.provide(ctx, serverURL, folder); err != nil {
		return nil, nil, err
	}
	service, hasService := cmd["serviceName"]
	// The Python agent renders a missing role as None; service-level names
	// are skipped only when serviceName is absent.
	role := pyvalue.Str(cmd["role"])
	svc := pyvalue.Str(service)
	names := func(prefix string, order []int) []string {
		all := []string{
			prefix + "-" + commandName,
			prefix + "-" + commandName + "-" + svc,
			prefix + "-" + commandName + "-" + svc + "-" + role,
		}
		var out []string
		for _, i := range order {
			if i > 0 && !hasService {
				continue
			}
			out = append(out, all[i])
		}
		return out
	}
	pick := func(list []string) ([]chainItem, error) {
		var items []chainItem
		for _, name := range list {
			base, err := filecache.SafeJoin(o.cfg.CacheDir, filepath.Join(folder, name))
			if err != nil {
				return nil, agentErrorf("Refusing hook %q: %w", name, err)
			}
			script := filepath.Join(base, "scripts", "hook.py")
			if st, err := os.Stat(script); err != nil || !st.Mode().IsRegular() {
				continue
			}
			if _, err := filecache.SafeJoin(o.cfg.CacheDir, filepath.Join(folder, name, "scripts", "hook.py")); err != nil {
				return nil, agentErrorf("Refusing hook %q: %w", name, err)
			}
			items = append(items, chainItem{script: script, baseDir: base})
		}
		return items, nil
	}
	if pre, err = pick(names("before", []int{0, 1, 2})); err != nil {
		return nil, nil, err
	}
	if post, err = pick(names("after", []int{2, 1, 0})); err != nil {
		return nil, nil, err
	}
	return pre, post, nil
}
