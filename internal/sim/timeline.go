package sim

import (
	"cmp"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/ambari-go/ambari-agent/internal/protocol"
)

// timeline runs the scenario's steps. Guarded by Server.mu.
type timeline struct {
	steps   []Step
	fired   map[runKey]bool
	runs    map[runKey]*stepRun
	taskRun map[int64]*stepRun
	timers  map[*time.Timer]struct{}
	stopped bool
}

// runKey is one firing of a step: per host for host actions, host "" for
// the others.
type runKey struct {
	step int
	host string
}

// stepRun tracks the tasks a step sent to a host.
type stepRun struct {
	key     runKey
	pending map[int64]bool
	failed  bool
}

func newTimeline(steps []Step) *timeline {
	return &timeline{
		steps:   steps,
		fired:   map[runKey]bool{},
		runs:    map[runKey]*stepRun{},
		taskRun: map[int64]*stepRun{},
		timers:  map[*time.Timer]struct{}{},
	}
}

// perHost says whether the step acts on hosts (and so fires per host).
func (st *Step) perHost() bool {
	return st.Command != nil || len(st.Commands) > 0 || st.RestartAgent ||
		(st.Push != nil && st.Push.Host == "" && strings.HasPrefix(st.Push.Topic, "/user/"))
}

func (st *Step) matches(hostName string) bool {
	ok, _ := path.Match(cmp.Or(st.Host, "*"), hostName)
	return ok
}

func (st *Step) name(i int) string {
	if st.ID != "" {
		return st.ID
	}
	return fmt.Sprintf("#%d", i+1)
}

// fireStart runs the "start" steps, once per matching scenario host for
// host actions.
func (s *Server) fireStart() {
	s.mu.Lock()
	var after []func()
	for i, st := range s.tl.steps {
		if st.After != AfterStart {
			continue
		}
		if !st.perHost() {
			after = append(after, s.schedule(i, "")...)
			continue
		}
		for _, name := range slices.Sorted(maps.Keys(s.m.hosts)) {
			if st.matches(name) {
				after = append(after, s.schedule(i, name)...)
			}
		}
	}
	s.mu.Unlock()
	runAll(after)
}

// fireRegistered runs the "registered" steps for a host.
func (s *Server) fireRegistered(hostName string) {
	s.mu.Lock()
	var after []func()
	for i, st := range s.tl.steps {
		if st.After == AfterRegistered && st.matches(hostName) {
			after = append(after, s.schedule(i, hostName)...)
		}
	}
	s.mu.Unlock()
	runAll(after)
}

// schedule arranges for step i to run for a host, at once (returned, to be
// run after the lock is released) or after its delay; mu held.
func (s *Server) schedule(i int, hostName string) []func() {
	tl := s.tl
	st := &tl.steps[i]
	key := runKey{i, hostName}
	if tl.stopped || (!st.Repeat && tl.fired[key]) {
		return nil
	}
	tl.fired[key] = true
	run := func() { s.execStep(i, hostName) }
	if st.Delay <= 0 {
		return []func(){run}
	}
	var t *time.Timer
	t = time.AfterFunc(time.Duration(st.Delay), func() {
		s.mu.Lock()
		_, live := tl.timers[t]
		delete(tl.timers, t)
		s.mu.Unlock()
		if live {
			run()
		}
	})
	tl.timers[t] = struct{}{}
	return nil
}

// execStep performs a step's action; no lock held.
func (s *Server) execStep(i int, hostName string) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	st := s.tl.steps[i]
	s.mu.Unlock()
	log := s.log.WithField("step", st.name(i))
	on := ""
	if hostName != "" {
		log = log.WithField("host", hostName)
		on = " on " + hostName
	}
	if st.Message != "" {
		log.Info(strings.NewReplacer("{host}", hostName, "{api}", s.APIURL()).Replace(st.Message))
	}
	var err error
	switch {
	case st.Command != nil || len(st.Commands) > 0:
		s.mu.Lock()
		var sent Sent
		sent, err = s.sendCommand(hostName, st.commandSpecs(), st.ID)
		if err == nil {
			run := &stepRun{key: runKey{i, hostName}, pending: map[int64]bool{}}
			for _, id := range sent.TaskIDs {
				run.pending[id] = true
				s.tl.taskRun[id] = run
			}
			s.tl.runs[run.key] = run
		}
		s.mu.Unlock()
		s.notify()
		if err == nil {
			log.Infof("timeline step %s%s: request %d, task(s) %v", st.name(i), on, sent.RequestID, sent.TaskIDs)
			return // completion comes with the tasks' reports
		}
	case st.Push != nil:
		p := *st.Push
		if p.Host == "" && strings.HasPrefix(p.Topic, "/user/") {
			p.Host = hostName
		}
		_, err = s.Push(p)
	case st.Configs != nil:
		_, err = s.UpdateConfigs(*st.Configs)
	case st.RestartAgent:
		err = s.RestartAgent(hostName)
	}
	if err != nil {
		log.WithError(err).Errorf("timeline step %s%s failed", st.name(i), on)
	}
	s.mu.Lock()
	after := s.stepDone(runKey{i, hostName}, err != nil)
	s.mu.Unlock()
	runAll(after)
	s.notify()
}

// taskEnded notes a task's end and, when it was the last of its step run,
// fires the dependent steps; mu held.
func (tl *timeline) taskEnded(s *Server, t *TaskState) []func() {
	run := tl.taskRun[t.TaskID]
	if run == nil {
		return nil
	}
	delete(tl.taskRun, t.TaskID)
	delete(run.pending, t.TaskID)
	if t.Status != protocol.StatusCompleted {
		run.failed = true
	}
	if len(run.pending) > 0 {
		return nil
	}
	delete(tl.runs, run.key)
	return s.stepDone(run.key, run.failed)
}

// stepDone fires the steps waiting for step key.step on key.host; mu held.
func (s *Server) stepDone(key runKey, failed bool) []func() {
	tl := s.tl
	id := tl.steps[key.step].ID
	if id == "" {
		return nil
	}
	var after []func()
	for j, st := range tl.steps {
		on, cond := splitAfter(st.After)
		if on != id {
			continue
		}
		if cond == condDone || (cond == condCompleted && !failed) || (cond == condFailed && failed) {
			if key.host == "" || st.matches(key.host) {
				after = append(after, s.schedule(j, key.host)...)
			}
		}
	}
	return after
}

// stopTimers cancels pending delayed steps; mu held.
func (tl *timeline) stopTimers() {
	tl.stopped = true
	for t := range tl.timers {
		t.Stop()
	}
	clear(tl.timers)
}
