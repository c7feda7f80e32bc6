package alerts

import (
	"container/heap"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ambari-go/ambari-agent/internal/jitter"
)

// job is one scheduled definition, named by its uuid like the Python
// scheduler's jobs.
type job struct {
	uuid        string
	alert       *alert
	fingerprint [32]byte
	interval    time.Duration
	// next is the next scheduled run; index is the job's heap position.
	next  time.Time
	index int
	// running is set while an instance is queued or running: at most one
	// instance per job, further due runs coalesce into it.
	running atomic.Bool
	// removed drops the result of an instance still running when its
	// definition is unscheduled.
	removed atomic.Bool
}

// jobHeap orders jobs by next run time.
type jobHeap []*job

func (h jobHeap) Len() int           { return len(h) }
func (h jobHeap) Less(i, j int) bool { return h[i].next.Before(h[j].next) }
func (h jobHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *jobHeap) Push(x any) {
	j := x.(*job)
	j.index = len(*h)
	*h = append(*h, j)
}
func (h *jobHeap) Pop() any {
	old := *h
	j := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	j.index = -1
	return j
}

// scheduler owns the jobs. Only the Run goroutine touches jobs and heap;
// check instances run on their own goroutines, at most MaxWorkers at once.
type scheduler struct {
	m    *Manager
	jobs map[string]*job
	heap jobHeap
	sem  chan struct{}
	wg   sync.WaitGroup
}

func newScheduler(m *Manager) *scheduler {
	return &scheduler{m: m, jobs: map[string]*job{}, sem: make(chan struct{}, m.cfg.MaxWorkers)}
}

