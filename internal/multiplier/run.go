package multiplier

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/agent"
	"github.com/ambari-go/ambari-agent/internal/config"
	"github.com/ambari-go/ambari-agent/internal/logging"
	"github.com/ambari-go/ambari-agent/internal/pyrunner"
)

// Restart backoff of one host's agent inside `multiplier run`: the first
// restart after a failure waits about MinBackoff, each failure in a row
// doubles it up to MaxBackoff; an agent that ran stableAfter without
// failing starts again from MinBackoff.
const (
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = time.Minute
	stableAfter       = 5 * time.Minute
	// sessionCacheSize holds a few sessions per server; every agent of
	// the process talks to the same one or two.
	sessionCacheSize = 64
	// runnerCloseWait bounds closing the shared Python runner after the
	// agents stopped.
	runnerCloseWait = time.Second
)

// RunOptions drive `ambari-agent multiplier run`: every host of Conf as
// an agent of this process.
type RunOptions struct {
	Conf     Conf
	HomeRoot string
	Template Template
	// TemplateHome is the --home the template comes from ("": the
	// system's own paths); its agent directory goes on PATH.
	TemplateHome string
	// EtcHosts, Force and Parallel are as for Options (bootstrap).
	EtcHosts string
	Force    bool
	Parallel int
	// Verbose starts every agent with debug logging.
	Verbose bool
	// Log is the process's own log: hosts started, failed and restarted.
	Log *logrus.Logger
	// Logs collects every agent's log files for SIGHUP.
	Logs *agent.LogSet
	// MinBackoff and MaxBackoff bound the restart backoff (0: defaults).
	MinBackoff, MaxBackoff time.Duration
	// Extra, when set, adds a component to incarnation n (from 1) of a
	// host's agent; tests use it to make one host fail.
	Extra func(host string, n int) agent.Component
}

// HostState is one host's agent as `multiplier run` sees it.
type HostState struct {
	Host     string    `json:"host"`
	Running  bool      `json:"running"`
	Restarts int       `json:"restarts"`
	LastErr  string    `json:"lastError,omitempty"`
	Since    time.Time `json:"since"`
}

// Runner runs many agents in this process.
type Runner struct {
	o      RunOptions
	log    *logrus.Entry
	hosts  []Host
	python *pyrunner.Runner

	mu    sync.Mutex
	state map[string]*HostState
}

// NewRunner bootstraps every host's home (as start does) and loads the
// first host's configuration for what the agents share. It fails when a
// home cannot be made or the configuration cannot be read.
func NewRunner(o RunOptions) (*Runner, error) {
	if o.MinBackoff <= 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(DefaultMaxBackoff, o.MinBackoff)
	}
	if o.Parallel <= 0 {
		o.Parallel = DefaultParallel
	}
	if o.Log == nil {
		o.Log = logrus.New()
	}
	r := &Runner{o: o, log: logging.Component(o.Log, "multiplier"), hosts: o.Conf.Hosts(o.HomeRoot), state: map[string]*HostState{}}
	if o.EtcHosts != "" {
		if _, err := EditEtcHosts(o.EtcHosts, r.hosts); err != nil {
			return nil, fmt.Errorf("%w (use --no-etc-hosts to leave it alone)", err)
		}
	}
	if err := r.bootstrap(); err != nil {
		return nil, err
	}
	cfg, err := config.Load(r.hosts[0].IniFile(), r.hosts[0].Home)
	if err != nil {
		return nil, err
	}
	// Every agent's scripts get the process's environment; one entry on
	// PATH serves them all (ambari-sudo.sh), where one process per host
	// would add its own home's.
	agent.HostedPath(config.HomePath(o.TemplateHome, config.AgentRoot))
	r.python = pyrunner.New(pyrunner.Config{
		Python:  cfg.Python.Executable,
		LibDirs: cfg.Python.LibDirs,
		Scripts: cfg.Python.ResidentRunner,
		Preload: cfg.Python.PreloadModules,
		Log:     logging.Component(o.Log, "python_runner"),
	})
	for _, h := range r.hosts {
		r.state[h.Name] = &HostState{Host: h.Name}
	}
	return r, nil
}

