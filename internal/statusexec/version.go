package statusexec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/cache"
	"github.com/ambari-go/ambari-agent/internal/logging"
	"github.com/ambari-go/ambari-agent/internal/protocol"
)

// VersionConfig holds the version reporter's settings and collaborators.
type VersionConfig struct {
	// HostName, Caches, Runner and Sender as in Config.
	HostName string
	Caches   *cache.Store
	Runner   StatusRunner
	Sender   Sender
	// Concurrency bounds the GET_VERSION scripts running at once; <= 0
	// means DefaultConcurrency.
	Concurrency int
	Log         *logrus.Entry
}

// VersionReporter runs GET_VERSION for every component on this host after
// each registration and sends /reports/component_version (docs/behaviour.md §7.5).
type VersionReporter struct {
	cfg   VersionConfig
	log   *logrus.Entry
	regCh chan struct{}
}

// NewVersionReporter builds a version reporter; Run runs it.
func NewVersionReporter(cfg VersionConfig) (*VersionReporter, error) {
	if cfg.Caches == nil || cfg.Runner == nil || cfg.Sender == nil {
		return nil, errors.New("statusexec: version reporter needs Caches, Runner and Sender")
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	return &VersionReporter{cfg: cfg, log: logging.OrDiscard(cfg.Log), regCh: make(chan struct{}, 1)}, nil
}

// Registered is called after every registration; it never blocks.
func (v *VersionReporter) Registered() {
	select {
	case v.regCh <- struct{}{}:
	default:
	}
}

// Run starts a report after every registration until ctx is done. A newer
// registration cancels a report still running: its checks not yet started
// never start, the running ones are killed by the orchestrator, and it
// sends nothing; the new report covers the new session. The new report starts once the old
// one has let go of its checks, so the runner never has more than
// Concurrency of them at once.
func (v *VersionReporter) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	var stopCurrent context.CancelFunc
	defer func() {
		if stopCurrent != nil {
			stopCurrent()
		}
		wg.Wait()
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-v.regCh:
			if stopCurrent != nil {
				stopCurrent()
			}
			wg.Wait()
			rctx, cancel := context.WithCancel(ctx)
			stopCurrent = cancel
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					if r := recover(); r != nil {
						v.log.WithField("panic", fmt.Sprint(r)).Error("Exception in ComponentVersionReporter")
					}
				}()
				v.report(rctx)
			}()
		}
	}
}

type versionTarget struct {
	compKey
	version string
	ok      bool
}

// report runs one round of GET_VERSION and sends what succeeded.
func (v *VersionReporter) report(ctx context.Context) {
	var targets []versionTarget
	topo := v.cfg.Caches.Topology().Snapshot()
	for _, id := range topo.ClusterIDs() {
		tc := topo.Cluster(id)
		hostID, ok := tc.HostID(v.cfg.HostName)
		if !ok {
			continue
		}
		for _, c := range tc.ComponentsOnHost(hostID) {
			targets = append(targets, versionTarget{compKey: compKey{id, c.ServiceName, c.ComponentName}})
		}
	}
	if len(targets) == 0 {
		return
	}

	sem := make(chan struct{}, v.cfg.Concurrency)
	var wg sync.WaitGroup
dispatch:
	for i := range targets {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			break dispatch
		}
		t := &targets[i]
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			t.version, t.ok = v.version(ctx, t.compKey)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return
	}

	report := protocol.ComponentVersionReport{Clusters: map[string][]protocol.ComponentVersion{}}
	for _, t := range targets {
		if t.ok {
			report.Clusters[t.cluster] = append(report.Clusters[t.cluster], protocol.ComponentVersion{
				ServiceName: t.service, ComponentName: t.component, Version: t.version, ClusterID: t.cluster,
			})
		}
	}
	if len(report.Clusters) == 0 {
		return
	}
	body, err := json.Marshal(report)
	if err != nil {
		v.log.WithError(err).Error("Cannot encode component version report")
		return
	}
	// No acknowledgement is awaited beyond the reply: the report is
	// repeated after the next registration anyway.
	if _, err := v.cfg.Sender.Request(ctx, protocol.ReportsComponentVersion, body); err != nil {
		v.log.WithError(err).Debug("Component version report not sent")
	}
}

// version runs GET_VERSION for one component; ok only for exit code 0 with
// a version in the structured output.
func (v *VersionReporter) version(ctx context.Context, c compKey) (version string, ok bool) {
	log := v.log.WithFields(logrus.Fields{"cluster": c.cluster, "service": c.service, "componentName": c.component})
	defer func() {
		if r := recover(); r != nil {
			log.WithField("panic", fmt.Sprint(r)).Error("GET_VERSION check panicked")
			ok = false
		}
	}()
	code, _, out, err := v.cfg.Runner.RunStatus(ctx, c.cluster, c.service, c.component, CommandGetVersion)
	if err != nil {
		if ctx.Err() == nil {
			log.WithError(err).Warn("GET_VERSION gave no result")
		}
		return "", false
	}
	if code == 0 {
		if version, ok = versionString(out["version"]); ok {
			return version, true
		}
	}
	log.WithField("exitCode", code).Warn("Could not get version for component")
	return "", false
}

// versionString accepts what a script may write as structuredOut.version:
// a string, or a number, sent as its JSON text. Anything else (null, an
// object) is treated as no version. The Python agent would forward any
// value; the server reads a string.
func versionString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case float64, int, int64:
		b, err := json.Marshal(x)
		return string(b), err == nil
	}
	return "", false
}
