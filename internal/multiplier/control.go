package multiplier

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ambari-go/ambari-agent/internal/agent"
	"github.com/ambari-go/ambari-agent/internal/config"
)

// DefaultParallel bounds how many agents are started or stopped at once.
const DefaultParallel = 16

// Options drive one multiplier command over every host of Conf.
type Options struct {
	Conf     Conf
	HomeRoot string
	Template Template
	// EtcHosts is the hosts file to give the host names to; "" leaves it
	// alone (the agents then need no name resolution: hostname.sh names
	// them).
	EtcHosts string
	// Force takes over homes the multiplier did not make.
	Force bool
	// Parallel bounds concurrent starts and stops (<= 0: DefaultParallel).
	Parallel int
	// Exe is the ambari-agent binary each host's start and stop run.
	Exe string
	// AgentArgs are added to each start (e.g. -v).
	AgentArgs []string
	// Out receives the summary; Progress, when set, gets a one-line
	// counter rewritten in place (a terminal).
	Out      io.Writer
	Progress io.Writer
	// Verbose lists the hosts of each outcome in the summary.
	Verbose bool
	// StopTimeout bounds one host's stop (the agent's own bound is 10 s
	// before SIGKILL); 0: 60 s. Start has the same bound.
	StopTimeout time.Duration
}

// Outcome is what became of one host.
type Outcome string

// Outcomes, in summary order.
const (
	Started        Outcome = "started"
	AlreadyRunning Outcome = "already running"
	Running        Outcome = "running"
	Stopped        Outcome = "stopped"
	NotRunning     Outcome = "not running"
	Stale          Outcome = "pid file without a running agent"
	Failed         Outcome = "failed"
)

// Result is one host's outcome; Reason says why it failed.
type Result struct {
	Host    Host
	Outcome Outcome
	Reason  string
}

// Run performs action (start, stop, restart or status) on every host and
// prints a summary. It returns the results and whether every host ended
// as the action wanted (a failed host, or for status a host not running,
// makes it false).
func Run(ctx context.Context, action string, o Options) ([]Result, bool) {
	if o.Parallel <= 0 {
		o.Parallel = DefaultParallel
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = 60 * time.Second
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	hosts := o.Conf.Hosts(o.HomeRoot)
	fmt.Fprintf(o.Out, "Start: %d\nNum: %d\nPrefix: %s\nCommand: %s\n", o.Conf.Start, o.Conf.Num, o.Conf.Prefix, action)

	var do func(context.Context, Host) Result
	switch action {
	case "start":
		do = func(ctx context.Context, h Host) Result { return o.start(ctx, h, false) }
	case "restart":
		do = func(ctx context.Context, h Host) Result { return o.start(ctx, h, true) }
	case "stop":
		do = o.stop
	case "status":
		do = func(_ context.Context, h Host) Result { return Result{Host: h, Outcome: status(h)} }
	default:
		fmt.Fprintf(o.Out, "ERROR: unknown multiplier command %q (start|stop|restart|status)\n", action)
		return nil, false
	}
	if action == "start" || action == "restart" {
		if _, err := os.Stat(o.Template.Ini); err != nil {
			fmt.Fprintf(o.Out, "ERROR: Ambari Agent config file: %v\n", err)
			return nil, false
		}
		if o.EtcHosts != "" {
			if changed, err := EditEtcHosts(o.EtcHosts, hosts); err != nil {
				fmt.Fprintf(o.Out, "ERROR: %v (use --no-etc-hosts to leave it alone)\n", err)
				return nil, false
			} else if changed {
				fmt.Fprintf(o.Out, "Made changes to %s\n", o.EtcHosts)
			}
		}
	}

	results := o.forAll(ctx, action, hosts, do)
	ok := o.summarize(action, results)
	return results, ok
}

// forAll runs do for every host, o.Parallel at a time, with progress.
func (o Options) forAll(ctx context.Context, action string, hosts []Host, do func(context.Context, Host) Result) []Result {
	results := make([]Result, len(hosts))
	work := make(chan int)
	var (
		mu           sync.Mutex
		done, failed int
		wg           sync.WaitGroup
	)
	for w := 0; w < min(o.Parallel, len(hosts)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				r := safe(ctx, hosts[i], do)
				results[i] = r
				mu.Lock()
				done++
				if r.Outcome == Failed {
					failed++
				}
				if o.Progress != nil {
					fmt.Fprintf(o.Progress, "\r%s: %d/%d done, %d failed ", action, done, len(hosts), failed)
				}
				mu.Unlock()
			}
		}()
	}
	for i := range hosts {
		if ctx.Err() != nil {
			results[i] = Result{Host: hosts[i], Outcome: Failed, Reason: "interrupted"}
			continue
		}
		work <- i
	}
	close(work)
	wg.Wait()
	if o.Progress != nil {
		fmt.Fprintln(o.Progress)
	}
	return results
}