// bootstrap makes every home, o.Parallel at a time, and fails with the
// hosts it could not make.
func (r *Runner) bootstrap() error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, r.o.Parallel)
	)
	for _, h := range r.hosts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := Bootstrap(h, r.o.Template, r.o.Force); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", h.Name, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Hosts is the number of hosts run.
func (r *Runner) Hosts() int { return len(r.hosts) }

// ConfigOf loads the first host's configuration (for process-wide
// settings such as the HTTP port and the open files limit).
func (r *Runner) ConfigOf() (*config.Config, error) {
	return config.Load(r.hosts[0].IniFile(), r.hosts[0].Home)
}

// States lists every host's state.
func (r *Runner) States() []HostState {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]HostState, 0, len(r.hosts))
	for _, h := range r.hosts {
		out = append(out, *r.state[h.Name])
	}
	return out
}

// Run runs every host's agent until ctx is done, then stops them all and
// returns once they stopped or the stop bound passed (wait), and the
// Python runner closed (at most runnerCloseWait more).
func (r *Runner) Run(ctx context.Context, wait time.Duration) {
	r.python.Warm()
	sessions := tls.NewLRUClientSessionCache(sessionCacheSize)
	var wg sync.WaitGroup
	for _, h := range r.hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.supervise(ctx, h, sessions)
		}()
	}
	r.log.Infof("Running %d agents", len(r.hosts))
	<-ctx.Done()
	r.log.Infof("Stopping %d agents", len(r.hosts))
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		r.log.Info("Every agent stopped")
	case <-time.After(wait):
		r.log.Warnf("Agents still stopping after %s; leaving them", wait)
	}
	// Close waits for a runner still starting (up to its start timeout);
	// the stop bound does not. A runner left behind ends when this
	// process does: its input closes.
	closed := make(chan error, 1)
	go func() { closed <- r.python.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			r.log.WithError(err).Warn("Closing the Python runner")
		}
	case <-time.After(runnerCloseWait):
		r.log.Warnf("The Python runner did not close within %s; leaving it", runnerCloseWait)
	}
}

// supervise runs h's agent, and runs it again after it failed (an error,
// a panic in one of its components, a restart request), with backoff, so
// that one host's failure never stops another.
func (r *Runner) supervise(ctx context.Context, h Host, sessions tls.ClientSessionCache) {
	log := r.log.WithField("host", h.Name)
	backoff := r.o.MinBackoff
	for n := 1; ; n++ {
		ho := agent.HostedOptions{Verbose: r.o.Verbose, Runner: r.python, TLSSessions: sessions, Logs: r.o.Logs}
		if r.o.Extra != nil {
			ho.Extra = r.o.Extra(h.Name, n)
		}
		started := time.Now()
		r.update(h.Name, func(s *HostState) { s.Running, s.Since = true, started })
		err := r.runOnce(ctx, h, ho)
		r.update(h.Name, func(s *HostState) {
			s.Running, s.Since = false, time.Now()
			if err != nil && ctx.Err() == nil {
				s.Restarts++
				s.LastErr = firstLine(err.Error())
			}
		})
		if ctx.Err() != nil {
			return
		}
		if time.Since(started) >= stableAfter {
			backoff = r.o.MinBackoff
		}
		delay := backoff/2 + rand.N(backoff/2+1)
		if errors.Is(err, agent.ErrRestart) {
			log.Infof("Agent asked for a restart; starting it again in %s", delay.Round(time.Millisecond))
		} else {
			log.WithError(err).Errorf("Agent stopped; starting it again in %s", delay.Round(time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		backoff = min(2*backoff, r.o.MaxBackoff)
	}
}

// runOnce loads h's configuration afresh (as a restarted process would)
// and runs its agent once; nil means it stopped because ctx ended.
func (r *Runner) runOnce(ctx context.Context, h Host, ho agent.HostedOptions) error {
	cfg, err := config.Load(h.IniFile(), h.Home)
	if err != nil {
		return err
	}
	err = agent.RunHosted(ctx, cfg, ho)
	if err == nil && ctx.Err() == nil {
		err = errors.New("agent stopped by itself")
	}
	return err
}

func (r *Runner) update(host string, f func(*HostState)) {
	r.mu.Lock()
	f(r.state[host])
	r.mu.Unlock()
}

func firstLine(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}
