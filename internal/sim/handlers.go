package sim

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/protocol"
)

// handleSend answers a SEND the way the server's controllers do
// (docs/protocol.md §3.3) and records it. The record is added when the SEND has been
// handled, just before its reply is queued: whoever sees the record sees
// its effects, and whoever got the reply finds the record.
func (s *Server) handleSend(sess *session, f *frame.Frame) {
	dest := f.Header.Get(frame.Destination)
	rec := Record{
		Time: time.Now(), Session: sess.id, Destination: dest,
		CorrelationID: f.Header.Get(protocol.HeaderCorrelationID), Body: jsonBody(f.Body),
	}
	s.mu.Lock()
	if sess.host != nil {
		rec.Host = sess.host.name
	}
	if dest == protocol.Register {
		rec.Host = registeringHost(f.Body)
	}
	fault := s.replyFault(dest, rec.Host)
	s.mu.Unlock()
	s.metrics.sends.Add(1)
	sess.pending = &rec

	var after []func()
	switch {
	case fault == faultDrop:
		sess.log.WithField("host", rec.Host).Warnf("fault: no reply to %s", dest)
	case fault == faultError:
		sess.log.WithField("host", rec.Host).Warnf("fault: error reply to %s", dest)
		s.mu.Lock()
		sess.reply(f, errorReply("Simulated failure (fault injection)"))
		s.mu.Unlock()
	case dest == protocol.Register:
		after = s.handleRegister(sess, f)
	case dest == protocol.Heartbeat:
		s.handleHeartbeat(sess, f)
	case cacheNames[dest] != "":
		s.handleCacheRequest(sess, f, dest)
	case reportDestinations[dest]:
		after = s.handleReport(sess, f, dest)
	default:
		// No controller handles it: the server sends nothing and the
		// agent's request times out.
		sess.log.Warnf("SEND to unknown destination %q: not answered", dest)
	}
	sess.flushRecord() // not answered
	runAll(after)
	s.notify()
}

var reportDestinations = map[string]bool{
	protocol.ReportsCommandsStatus: true, protocol.ReportsComponentStatus: true, protocol.ReportsComponentVersion: true,
	protocol.ReportsHostStatus: true, protocol.ReportsAlertsStatus: true, protocol.ReportsResponses: true,
}

// registeringHost reads the host name of a /register body for the record.
func registeringHost(body []byte) string {
	var r struct {
		Hostname string `json:"hostname"`
	}
	_ = json.Unmarshal(body, &r)
	return r.Hostname
}

// jsonBody keeps a body as JSON for the record; a body that is not JSON is
// kept as a JSON string.
func jsonBody(b []byte) json.RawMessage {
	if json.Valid(b) {
		return b
	}
	q, _ := json.Marshal(string(b))
	return q
}

// errorReply is the shape of the server's error wrapper for a handler
// exception: no status, no id, so the agent's request fails.
func errorReply(msg string) []byte {
	var id [16]byte
	_, _ = rand.Read(id[:])
	b, _ := json.Marshal(map[string]any{
		"payload": map[string]any{
			"message": msg, "localizedMessage": msg,
			"stackTrace": []any{}, "cause": nil, "suppressed": []any{},
		},
		"headers":         map[string]any{"id": hex.EncodeToString(id[:]), "timestamp": time.Now().UnixMilli()},
		"originalMessage": nil,
	})
	return b
}

var statusOK = []byte(`{"status":"OK"}`)

// --- /register ----------------------------------------------------------

// registerBody is the part of the registration the simulator uses. It is
// decoded loosely (extra and missing fields are fine), as the server's
// Jackson setup does.
type registerBody struct {
	Hostname        string          `json:"hostname"`
	PublicHostname  string          `json:"publicHostname"`
	AgentVersion    string          `json:"agentVersion"`
	Prefix          string          `json:"prefix"`
	CurrentPingPort json.Number     `json:"currentPingPort"`
	AgentStartTime  json.Number     `json:"agentStartTime"`
	HardwareProfile json.RawMessage `json:"hardwareProfile"`
}