// safe turns a panic for one host into that host's failure.
func safe(ctx context.Context, h Host, do func(context.Context, Host) Result) (r Result) {
	defer func() {
		if p := recover(); p != nil {
			r = Result{Host: h, Outcome: Failed, Reason: fmt.Sprint("internal error: ", p)}
		}
	}()
	return do(ctx, h)
}

func (o Options) start(ctx context.Context, h Host, restart bool) Result {
	if err := Bootstrap(h, o.Template, o.Force); err != nil {
		return Result{Host: h, Outcome: Failed, Reason: err.Error()}
	}
	if status(h) == Running {
		if !restart {
			return Result{Host: h, Outcome: AlreadyRunning}
		}
		if r := o.stop(ctx, h); r.Outcome == Failed {
			return r
		}
	}
	args := append([]string{"start", "--home", h.Home}, o.AgentArgs...)
	if out, err := o.agent(ctx, h, args...); err != nil {
		return Result{Host: h, Outcome: Failed, Reason: reason(out, err)}
	}
	return Result{Host: h, Outcome: Started}
}

func (o Options) stop(ctx context.Context, h Host) Result {
	if st := status(h); st != Running {
		return Result{Host: h, Outcome: NotRunning}
	}
	if out, err := o.agent(ctx, h, "stop", "--home", h.Home); err != nil {
		return Result{Host: h, Outcome: Failed, Reason: reason(out, err)}
	}
	return Result{Host: h, Outcome: Stopped}
}

// agent runs one control command of the agent binary for h, with the
// host's configuration directory in the environment as Ambari's tool sets
// it.
func (o Options) agent(ctx context.Context, h Host, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, o.StopTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, o.Exe, args...)
	cmd.Env = append(withoutConfDir(os.Environ()), config.ConfDirEnv+"="+h.ConfDir())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

func withoutConfDir(env []string) []string {
	out := env[:0:0]
	for _, e := range env {
		if !strings.HasPrefix(e, config.ConfDirEnv+"=") {
			out = append(out, e)
		}
	}
	return out
}

// reason is the last ERROR line of a control command's output, else its
// last line, else the exit error.
func reason(out []byte, err error) string {
	var last, lastErr string
	for _, l := range strings.Split(string(out), "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		last = l
		if strings.HasPrefix(l, "ERROR") {
			lastErr = l
		}
	}
	switch {
	case lastErr != "":
		return lastErr
	case last != "":
		return fmt.Sprintf("%s (%v)", last, err)
	}
	return err.Error()
}

// status reads h's pid file as the agent's own status command does:
// running only when the recorded process is this agent.
func status(h Host) Outcome {
	rec, err := agent.ReadPidRecord(h.PidFile())
	if errors.Is(err, fs.ErrNotExist) {
		return NotRunning
	}
	if err != nil {
		return Stale
	}
	if ok, _ := rec.Running(); ok {
		return Running
	}
	return Stale
}

// summarize prints how many hosts ended in each outcome, the hosts that
// failed with the reason (all of them with Verbose), and returns whether
// the action fully succeeded.
func (o Options) summarize(action string, results []Result) bool {
	counts := map[Outcome][]string{}
	for _, r := range results {
		counts[r.Outcome] = append(counts[r.Outcome], r.Host.Name)
	}
	fmt.Fprintf(o.Out, "Summary of %s:\nTotal agents: %d\n", action, len(results))
	for _, oc := range []Outcome{Started, AlreadyRunning, Running, Stopped, NotRunning, Stale, Failed} {
		names := counts[oc]
		if len(names) == 0 {
			continue
		}
		fmt.Fprintf(o.Out, "  %s: %d\n", oc, len(names))
		if o.Verbose && oc != Failed {
			sort.Strings(names)
			fmt.Fprintf(o.Out, "    (%s)\n", strings.Join(names, ", "))
		}
	}
	for _, r := range results {
		if r.Outcome == Failed {
			fmt.Fprintf(o.Out, "  FAILED %s: %s\n", r.Host.Name, r.Reason)
		}
	}
	if len(counts[Failed]) > 0 {
		return false
	}
	if action == "status" {
		return len(counts[Running]) == len(results)
	}
	return true
}
