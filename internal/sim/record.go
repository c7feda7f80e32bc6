package sim

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/ambari-go/ambari-agent/internal/protocol"
)

// Record is one SEND received from an agent.
type Record struct {
	// Seq numbers records in arrival order, from 1, across all hosts; a
	// client follows new records by asking for those after the last Seq it
	// saw.
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	Session string    `json:"session"`
	// Host is the session's registered host (for /register: the host
	// name in the request); "" before registration.
	Host          string `json:"host,omitempty"`
	Destination   string `json:"destination"`
	CorrelationID string `json:"correlationId,omitempty"`
	// Body is the JSON body (a body that is not JSON is kept as a JSON
	// string).
	Body json.RawMessage `json:"body"`
}

// Decode unmarshals the body, e.g. into a protocol.CommandsStatusReport.
func (r Record) Decode(v any) error { return json.Unmarshal(r.Body, v) }

// Query selects records; empty fields match everything.
type Query struct {
	Host        string `json:"host,omitempty"`
	Destination string `json:"destination,omitempty"`
	// Since returns only records with a larger Seq.
	Since uint64 `json:"since,omitempty"`
	// Limit returns at most this many (the oldest first); 0 = no limit.
	Limit int `json:"limit,omitempty"`
}

// recorder keeps the last N records per host and destination.
type recorder struct {
	mu    sync.Mutex
	seq   uint64
	limit int
	rings map[recKey]*ring
}

type recKey struct{ host, dest string }

// ring is a fixed-size circular buffer of records.
type ring struct {
	recs []Record
	next int
}

func newRecorder(limit int) *recorder {
	return &recorder{limit: limit, rings: map[recKey]*ring{}}
}

func (r *recorder) add(rec Record) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	rec.Seq = r.seq
	k := recKey{rec.Host, rec.Destination}
	rg := r.rings[k]
	if rg == nil {
		rg = &ring{}
		r.rings[k] = rg
	}
	if len(rg.recs) < r.limit {
		rg.recs = append(rg.recs, rec)
	} else {
		rg.recs[rg.next] = rec
		rg.next = (rg.next + 1) % r.limit
	}
	return r.seq
}

func (r *recorder) last() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seq
}

func (r *recorder) query(q Query) []Record {
	r.mu.Lock()
	var out []Record
	for k, rg := range r.rings {
		if (q.Host != "" && k.host != q.Host) || (q.Destination != "" && k.dest != q.Destination) {
			continue
		}
		for _, rec := range rg.recs {
			if rec.Seq > q.Since {
				out = append(out, rec)
			}
		}
	}
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out
}

// Records returns the recorded SENDs matching q, oldest first. Only the
// last RecordsPerHost records of each host and destination are kept.
func (s *Server) Records(q Query) []Record { return s.rec.query(q) }

// LastSeq is the Seq of the newest record (0 when none): pass it as
// Query.Since to see only what arrives from now on.
func (s *Server) LastSeq() uint64 { return s.rec.last() }