func (s *Server) handleRegister(sess *session, f *frame.Frame) []func() {
	var req registerBody
	if err := json.Unmarshal(f.Body, &req); err != nil || req.Hostname == "" {
		s.mu.Lock()
		sess.reply(f, registrationFailure("Invalid registration request: no hostname"))
		s.mu.Unlock()
		sess.log.Warn("registration without a host name refused")
		return nil
	}
	var hw struct {
		IPAddress              string `json:"ipaddress"`
		OperatingSystem        string `json:"operatingsystem"`
		OperatingSystemRelease string `json:"operatingsystemrelease"`
	}
	_ = json.Unmarshal(req.HardwareProfile, &hw)
	name := req.Hostname
	log := sess.log.WithField("host", name)

	s.mu.Lock()
	if msg := s.refuseRegistration(&req); msg != "" {
		sess.reply(f, registrationFailure(msg))
		s.mu.Unlock()
		log.Warnf("registration of %s refused: %s", name, msg)
		return nil
	}
	m := s.m
	h := m.hosts[name]
	var joined *protocol.TopologyCluster
	var joinedCluster *clusterModel
	if h == nil {
		h = m.addHost(name, m.hostIDFor(name))
	}
	if !h.fixedIPv4 && hw.IPAddress != "" {
		h.ipv4 = hw.IPAddress
	}
	if s.cfg.Scenario.Options.JoinUnknownHosts && len(m.memberships(h.id)) == 0 {
		joinedCluster, joined = s.join(h)
	}
	if old := h.session; old != nil && old != sess {
		old.host = nil // the server forgets the previous session of the host
	}
	if sess.host != nil && sess.host != h && sess.host.session == sess {
		sess.host.session = nil // a session re-registering under another name
	}
	sess.host = h
	h.session = sess
	h.hbCounter, h.hbValid, h.lost = 0, true, false
	h.lastHeartbeat = time.Now()
	o := &h.obs
	o.registrations++
	o.registeredAt = time.Now()
	pingPort, _ := strconv.Atoi(req.CurrentPingPort.String())
	startTime, _ := req.AgentStartTime.Int64()
	o.agent = AgentInfo{
		Version: req.AgentVersion, PublicHostname: req.PublicHostname, Prefix: req.Prefix,
		PingPort: pingPort, IPAddress: hw.IPAddress, OperatingSystem: hw.OperatingSystem,
		OSRelease: hw.OperatingSystemRelease, StartTime: startTime,
	}
	id := int64(0)
	b, _ := json.Marshal(protocol.RegisterResponse{Status: protocol.StatusOK, ExitStatus: 0, ID: &id})
	sess.reply(f, b)

	if joined != nil {
		s.queueJoin(joinedCluster.id, joined)
	}
	if s.cfg.Scenario.Options.BroadcastEncryptionKey && m.encryptionKey != "" {
		body, _ := json.Marshal(protocol.EncryptionKeyEvent{EncryptionKey: m.encryptionKey})
		s.broadcast(protocol.EventsEncryptionKey, body)
	}
	s.metrics.registrations.Add(1)
	regs := o.registrations
	s.mu.Unlock()

	msg := fmt.Sprintf("%s registered (session %s, host id %d, agent %s", name, sess.id, h.id, orDash(req.AgentVersion))
	if regs > 1 {
		msg += fmt.Sprintf(", registration #%d", regs)
	}
	msg += ")"
	if joined != nil {
		comps := make([]string, 0, len(joined.Components))
		for _, c := range joined.Components {
			comps = append(comps, c.ComponentName)
		}
		msg += fmt.Sprintf("; joined cluster %s with %s", joinedCluster.name, orDash(strings.Join(comps, ", ")))
	}
	log.Info(msg)
	return []func(){func() { s.fireRegistered(name) }}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func registrationFailure(msg string) []byte {
	id := int64(-1)
	b, _ := json.Marshal(protocol.RegisterResponse{Status: protocol.StatusOK, ExitStatus: 1, Log: msg, ID: &id})
	return b
}

// refuseRegistration applies the registration fault and the version check;
// mu held.
func (s *Server) refuseRegistration(req *registerBody) string {
	if f := &s.faults; f.RegistrationFailure != 0 && f.appliesTo(req.Hostname) {
		if f.RegistrationFailure > 0 {
			f.RegistrationFailure--
		}
		if f.RegistrationFailureLog != "" {
			return f.RegistrationFailureLog
		}
		return "Registration refused by the simulator (fault injection), hostname=" + req.Hostname
	}
	if want := s.cfg.Scenario.Options.ServerVersion; want != "" && !sameVersion(req.AgentVersion, want) {
		return fmt.Sprintf("Cannot register host with non compatible agent version, hostname=%s, agentVersion=%s, serverVersion=%s",
			req.Hostname, req.AgentVersion, want)
	}
	return ""
}

// sameVersion compares versions as the server does: the first four numeric
// components after dropping any "-suffix".
func sameVersion(a, b string) bool {
	norm := func(v string) [4]int {
		v, _, _ = strings.Cut(v, "-")
		var out [4]int
		for i, p := range strings.SplitN(v, ".", 5) {
			if i == 4 {
				break
			}
			out[i], _ = strconv.Atoi(p)
		}
		return out
	}
	return norm(a) == norm(b)
}

// join places an unknown host in the join template's cluster; mu held.
func (s *Server) join(h *host) (*clusterModel, *protocol.TopologyCluster) {
	m := s.m
	t := s.cfg.Scenario.Options.JoinTemplate
	cm := m.clusters[0]
	var comps []string
	if t != nil {
		if t.Cluster != "" {
			cm = m.clusterByName[t.Cluster]
		}
		comps = t.Components
		if h.rack == "" {
			h.rack = t.Rack
		}
	}
	if m.topo[cm.id] == nil {
		m.topo[cm.id] = wholeCluster(nil) // deleted by a push; joining recreates it
	}
	return cm, m.placeHost(cm, h, comps)
}

// --- /heartbeat ---------------------------------------------------------

func (s *Server) handleHeartbeat(sess *session, f *frame.Frame) {
	var req protocol.HeartbeatRequest
	parseErr := json.Unmarshal(f.Body, &req)
	s.metrics.heartbeats.Add(1)

	s.mu.Lock()
	h := sess.host
	if h == nil || h.session != sess || !h.hbValid {
		sess.reply(f, heartbeatReply(0, false))
		s.mu.Unlock()
		sess.log.Warn("heartbeat from an unregistered session: answered id 0 (the agent restarts)")
		return
	}
	log := sess.log.WithField("host", h.name)
	if parseErr != nil {
		sess.reply(f, errorReply("Invalid heartbeat: "+parseErr.Error()))
		s.mu.Unlock()
		log.Warnf("invalid heartbeat body: %v", parseErr)
		return
	}
	now := time.Now()
	if h.hbCounter > 0 { // not the first of its session
		s.metrics.lateness.observe(now.Sub(h.lastHeartbeat) - agentHeartbeatInterval)
	}
	h.lastHeartbeat = now
	h.obs.heartbeats++
	h.obs.staleAlerts = req.StaleAlerts
	if fl := &s.faults; fl.HeartbeatIDZero != 0 && fl.appliesTo(h.name) {
		if fl.HeartbeatIDZero > 0 {
			fl.HeartbeatIDZero--
		}
		sess.reply(f, heartbeatReply(0, false))
		s.mu.Unlock()
		log.Warnf("fault: heartbeat %d of %s answered with id 0", req.ID, h.name)
		return
	}
	c := h.hbCounter
	switch {
	case req.ID == c-1:
		// Our previous reply was lost: send it again.
		sess.reply(f, heartbeatReply(c, false))
		s.mu.Unlock()
		log.Infof("%s repeated heartbeat %d: previous reply (id %d) sent again", h.name, req.ID, c)
	case req.ID != c:
		sess.reply(f, heartbeatReply(c, true))
		s.mu.Unlock()
		log.Warnf("%s heartbeat id %d out of sequence (expected %d): restartAgent", h.name, req.ID, c)
	case h.lost:
		sess.deliver(protocol.UserAgentActions, mustJSON(protocol.AgentAction{ActionName: protocol.ActionRestartAgent}))
		sess.reply(f, heartbeatReply(0, false))
		s.mu.Unlock()
		log.Warnf("%s was HEARTBEAT_LOST: sent RESTART_AGENT", h.name)
	default:
		h.hbCounter++
		sess.inQueue = false
		sess.reply(f, heartbeatReply(h.hbCounter, false))
		n := h.hbCounter
		s.mu.Unlock()
		if n == 1 || n%int64(s.cfg.HeartbeatLogEvery) == 0 {
			log.Infof("%s heartbeat %d", h.name, n)
		} else {
			log.Debugf("%s heartbeat %d", h.name, n)
		}
		if len(req.StaleAlerts) > 0 {
			log.Infof("%s reports %d stale alert(s)", h.name, len(req.StaleAlerts))
		}
	}
}

func heartbeatReply(id int64, restart bool) []byte {
	b, _ := json.Marshal(protocol.HeartbeatResponse{Status: protocol.StatusOK, ID: &id, RestartAgent: restart})
	return b
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("sim: encode %T: %v", v, err))
	}
	return b
}

