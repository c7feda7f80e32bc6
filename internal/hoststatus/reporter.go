package hoststatus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/hostinfo"
	"github.com/ambari-go/ambari-agent/internal/logging"
	"github.com/ambari-go/ambari-agent/internal/protocol"
)

// DefaultInterval is [heartbeat] state_interval_seconds' default.
const DefaultInterval = 60 * time.Second

// Source builds a host status report (*hostinfo.HostInfo). It must bound
// its own probes; a slow one only delays this reporter.
type Source interface {
	HostStatus(ctx context.Context) protocol.HostStatus
}

// Sender sends one report to the server and returns its reply, failing at
// once while the agent is not registered (heartbeat.Link.Request).
type Sender interface {
	Request(ctx context.Context, destination string, body []byte) ([]byte, error)
}

// Config holds the reporter's settings and collaborators.
type Config struct {
	Source Source
	Sender Sender
	// Registered reports whether a registered session exists
	// (heartbeat.Link.Registered); the host is not probed while it is
	// false. nil: always probe and let Sender refuse.
	Registered func() bool
	// Interval is [heartbeat] state_interval_seconds, the wait after each
	// check; <= 0 means DefaultInterval.
	Interval time.Duration
	Log      *logrus.Entry
}

// Reporter is the host status reporter.
type Reporter struct {
	cfg  Config
	log  *logrus.Entry
	kick chan struct{}

	mu sync.Mutex
	// last is the report the server acknowledged last; has is false when
	// there is none (start, or cleared by a registration).
	last protocol.HostStatus
	has  bool
	// epoch counts registrations, so that the acknowledgement of a report
	// sent before one cannot restore what the registration cleared.
	epoch uint64
}

// New builds a reporter; Run runs it.
func New(cfg Config) (*Reporter, error) {
	if cfg.Source == nil || cfg.Sender == nil {
		return nil, errors.New("hoststatus: Source and Sender are required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	log := cfg.Log
	log = logging.OrDiscard(log)
	return &Reporter{cfg: cfg, log: log, kick: make(chan struct{}, 1)}, nil
}

// Registered is called after every registration: the last report is
// forgotten and a check runs at once. It never blocks.
func (r *Reporter) Registered() {
	r.mu.Lock()
	r.has = false
	r.last = protocol.HostStatus{}
	r.epoch++
	r.mu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Run checks the host at once, then Interval after each check ends (as the
// Python agent waits after its work), and right after each registration.
func (r *Reporter) Run(ctx context.Context) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			r.log.Info("HostStatusReporter has successfully finished")
			return nil
		case <-t.C:
		case <-r.kick:
		}
		r.safeCycle(ctx)
		t.Reset(r.cfg.Interval)
	}
}

func (r *Reporter) safeCycle(ctx context.Context) {
	defer func() {
		if p := recover(); p != nil {
			r.log.WithField("panic", fmt.Sprint(p)).Error("Exception in HostStatusReporter. Re-running it")
		}
	}()
	r.cycle(ctx)
}

func (r *Reporter) cycle(ctx context.Context) {
	if r.cfg.Registered != nil && !r.cfg.Registered() {
		return
	}
	r.mu.Lock()
	epoch, last, has := r.epoch, r.last, r.has
	r.mu.Unlock()

	report := r.cfg.Source.HostStatus(ctx)
	if ctx.Err() != nil {
		return
	}
	if has && hostinfo.SameHostStatus(report, last) {
		return
	}
	body, err := json.Marshal(report)
	if err != nil {
		r.log.WithError(err).Error("Cannot encode host status report")
		return
	}
	reply, err := r.cfg.Sender.Request(ctx, protocol.ReportsHostStatus, body)
	if err != nil {
		r.log.WithError(err).Debug("Host status report not sent")
		return
	}
	if !protocol.IsOK(reply) {
		r.log.Warnf("Host status report not acknowledged: %.200s", reply)
		return
	}
	r.mu.Lock()
	if r.epoch == epoch {
		r.last, r.has = report, true
	}
	r.mu.Unlock()
}