// fingerprint covers everything a job's behaviour depends on, so a
// definition changed without a new uuid is rescheduled too.
func fingerprint(c clusterInfo, d *Definition) [32]byte {
	h := sha256.New()
	for _, s := range []string{c.id, c.name, c.host, c.publicHost, d.Name, d.UUID, d.ComponentName, string(d.Source)} {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(d.DefinitionID))
	h.Write(n[:])
	binary.LittleEndian.PutUint64(n[:], uint64(d.intervalMinutes()))
	h.Write(n[:])
	if d.Enabled {
		h.Write([]byte{1})
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// desiredJob is a definition that should be scheduled.
type desiredJob struct {
	alert       *alert
	fingerprint [32]byte
}

// desired compiles the enabled definitions of a snapshot. Definitions that
// cannot be compiled are logged and skipped; types the server evaluates
// (SERVER, AGGREGATE, ...) are skipped silently.
func (s *scheduler) desired(snap *defSnapshot) map[string]desiredJob {
	out := map[string]desiredJob{}
	for i := range snap.clusters {
		c := &snap.clusters[i]
		ci := clusterInfo{id: c.ClusterID, name: c.ClusterName, host: c.HostName, publicHost: c.PublicHostName}
		for j := range c.Definitions {
			d := &c.Definitions[j]
			if !d.Enabled {
				continue
			}
			fp := fingerprint(ci, d)
			if old, ok := s.jobs[d.UUID]; ok && old.fingerprint == fp {
				out[d.UUID] = desiredJob{alert: old.alert, fingerprint: fp}
				continue
			}
			a, err := s.m.compileAlert(ci, *d)
			if err != nil {
				if !errors.Is(err, errUnsupportedType) {
					s.m.log.WithError(err).WithField("alert", d.Name).
						Error("[AlertScheduler] Unable to load an invalid alert definition. It will be skipped.")
				}
				continue
			}
			out[d.UUID] = desiredJob{alert: a, fingerprint: fp}
		}
	}
	return out
}

// reschedule applies a definitions change (docs/behaviour.md §9.1). CREATE replaces
// every job whose definition changed or is gone; UPDATE and DELETE
// unschedule jobs whose uuid is gone (or whose definition changed), and
// make the reporter forget what it sent. New uuids are scheduled.
//
// A job whose definition did not change keeps its schedule, and a changed
// definition (same uuid or a new one for the same definition id) is
// scheduled from its own last run, not from now. The Python agent restarts
// every job's timer on each CREATE, so definitions that change more often
// than an alert's interval keep every alert of the host from ever running.
func (s *scheduler) reschedule(snap *defSnapshot, eventType string, now time.Time) {
	want := s.desired(snap)
	removed, added := 0, 0
	// from holds, per definition, the time its replaced job last ran (or
	// was scheduled, if it never ran): the new job counts from there.
	from := map[defKey]time.Time{}
	replace := func(uuid string, j *job) {
		from[j.key()] = j.next.Add(-j.interval)
		s.unschedule(uuid, true)
		removed++
	}
	if eventType != "CREATE" && eventType != "" {
		s.m.rep.clear()
	}
	for uuid, j := range s.jobs {
		if w, ok := want[uuid]; ok && w.fingerprint == j.fingerprint {
			// Unchanged: same object (an instance still running is not
			// doubled), same timing.
			continue
		}
		replace(uuid, j)
	}
	for uuid, w := range want {
		if _, ok := s.jobs[uuid]; ok {
			continue
		}
		start, replaced := from[w.alert.key()]
		if !replaced {
			start = now
		}
		s.schedule(uuid, w, start, !replaced)
		added++
	}
	s.m.log.WithField("event", eventType).Infof("[AlertScheduler] Reschedule Summary: %d unscheduled, %d scheduled", removed, added)
}

// defKey names a definition across uuid changes.
type defKey struct {
	cluster string
	id      int64
}

func (a *alert) key() defKey { return defKey{a.cluster.id, a.def.DefinitionID} }
func (j *job) key() defKey   { return j.alert.key() }

// schedule adds a job whose first run is one interval after start (now, or
// the last run of the job it replaces; a time already past makes it due at
// once). A new job (spread) starts up to one jitter phase early, so that
// the alerts of many agents do not fire together.
func (s *scheduler) schedule(uuid string, w desiredJob, start time.Time, spread bool) {
	interval := time.Duration(w.alert.def.intervalMinutes()) * s.m.cfg.Minute
	next := start.Add(interval)
	if spread {
		next = s.firstRun(start, interval)
	}
	j := &job{uuid: uuid, alert: w.alert, fingerprint: w.fingerprint, interval: interval, next: next}
	s.jobs[uuid] = j
	heap.Push(&s.heap, j)
	s.m.log.WithField("alert", w.alert.def.Name).Debugf("[AlertScheduler] Scheduling %s with UUID %s", w.alert.def.Name, uuid)
}

// firstRun is when a job scheduled now first runs: one interval from now,
// less the jitter phase, which spans at most one alert minute (spread
// enough for many agents, and a long interval stays long).
func (s *scheduler) firstRun(now time.Time, interval time.Duration) time.Time {
	return now.Add(interval - jitter.Phase(s.m.cfg.Jitter, min(interval, s.m.cfg.Minute)))
}

// unschedule removes a job; dropResults also discards its unsent result
// (kept when the same uuid is scheduled again right away).
func (s *scheduler) unschedule(uuid string, dropResults bool) {
	j, ok := s.jobs[uuid]
	if !ok {
		return
	}
	delete(s.jobs, uuid)
	if j.index >= 0 {
		heap.Remove(&s.heap, j.index)
	}
	if dropResults {
		j.removed.Store(true)
		s.m.collector.dropUUID(uuid)
	}
}

// nextDue returns the earliest scheduled time, ok false with no jobs.
func (s *scheduler) nextDue() (time.Time, bool) {
	if len(s.heap) == 0 {
		return time.Time{}, false
	}
	return s.heap[0].next, true
}

// dispatchDue starts every job whose time has come. A job that fell more
// than one interval behind (the machine slept, the clock jumped) runs once
// and continues on its grid: missed runs coalesce.
func (s *scheduler) dispatchDue(ctx context.Context, now time.Time) {
	for len(s.heap) > 0 && !s.heap[0].next.After(now) {
		j := s.heap[0]
		scheduled := j.next
		j.next = j.next.Add(j.interval)
		if !j.next.After(now) {
			behind := now.Sub(j.next)/j.interval + 1
			j.next = j.next.Add(behind * j.interval)
		}
		heap.Fix(&s.heap, 0)
		s.launch(ctx, j, scheduled)
	}
}

// launch starts one instance of j unless one is still queued or running.
// The instance waits for a worker slot; if it gets one later than the grace
// period after its scheduled time, the run is skipped as missed.
func (s *scheduler) launch(ctx context.Context, j *job, scheduled time.Time) {
	if !j.running.CompareAndSwap(false, true) {
		s.m.log.WithField("alert", j.alert.def.Name).
			Debugf("Execution of job %s skipped: maximum number of running instances reached (1)", j.alert.def.Name)
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer j.running.Store(false)
		defer func() {
			if p := recover(); p != nil {
				s.m.log.WithField("alert", j.alert.def.Name).Errorf("Job %s raised an exception: %v", j.alert.def.Name, p)
			}
		}()
		select {
		case s.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		defer func() { <-s.sem }()
		if late := time.Since(scheduled); late > s.m.cfg.GracePeriod {
			s.m.log.WithField("alert", j.alert.def.Name).
				Warnf("Run time of job %s was missed by %s", j.alert.def.Name, late.Round(time.Millisecond))
			return
		}
		var end func()
		if live := s.m.cfg.Liveness; live != nil {
			// A run ends by its timeout (a script's) or its own network
			// timeouts, well within two intervals.
			end = live.BeginFor("alert "+j.alert.def.Name, 2*j.interval+s.m.cfg.ScriptTimeout)
		}
		res := s.m.evaluate(ctx, j.alert)
		if end != nil {
			end()
		}
		if ctx.Err() != nil || j.removed.Load() {
			return
		}
		if s.m.cfg.Observe != nil {
			s.m.cfg.Observe(j.alert.def.Name, res.State)
		}
		s.m.collector.put(res)
		s.m.stale.ran(res)
		if s.m.onResult != nil {
			s.m.onResult(res)
		}
	}()
}