// --- cache requests -------------------------------------------------------

// cacheNames maps request destinations to cache names, for logs and
// HostState.Hashes.
var cacheNames = map[string]string{
	protocol.AgentsTopologies:       protocol.CacheTopology,
	protocol.AgentsMetadata:         protocol.CacheMetadata,
	protocol.AgentsConfigs:          protocol.CacheConfigurations,
	protocol.AgentsHostLevelParams:  protocol.CacheHostLevelParams,
	protocol.AgentsAlertDefinitions: protocol.CacheAlertDefinitions,
}

func (s *Server) handleCacheRequest(sess *session, f *frame.Frame, dest string) {
	var req protocol.HashRequest
	if err := json.Unmarshal(f.Body, &req); err != nil {
		s.mu.Lock()
		sess.reply(f, errorReply("Invalid request: "+err.Error()))
		s.mu.Unlock()
		sess.log.Warnf("invalid %s request: %v", dest, err)
		return
	}
	name := cacheNames[dest]
	s.mu.Lock()
	h := sess.host
	if h != nil && h.session != sess {
		h = nil
	}
	who := "session " + sess.id
	if h != nil {
		who = h.name
	}
	var body []byte
	hit := false
	switch dest {
	case protocol.AgentsTopologies, protocol.AgentsMetadata:
		// The server answers these without looking the session up.
		snap := s.m.topology()
		if dest == protocol.AgentsMetadata {
			snap = s.m.metadata()
		}
		if hit = req.Hash != nil && *req.Hash == snap.hash; hit {
			body = []byte("{}")
		} else {
			body = mustJSON(cacheEvent{EventType: protocol.EventCreate, Hash: snap.hash, Clusters: snap.clusters})
		}
	default:
		if h == nil {
			sess.reply(f, errorReply("HostNotRegisteredException: session "+sess.id+" is not registered"))
			s.mu.Unlock()
			sess.log.Warnf("%s request from an unregistered session: error reply", dest)
			return
		}
		ds := dsConfigs
		switch dest {
		case protocol.AgentsHostLevelParams:
			ds = dsHostLevelParams
		case protocol.AgentsAlertDefinitions:
			ds = dsAlertDefinitions
		}
		snap := s.m.hostData(h, ds)
		hit = req.Hash != nil && *req.Hash == snap.hash
		switch {
		case ds == dsConfigs && hit:
			body = mustJSON(struct {
				Timestamp int64 `json:"timestamp"`
			}{h.configTS})
		case ds == dsConfigs:
			body = mustJSON(configsEvent{Timestamp: h.configTS, Hash: snap.hash, Clusters: snap.clusters})
		case hit:
			body = []byte("{}")
		case ds == dsHostLevelParams:
			body = mustJSON(cacheEvent{Hash: snap.hash, Clusters: snap.clusters})
		default:
			body = mustJSON(cacheEvent{EventType: protocol.EventCreate, HostName: h.name, Hash: snap.hash, Clusters: snap.clusters})
		}
	}
	sess.reply(f, body)
	s.mu.Unlock()
	if hit {
		s.metrics.cacheHits.Add(1)
		sess.log.WithField("host", who).Infof("%s %s: hash matches, sent unchanged", who, name)
	} else {
		s.metrics.cacheMisses.Add(1)
		sess.log.WithField("host", who).Infof("%s %s: hash %s, sent full snapshot (%d bytes)", who, name, describeHash(req.Hash), len(body))
	}
}