// WaitFor blocks until cond returns true or ctx ends. cond is evaluated
// now and after every change the simulator records (a frame handled, a
// session opened or closed, a command sent); it runs without the
// simulator's locks held and may call any accessor.
func (s *Server) WaitFor(ctx context.Context, cond func() bool) error {
	for {
		ch := s.changes()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// WaitRecord waits for the first record after q.Since that matches q and
// match (nil matches all). A SEND is recorded once it has been handled, so
// its effects (a registration, a task's status) are visible when this
// returns.
func (s *Server) WaitRecord(ctx context.Context, q Query, match func(Record) bool) (Record, error) {
	var found Record
	err := s.WaitFor(ctx, func() bool {
		recs := s.Records(Query{Host: q.Host, Destination: q.Destination, Since: q.Since})
		for _, r := range recs {
			q.Since = r.Seq
			if match == nil || match(r) {
				found = r
				return true
			}
		}
		return false
	})
	return found, err
}

// WaitHost waits until cond holds for the host's state (the host may not
// exist yet).
func (s *Server) WaitHost(ctx context.Context, name string, cond func(HostState) bool) (HostState, error) {
	var st HostState
	err := s.WaitFor(ctx, func() bool {
		var ok bool
		st, ok = s.HostState(name)
		return ok && cond(st)
	})
	return st, err
}

// WaitRegistered waits until the host has a live registered session.
func (s *Server) WaitRegistered(ctx context.Context, name string) (HostState, error) {
	return s.WaitHost(ctx, name, func(h HostState) bool { return h.Registered })
}

// WaitReady waits until the host's agent finished its cache
// synchronisation (subscribed to /user/commands), so commands flow.
func (s *Server) WaitReady(ctx context.Context, name string) (HostState, error) {
	return s.WaitHost(ctx, name, func(h HostState) bool { return h.Ready })
}

// WaitTask waits until cond holds for a task.
func (s *Server) WaitTask(ctx context.Context, id int64, cond func(TaskState) bool) (TaskState, error) {
	var t TaskState
	err := s.WaitFor(ctx, func() bool {
		var ok bool
		t, ok = s.Task(id)
		return ok && cond(t)
	})
	return t, err
}

// WaitTaskDone waits until a task ended (COMPLETED, FAILED, ABORTED or
// TIMEDOUT).
func (s *Server) WaitTaskDone(ctx context.Context, id int64) (TaskState, error) {
	return s.WaitTask(ctx, id, func(t TaskState) bool { return finalStatus(t.Status) })
}

// HostState returns a copy of what the simulator knows about a host.
func (s *Server) HostState(name string) (HostState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.m.hosts[name]
	if h == nil {
		return HostState{}, false
	}
	return s.hostState(h), true
}

// Hosts returns the state of every known host, by name.
func (s *Server) Hosts() []HostState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]HostState, 0, len(s.m.hosts))
	for _, name := range slices.Sorted(maps.Keys(s.m.hosts)) {
		out = append(out, s.hostState(s.m.hosts[name]))
	}
	return out
}

// hostState builds the copy; mu held.
func (s *Server) hostState(h *host) HostState {
	m := s.m
	o := &h.obs
	st := HostState{
		Name: h.name, HostID: h.id, Clusters: []string{}, Components: []string{},
		Registrations: o.registrations, RegisteredAt: o.registeredAt, Agent: o.agent,
		HeartbeatID: h.hbCounter, Heartbeats: o.heartbeats, LastHeartbeat: h.lastHeartbeat,
		StaleAlerts: slices.Clone(o.staleAlerts), ConfigTimestamp: h.configTS,
		ComponentStatus: map[string]ComponentState{}, Versions: maps.Clone(o.versions),
		Alerts: map[string]AlertState{}, HostStatus: o.hostStatus, HostStatusAt: o.hostStatusAt,
		QueuedMessages: len(h.queue), Reports: maps.Clone(o.reports),
		Hashes: map[string]string{
			protocol.CacheTopology:         m.topology().hash,
			protocol.CacheMetadata:         m.metadata().hash,
			protocol.CacheConfigurations:   m.hostData(h, dsConfigs).hash,
			protocol.CacheHostLevelParams:  m.hostData(h, dsHostLevelParams).hash,
			protocol.CacheAlertDefinitions: m.hostData(h, dsAlertDefinitions).hash,
		},
	}
	if o.registrations == 0 {
		st.RegisteredAt, st.LastHeartbeat = time.Time{}, time.Time{}
	}
	for _, cid := range m.memberships(h.id) {
		name := cid
		if cm := m.clusterByID[cid]; cm != nil {
			name = cm.name
		}
		st.Clusters = append(st.Clusters, name)
		for _, c := range m.componentsOn(cid, h.id) {
			st.Components = append(st.Components, c.ComponentName)
		}
	}
	for k, v := range o.components {
		st.ComponentStatus[k] = *v
	}
	for k, v := range o.alerts {
		st.Alerts[k] = *v
	}
	if st.Versions == nil {
		st.Versions = map[string]string{}
	}
	if st.Reports == nil {
		st.Reports = map[string]uint64{}
	}
	if h.outstanding != nil {
		id := h.outstanding.messageID
		st.OutstandingMessage = &id
	}
	switch {
	case h.lost:
		st.Status = HostHeartbeatLost
	case h.session != nil && h.hbCounter > 0:
		st.Status = HostHealthy
	case h.session != nil:
		st.Status = HostRegistered
	case o.registrations == 0:
		st.Status = HostNeverRegistered
	default:
		st.Status = HostDisconnected
	}
	if h.session != nil {
		st.Registered = true
		st.Session = h.session.id
		st.Ready = h.session.subscribed(protocol.UserCommands)
	}
	return st
}