func describeHash(h *string) string {
	if h == nil {
		return "null"
	}
	return "differs"
}

// cacheEvent is a snapshot reply or push of topology, metadata,
// host-level params or alert definitions, around pre-encoded clusters.
type cacheEvent struct {
	EventType string          `json:"eventType,omitempty"`
	HostName  string          `json:"hostName,omitempty"`
	Hash      string          `json:"hash"`
	Clusters  json.RawMessage `json:"clusters"`
}

type configsEvent struct {
	Timestamp int64           `json:"timestamp"`
	Hash      string          `json:"hash"`
	Clusters  json.RawMessage `json:"clusters"`
}

// --- reports ----------------------------------------------------------------

func (s *Server) handleReport(sess *session, f *frame.Frame, dest string) []func() {
	s.mu.Lock()
	h := sess.host
	if h == nil || h.session != sess {
		sess.reply(f, errorReply("HostNotRegisteredException: session "+sess.id+" is not registered"))
		s.mu.Unlock()
		sess.log.Warnf("%s from an unregistered session: error reply", dest)
		return nil
	}
	log := sess.log.WithField("host", h.name)
	if h.obs.reports == nil {
		h.obs.reports = map[string]uint64{}
	}
	h.obs.reports[dest]++
	var (
		err   error
		after []func()
		lines []logLine
	)
	switch dest {
	case protocol.ReportsCommandsStatus:
		after, lines, err = s.commandReports(h, f.Body)
	case protocol.ReportsComponentStatus:
		lines, err = componentStatuses(h, f.Body)
	case protocol.ReportsComponentVersion:
		lines, err = componentVersions(h, f.Body)
	case protocol.ReportsAlertsStatus:
		lines, err = alertResults(h, f.Body)
	case protocol.ReportsHostStatus:
		if err = json.Unmarshal(f.Body, new(map[string]any)); err == nil {
			first := h.obs.hostStatus == nil
			h.obs.hostStatus, h.obs.hostStatusAt = f.Body, time.Now()
			if first {
				lines = append(lines, logLine{logrus.InfoLevel, h.name + " sent its first host status"})
			}
		}
	case protocol.ReportsResponses:
		lines, err = s.messageAck(h, f.Body)
	}
	if err != nil {
		sess.reply(f, errorReply(fmt.Sprintf("Invalid report on %s: %v", dest, err)))
	} else {
		sess.reply(f, statusOK)
	}
	s.metrics.reports.Add(1)
	s.mu.Unlock()
	if err != nil {
		log.Warnf("invalid %s report from %s: %v", dest, h.name, err)
	}
	for _, l := range lines {
		log.Log(l.level, l.msg)
	}
	return after
}

// logLine is a log message decided under the lock and written after it.
type logLine struct {
	level logrus.Level
	msg   string
}

func componentStatuses(h *host, body []byte) ([]logLine, error) {
	var r protocol.ComponentStatusReport
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, err
	}
	if h.obs.components == nil {
		h.obs.components = map[string]*ComponentState{}
	}
	var lines []logLine
	now := time.Now()
	for cid, list := range r.Clusters {
		for _, c := range list {
			status := ""
			if c.Status != nil {
				status = *c.Status
			}
			old := h.obs.components[c.ComponentName]
			if old == nil {
				old = &ComponentState{Since: now}
				h.obs.components[c.ComponentName] = old
				lines = append(lines, logLine{logrus.InfoLevel, fmt.Sprintf("%s %s is %s", h.name, c.ComponentName, orDash(status))})
			} else if old.Status != status {
				old.Since = now
				lines = append(lines, logLine{logrus.InfoLevel, fmt.Sprintf("%s %s: %s -> %s", h.name, c.ComponentName, orDash(old.Status), orDash(status))})
			}
			old.ClusterID, old.Service, old.Status, old.Updated = cid, c.ServiceName, status, now
		}
	}
	return lines, nil
}

func componentVersions(h *host, body []byte) ([]logLine, error) {
	var r protocol.ComponentVersionReport
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, err
	}
	if h.obs.versions == nil {
		h.obs.versions = map[string]string{}
	}
	var lines []logLine
	for _, list := range r.Clusters {
		for _, v := range list {
			if h.obs.versions[v.ComponentName] != v.Version {
				lines = append(lines, logLine{logrus.InfoLevel, fmt.Sprintf("%s %s version %s", h.name, v.ComponentName, v.Version)})
			}
			h.obs.versions[v.ComponentName] = v.Version
		}
	}
	return lines, nil
}

func alertResults(h *host, body []byte) ([]logLine, error) {
	var list []protocol.AlertResult
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, err
	}
	if h.obs.alerts == nil {
		h.obs.alerts = map[string]*AlertState{}
	}
	var lines []logLine
	now := time.Now()
	for _, a := range list {
		old := h.obs.alerts[a.Name]
		switch {
		case old == nil:
			old = &AlertState{Since: now}
			h.obs.alerts[a.Name] = old
			lines = append(lines, logLine{alertLevel(a.State), fmt.Sprintf("%s alert %s: %s (%s)", h.name, a.Name, a.State, truncateText(a.Text, 120))})
		case old.State != a.State:
			old.Since = now
			lines = append(lines, logLine{alertLevel(a.State), fmt.Sprintf("%s alert %s: %s -> %s (%s)", h.name, a.Name, old.State, a.State, truncateText(a.Text, 120))})
		}
		old.ClusterID, old.DefinitionID, old.State, old.Text, old.Timestamp, old.Received = a.ClusterID, a.DefinitionID, a.State, a.Text, a.Timestamp, now
	}
	return lines, nil
}

func alertLevel(state string) logrus.Level {
	if state == protocol.AlertCritical || state == protocol.AlertWarning {
		return logrus.WarnLevel
	}
	return logrus.InfoLevel
}
