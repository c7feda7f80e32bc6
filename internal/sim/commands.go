package sim

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/protocol"
)

// CommandSpec describes a command in the scenario's terms, so that nobody
// has to write execution-command JSON: the simulator fills in the script,
// timeouts, package folder, cluster host info and so on from the model.
type CommandSpec struct {
	// Cluster is a cluster name or id; default the host's cluster (or no
	// cluster, "-1", for an ACTIONEXECUTE on a host in none).
	Cluster string `json:"cluster,omitempty"`
	// Component is the role of component commands (INSTALL, START, STOP,
	// RESTART, UNINSTALL, CUSTOM_COMMAND).
	Component string `json:"component,omitempty"`
	// Service defaults to the component's service; SERVICE_CHECK needs it
	// (or a component to take it from).
	Service string `json:"service,omitempty"`
	// RoleCommand is INSTALL, START, STOP, RESTART, UNINSTALL,
	// SERVICE_CHECK, CUSTOM_COMMAND or ACTIONEXECUTE. RESTART is sent as
	// CUSTOM_COMMAND with custom_command RESTART, as the server does.
	RoleCommand string `json:"roleCommand"`
	// CustomCommand names the script method of a CUSTOM_COMMAND.
	CustomCommand string `json:"customCommand,omitempty"`
	// Action is the custom action of an ACTIONEXECUTE (its role); the
	// script defaults to "<action>.py" under custom_actions/scripts.
	Action string `json:"action,omitempty"`
	// Script and Timeout (seconds) override the component's.
	Script  string `json:"script,omitempty"`
	Timeout int    `json:"timeout,omitempty"`
	// CommandParams and RoleParams are added to (and override) the
	// generated maps, e.g. {"command_retry_enabled":"true",
	// "max_duration_for_retries":"60"}.
	CommandParams StringMap `json:"commandParams,omitempty"`
	RoleParams    StringMap `json:"roleParams,omitempty"`
	// Background sends a BACKGROUND_EXECUTION_COMMAND.
	Background bool `json:"background,omitempty"`
}

// Sent says what a command request became.
type Sent struct {
	Host      string  `json:"host"`
	RequestID int64   `json:"requestId"`
	TaskIDs   []int64 `json:"taskIds"`
}

// TaskState is what the simulator knows about one task.
type TaskState struct {
	TaskID        int64  `json:"taskId"`
	RequestID     int64  `json:"requestId,omitempty"`
	Host          string `json:"host"`
	ClusterID     string `json:"clusterId"`
	Role          string `json:"role"`
	RoleCommand   string `json:"roleCommand"`
	CustomCommand string `json:"customCommand,omitempty"`
	ServiceName   string `json:"serviceName,omitempty"`
	// Origin is "server" for tasks the simulator sent and "agent" for
	// tasks it learnt from reports only (the agent's recovery commands,
	// whose ids are the agent's own and unique per host only).
	Origin string `json:"origin"`
	// Step is the timeline step that sent the task.
	Step string `json:"step,omitempty"`
	// Status is PENDING (waiting in the simulator), SENT (transmitted, not
	// acknowledged), QUEUED (acknowledged by the agent), IN_PROGRESS,
	// COMPLETED, FAILED, ABORTED (cancelled before it was sent) or
	// TIMEDOUT (never acknowledged: the host was declared lost).
	Status          string     `json:"status"`
	CancelRequested bool       `json:"cancelRequested,omitempty"`
	MessageID       *int64     `json:"messageId,omitempty"`
	ExitCode        *int       `json:"exitCode,omitempty"`
	Created         time.Time  `json:"created"`
	SentAt          time.Time  `json:"sentAt,omitzero"`
	AckedAt         time.Time  `json:"ackedAt,omitzero"`
	StartedAt       time.Time  `json:"startedAt,omitzero"`
	EndedAt         time.Time  `json:"endedAt,omitzero"`
	Report          *TaskEntry `json:"report,omitempty"` // the latest report
	// History has one entry per status change and per in-progress
	// report, bounded; repeated final reports are only counted.
	History      []TaskEntry `json:"history"`
	FinalReports int         `json:"finalReports"`
}

// TaskEntry is one command report of a task as received.
type TaskEntry struct {
	Time   time.Time              `json:"time"`
	Report protocol.CommandReport `json:"report"`
}

// Task statuses beyond the agent's IN_PROGRESS, COMPLETED and FAILED.
const (
	TaskPending  = "PENDING"
	TaskSent     = "SENT"
	TaskQueued   = "QUEUED"
	TaskAborted  = "ABORTED"
	TaskTimedOut = "TIMEDOUT"
)

// Task origins.
const (
	OriginServer = "server"
	OriginAgent  = "agent"
)

// maxTaskHistory bounds TaskState.History; maxAgentTasks bounds the
// agent-generated tasks remembered per host.
const (
	maxTaskHistory = 32
	maxAgentTasks  = 256
)

// Final says whether the status is an end state.
func finalStatus(status string) bool {
	switch status {
	case protocol.StatusCompleted, protocol.StatusFailed, TaskAborted, TaskTimedOut:
		return true
	}
	return false
}

// cmdMessage is one /user/commands message for a host.
type cmdMessage struct {
	event     protocol.CommandsEvent
	tasks     []int64
	messageID int64 // -1 until first transmitted
	sends     int   // transmissions to the current session
	session   *session
}

// SendCommand sends one commands message with a task per spec to a host
// and returns the task ids. The message waits in the host's queue until the
// host's session is ready and no earlier message is unacknowledged.
func (s *Server) SendCommand(hostName string, specs ...CommandSpec) (Sent, error) {
	s.mu.Lock()
	sent, err := s.sendCommand(hostName, specs, "")
	s.mu.Unlock()
	s.notify()
	return sent, err
}

// sendCommand builds and queues the message; mu held.
func (s *Server) sendCommand(hostName string, specs []CommandSpec, step string) (Sent, error) {
	if len(specs) == 0 {
		return Sent{}, errors.New("no command")
	}
	h := s.m.hosts[hostName]
	if h == nil {
		return Sent{}, fmt.Errorf("send command to %s: %w", hostName, ErrUnknownHost)
	}
	reqID := s.nextRequestID
	ev := protocol.CommandsEvent{Clusters: map[string]protocol.ClusterCommands{}}
	var cmds []protocol.ServerCommand
	var cids []string
	for i, spec := range specs {
		cid, cmd, err := s.buildCommand(h, spec, reqID, s.nextTaskID+int64(i))
		if err != nil {
			return Sent{}, fmt.Errorf("command %d for %s: %w", i+1, hostName, err)
		}
		cmds = append(cmds, cmd)
		cids = append(cids, cid)
	}
	s.nextRequestID++
	s.nextTaskID += int64(len(specs))
	ts := h.configTS
	ev.RequiredConfigTimestamp = &ts
	sent := Sent{Host: hostName, RequestID: reqID}
	now := time.Now()
	for i, cmd := range cmds {
		cc := ev.Clusters[cids[i]]
		cc.Commands = append(cc.Commands, mustJSON(cmd))
		ev.Clusters[cids[i]] = cc
		s.addTask(&TaskState{
			TaskID: cmd.TaskID, RequestID: reqID, Host: hostName, ClusterID: cmd.ClusterID,
			Role: cmd.Role, RoleCommand: cmd.RoleCommand, CustomCommand: cmd.CommandParams["custom_command"],
			ServiceName: cmd.ServiceName, Origin: OriginServer, Step: step, Status: TaskPending, Created: now,
		})
		sent.TaskIDs = append(sent.TaskIDs, cmd.TaskID)
	}
	s.moveDesiredStates(cmds)
	h.queue = append(h.queue, &cmdMessage{event: ev, tasks: slices.Clone(sent.TaskIDs), messageID: -1})
	s.pump(h)
	return sent, nil
}

// SendCommandEvent queues a raw commands event (the body of a
// /user/commands message) for a host. requiredConfigTimestamp is set to the
// host's configurations timestamp when missing. Task ids found in the
// commands are tracked like those of SendCommand.
func (s *Server) SendCommandEvent(hostName string, body json.RawMessage) ([]int64, error) {
	var ev protocol.CommandsEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, fmt.Errorf("commands event: %w", err)
	}
	if len(ev.Clusters) == 0 {
		return nil, errors.New("commands event: no clusters")
	}
	s.mu.Lock()
	h := s.m.hosts[hostName]
	if h == nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("send commands to %s: %w", hostName, ErrUnknownHost)
	}
	ids := s.queueCommandEvent(h, ev)
	s.mu.Unlock()
	s.notify()
	return ids, nil
}

// queueCommandEvent queues a raw commands event; mu held.
func (s *Server) queueCommandEvent(h *host, ev protocol.CommandsEvent) []int64 {
	// The message is edited in place by cancels: give each host its own.
	clusters := make(map[string]protocol.ClusterCommands, len(ev.Clusters))
	for cid, cc := range ev.Clusters {
		clusters[cid] = protocol.ClusterCommands{Commands: slices.Clone(cc.Commands), CancelCommands: slices.Clone(cc.CancelCommands)}
	}
	ev.Clusters = clusters
	if ev.RequiredConfigTimestamp == nil {
		ts := h.configTS
		ev.RequiredConfigTimestamp = &ts
	}
	var ids []int64
	now := time.Now()
	for _, cid := range slices.Sorted(maps.Keys(ev.Clusters)) {
		for _, raw := range ev.Clusters[cid].Commands {
			var cmd protocol.ServerCommand
			if json.Unmarshal(raw, &cmd) != nil || cmd.TaskID == 0 {
				continue
			}
			ids = append(ids, cmd.TaskID)
			if cmd.TaskID >= s.nextTaskID {
				s.nextTaskID = cmd.TaskID + 1
			}
			s.addTask(&TaskState{
				TaskID: cmd.TaskID, RequestID: cmd.RequestID, Host: h.name, ClusterID: cmp.Or(cmd.ClusterID, cid),
				Role: cmd.Role, RoleCommand: cmd.RoleCommand, CustomCommand: cmd.CommandParams["custom_command"],
				ServiceName: cmd.ServiceName, Origin: OriginServer, Status: TaskPending, Created: now,
			})
		}
		for _, c := range ev.Clusters[cid].CancelCommands {
			if t := s.tasks[c.TargetTaskID]; t != nil {
				t.CancelRequested = true
			}
		}
	}
	h.queue = append(h.queue, &cmdMessage{event: ev, tasks: slices.Clone(ids), messageID: -1})
	s.pump(h)
	return ids
}

// Cancel cancels a task: dropped from the simulator's queue when not yet
// sent (status ABORTED), else a cancelCommands message is sent to the host.
func (s *Server) Cancel(taskID int64, reason string) error {
	s.mu.Lock()
	after, err := s.cancel(taskID, reason)
	s.mu.Unlock()
	runAll(after)
	s.notify()
	return err
}

func (s *Server) cancel(taskID int64, reason string) ([]func(), error) {
	t := s.tasks[taskID]
	if t == nil {
		return nil, fmt.Errorf("cancel task %d: %w", taskID, ErrUnknownTask)
	}
	if finalStatus(t.Status) {
		return nil, fmt.Errorf("cancel task %d (%s): %w", taskID, t.Status, ErrTaskFinished)
	}
	h := s.m.hosts[t.Host]
	if h == nil {
		return nil, fmt.Errorf("cancel task %d: %w %s", taskID, ErrUnknownHost, t.Host)
	}
	if t.Status == TaskPending {
		for i, msg := range h.queue {
			if !slices.Contains(msg.tasks, taskID) {
				continue
			}
			removeCommand(msg, taskID)
			if len(msg.tasks) == 0 && !hasCancels(msg) {
				h.queue = slices.Delete(h.queue, i, i+1)
			}
			t.Status, t.EndedAt = TaskAborted, time.Now()
			s.log.WithField("host", h.name).Infof("%s task %d %s aborted before it was sent", h.name, taskID, describeTask(t))
			return s.taskEnded(t), nil
		}
	}
	ts := h.configTS
	ev := protocol.CommandsEvent{
		RequiredConfigTimestamp: &ts,
		Clusters: map[string]protocol.ClusterCommands{t.ClusterID: {CancelCommands: []protocol.CancelCommand{{
			CommandType: protocol.CancelCommandType, TargetTaskID: taskID, Reason: reason,
		}}}},
	}
	t.CancelRequested = true
	h.queue = append(h.queue, &cmdMessage{event: ev, messageID: -1})
	s.log.WithField("host", h.name).Infof("%s task %d %s: cancel queued (%s)", h.name, taskID, describeTask(t), orDash(reason))
	s.pump(h)
	return nil, nil
}

func removeCommand(msg *cmdMessage, taskID int64) {
	msg.tasks = slices.DeleteFunc(msg.tasks, func(id int64) bool { return id == taskID })
	for cid, cc := range msg.event.Clusters {
		cc.Commands = slices.DeleteFunc(cc.Commands, func(raw json.RawMessage) bool {
			var c struct {
				TaskID int64 `json:"taskId"`
			}
			return json.Unmarshal(raw, &c) == nil && c.TaskID == taskID
		})
		if len(cc.Commands) == 0 && len(cc.CancelCommands) == 0 {
			delete(msg.event.Clusters, cid)
		} else {
			msg.event.Clusters[cid] = cc
		}
	}
}

func hasCancels(msg *cmdMessage) bool {
	for _, cc := range msg.event.Clusters {
		if len(cc.CancelCommands) > 0 {
			return true
		}
	}
	return false
}

// RestartAgent sends RESTART_AGENT to the host's agent.
func (s *Server) RestartAgent(hostName string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.m.hosts[hostName]
	if h == nil {
		return fmt.Errorf("restart agent on %s: %w", hostName, ErrUnknownHost)
	}
	if h.session == nil {
		return fmt.Errorf("restart agent on %s: %w", hostName, ErrNotConnected)
	}
	if !h.session.deliver(protocol.UserAgentActions, mustJSON(protocol.AgentAction{ActionName: protocol.ActionRestartAgent})) {
		return fmt.Errorf("restart agent on %s: session not subscribed to %s", hostName, protocol.UserAgentActions)
	}
	s.log.WithField("host", hostName).Infof("%s: RESTART_AGENT sent", hostName)
	return nil
}

// --- building execution commands -----------------------------------------

// clusterFor resolves a command's cluster; mu held.
func (s *Server) clusterFor(h *host, spec CommandSpec) (string, error) {
	if spec.Cluster != "" {
		if cm := s.m.clusterByName[spec.Cluster]; cm != nil {
			return cm.id, nil
		}
		if _, ok := s.m.topo[spec.Cluster]; ok || spec.Cluster == protocol.NoCluster {
			return spec.Cluster, nil
		}
		return "", fmt.Errorf("unknown cluster %q", spec.Cluster)
	}
	if ms := s.m.memberships(h.id); len(ms) > 0 {
		return ms[0], nil
	}
	if spec.RoleCommand == protocol.RoleCommandActionExecute {
		return protocol.NoCluster, nil
	}
	return "", fmt.Errorf("host %s is in no cluster", h.name)
}

func (s *Server) buildCommand(h *host, spec CommandSpec, reqID, taskID int64) (string, protocol.ServerCommand, error) {
	cid, err := s.clusterFor(h, spec)
	if err != nil {
		return "", protocol.ServerCommand{}, err
	}
	cmd := protocol.ServerCommand{
		CommandType: protocol.ExecutionCommand,
		RequestID:   reqID,
		TaskID:      taskID,
		CommandID:   strconv.FormatInt(reqID, 10) + "-0",
		ClusterID:   cid,
		RoleCommand: spec.RoleCommand,
		RoleParams:  map[string]string{},
	}
	if spec.Background {
		cmd.CommandType = protocol.BackgroundExecutionCommand
	}
	cm := s.m.clusterByID[cid]
	if cm != nil {
		cmd.ClusterName = cm.name
	}
	params := map[string]string{}
	switch spec.RoleCommand {
	case protocol.RoleCommandActionExecute:
		if spec.Action == "" {
			return "", cmd, errors.New("ACTIONEXECUTE needs an action")
		}
		cmd.Role = spec.Action
		cmd.ServiceName = spec.Service
		params["script"] = cmp.Or(spec.Script, spec.Action+".py")
		params["script_type"] = "PYTHON"
		params["command_timeout"] = strconv.Itoa(cmp.Or(spec.Timeout, defaultCommandTimeout))
	case protocol.RoleCommandServiceCheck:
		svcName := spec.Service
		if svcName == "" && cm != nil {
			svcName = cm.compService[spec.Component]
		}
		if cm == nil || cm.services[svcName] == nil {
			return "", cmd, fmt.Errorf("SERVICE_CHECK: unknown service %q in cluster %s", svcName, cid)
		}
		svc := cm.services[svcName]
		cmd.Role = svcName + "_SERVICE_CHECK"
		cmd.ServiceName = svcName
		params["script"] = cmp.Or(spec.Script, svc.ServiceCheckScript, "scripts/service_check.py")
		params["script_type"] = "PYTHON"
		params["command_timeout"] = strconv.Itoa(cmp.Or(spec.Timeout, defaultCommandTimeout))
		params["service_package_folder"] = svc.PackageFolder
	default:
		if spec.Component == "" {
			return "", cmd, fmt.Errorf("%s needs a component", spec.RoleCommand)
		}
		comp := s.m.findComponent(cid, spec.Component)
		if comp == nil {
			return "", cmd, fmt.Errorf("cluster %s has no component %s", cid, spec.Component)
		}
		cmd.Role = comp.ComponentName
		cmd.ServiceName = cmp.Or(spec.Service, comp.ServiceName)
		maps.Copy(params, comp.CommandParams)
		category := "MASTER"
		if cm != nil && cm.compSpec[spec.Component] != nil {
			category = cmp.Or(cm.compSpec[spec.Component].Category, category)
		}
		cmd.RoleParams["component_category"] = category
		switch spec.RoleCommand {
		case protocol.RoleCommandRestart:
			cmd.RoleCommand = protocol.RoleCommandCustomCommand
			params["custom_command"] = protocol.RoleCommandRestart
		case protocol.RoleCommandCustomCommand:
			if spec.CustomCommand == "" {
				return "", cmd, errors.New("CUSTOM_COMMAND needs customCommand")
			}
			params["custom_command"] = spec.CustomCommand
		}
		if spec.Script != "" {
			params["script"] = spec.Script
		}
		timeout, _ := strconv.Atoi(params["command_timeout"])
		if spec.Timeout > 0 {
			timeout = spec.Timeout
		} else if spec.RoleCommand == protocol.RoleCommandInstall {
			timeout = max(timeout, minInstallTimeout)
		}
		params["command_timeout"] = strconv.Itoa(cmp.Or(timeout, defaultCommandTimeout))
	}
	params["command_retry_enabled"] = "false"
	params["max_duration_for_retries"] = "0"
	maps.Copy(params, spec.CommandParams)
	maps.Copy(cmd.RoleParams, spec.RoleParams)
	cmd.CommandParams = params
	if len(cmd.RoleParams) == 0 {
		cmd.RoleParams = nil
	}
	if cid != protocol.NoCluster {
		cmd.ClusterHostInfo = s.clusterHostInfo(cid)
		cmd.ComponentVersionMap = s.componentVersions(cid)
	}
	return cid, cmd, nil
}

// clusterHostInfo builds the compressed host map of a cluster
// (docs/protocol.md §5.4) with all seven special keys the agent requires.
func (s *Server) clusterHostInfo(cid string) map[string][]string {
	tc := s.m.topo[cid]
	hosts := slices.Clone(tc.Hosts)
	sort.Slice(hosts, func(i, j int) bool { return hosts[i].HostID < hosts[j].HostID })
	index := map[int64]int{}
	names := make([]string, len(hosts))
	racks := make([]string, len(hosts))
	ips := make([]string, len(hosts))
	ports := make([]string, len(hosts))
	for i, th := range hosts {
		index[th.HostID] = i
		names[i], racks[i], ips[i] = th.HostName, cmp.Or(th.RackName, "/default-rack"), cmp.Or(th.IPv4, "127.0.0.1")
		ports[i] = "8670"
		if h := s.m.hostByID[th.HostID]; h != nil && h.obs.agent.PingPort > 0 {
			ports[i] = strconv.Itoa(h.obs.agent.PingPort)
		}
	}
	info := map[string][]string{
		"all_hosts":             names,
		"all_ping_ports":        valueRanges(ports),
		"all_racks":             valueRanges(racks),
		"all_ipv4_ips":          valueRanges(ips),
		"ambari_server_host":    {s.m.ambariParam("ambari_server_host")},
		"ambari_server_port":    {s.m.ambariParam("ambari_server_port")},
		"ambari_server_use_ssl": {cmp.Or(s.m.ambariParam("ambari_server_use_ssl"), "false")},
	}
	for _, c := range tc.Components {
		var idx []int
		for _, id := range c.HostIDs {
			if i, ok := index[id]; ok {
				idx = append(idx, i)
			}
		}
		if len(idx) > 0 {
			info[strings.ToLower(c.ComponentName)+"_hosts"] = []string{indexRanges(idx)}
		}
	}
	return info
}

// indexRanges compresses indexes into "0-2,5".
func indexRanges(idx []int) string {
	idx = slices.Clone(idx)
	slices.Sort(idx)
	idx = slices.Compact(idx)
	var parts []string
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && idx[j+1] == idx[j]+1 {
			j++
		}
		if i == j {
			parts = append(parts, strconv.Itoa(idx[i]))
		} else {
			parts = append(parts, strconv.Itoa(idx[i])+"-"+strconv.Itoa(idx[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// valueRanges compresses per-host values into "value:ranges", in order of
// first appearance.
func valueRanges(values []string) []string {
	var order []string
	at := map[string][]int{}
	for i, v := range values {
		if _, ok := at[v]; !ok {
			order = append(order, v)
		}
		at[v] = append(at[v], i)
	}
	out := make([]string, 0, len(order))
	for _, v := range order {
		out = append(out, v+":"+indexRanges(at[v]))
	}
	return out
}

func (s *Server) componentVersions(cid string) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, c := range s.m.topo[cid].Components {
		v := cmp.Or(c.Version, c.CommandParams["version"])
		if v == "" {
			continue
		}
		if out[c.ServiceName] == nil {
			out[c.ServiceName] = map[string]string{}
		}
		out[c.ServiceName][c.ComponentName] = v
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// moveDesiredStates updates the recovery desired state of components the
// commands act on, as the server's host-component desired state moves, and
// pushes the new host-level params to the hosts concerned; mu held.
func (s *Server) moveDesiredStates(cmds []protocol.ServerCommand) {
	for _, c := range cmds {
		cm := s.m.clusterByID[c.ClusterID]
		if cm == nil {
			continue
		}
		var want string
		switch {
		case c.RoleCommand == protocol.RoleCommandInstall || c.RoleCommand == protocol.RoleCommandStop:
			want = protocol.ComponentInstalled
		case c.RoleCommand == protocol.RoleCommandStart,
			c.RoleCommand == protocol.RoleCommandCustomCommand && c.CommandParams["custom_command"] == protocol.RoleCommandRestart:
			want = protocol.ComponentStarted
		default:
			continue
		}
		i := slices.IndexFunc(cm.recovery, func(r protocol.RecoveryComponent) bool { return r.ComponentName == c.Role })
		if i < 0 || cm.recovery[i].DesiredState == want {
			continue
		}
		s.changeCluster(cm, dsHostLevelParams, func() {
			next := slices.Clone(cm.recovery)
			next[i].DesiredState = want
			cm.recovery = next
		})
	}
}

// --- delivery ---------------------------------------------------------------

// pump transmits the host's next command message when the host's session
// is ready and nothing is outstanding; mu held.
func (s *Server) pump(h *host) {
	sess := h.session
	if sess == nil || h.lost || !sess.subscribed(protocol.UserCommands) {
		return
	}
	if h.outstanding != nil {
		if h.outstanding.session != sess {
			h.outstanding.sends = 0
			s.transmit(h, h.outstanding)
		}
		return
	}
	for len(h.queue) > 0 {
		msg := h.queue[0]
		h.queue = h.queue[1:]
		if len(msg.event.Clusters) == 0 {
			continue // every command was cancelled
		}
		h.outstanding = msg
		s.transmit(h, msg)
		return
	}
}

// transmit sends msg to the host's session and arms the retry timer; mu
// held.
func (s *Server) transmit(h *host, msg *cmdMessage) {
	if msg.messageID < 0 {
		msg.messageID = s.nextMessageID
		s.nextMessageID++
	}
	sess := h.session
	msg.session = sess
	msg.sends++
	body := mustJSON(msg.event)
	s.flushJoins() // the command may name hosts that just joined
	sess.deliver(protocol.UserCommands, body, protocol.HeaderMessageID, strconv.FormatInt(msg.messageID, 10))
	s.metrics.commandMessages.Add(1)
	h.obs.commandsSent++
	now := time.Now()
	var descr []string
	for _, id := range msg.tasks {
		if t := s.tasks[id]; t != nil {
			if t.Status == TaskPending {
				t.Status, t.SentAt = TaskSent, now
			}
			mid := msg.messageID
			t.MessageID = &mid
			descr = append(descr, fmt.Sprintf("task %d %s", id, describeTask(t)))
		}
	}
	for _, cc := range msg.event.Clusters {
		for _, c := range cc.CancelCommands {
			descr = append(descr, fmt.Sprintf("cancel of task %d", c.TargetTaskID))
		}
	}
	log := s.log.WithFields(logrus.Fields{"host": h.name, "messageId": msg.messageID})
	if msg.sends == 1 {
		log.Infof("%s command message %d sent: %s", h.name, msg.messageID, strings.Join(descr, ", "))
	} else {
		log.Warnf("%s command message %d not acknowledged: sent again (transmission %d)", h.name, msg.messageID, msg.sends)
	}
	stopTimer(&h.retryTimer)
	h.retryTimer = time.AfterFunc(s.cfg.CommandRetryInterval, func() { s.retry(h, msg) })
}

// retry re-sends an unacknowledged message, or declares the host lost when
// the retries are used up.
func (s *Server) retry(h *host, msg *cmdMessage) {
	s.mu.Lock()
	if !s.running || h.outstanding != msg || h.session == nil || msg.session != h.session {
		s.mu.Unlock()
		return
	}
	if msg.sends <= s.cfg.CommandRetries {
		s.transmit(h, msg)
		s.mu.Unlock()
		return
	}
	h.retryTimer = nil
	h.lost = true
	h.outstanding = nil
	now := time.Now()
	var after []func()
	for _, id := range msg.tasks {
		if t := s.tasks[id]; t != nil && t.Status == TaskSent {
			t.Status, t.EndedAt = TaskTimedOut, now
			after = append(after, s.taskEnded(t)...)
		}
	}
	s.mu.Unlock()
	s.log.WithField("host", h.name).Errorf("%s did not acknowledge command message %d after %d transmissions: host declared HEARTBEAT_LOST (RESTART_AGENT on its next heartbeat)",
		h.name, msg.messageID, msg.sends)
	runAll(after)
	s.notify()
}

// messageAck handles /reports/responses; mu held.
func (s *Server) messageAck(h *host, body []byte) ([]logLine, error) {
	var ack protocol.MessageAck
	if err := json.Unmarshal(body, &ack); err != nil {
		// The agent sends messageId as a string; accept a number too.
		var alt struct {
			MessageID json.Number `json:"messageId"`
			Status    string      `json:"status"`
			Reason    string      `json:"reason"`
		}
		if err2 := json.Unmarshal(body, &alt); err2 != nil {
			return nil, err
		}
		ack = protocol.MessageAck{MessageID: alt.MessageID.String(), Status: alt.Status, Reason: alt.Reason}
	}
	id, err := strconv.ParseInt(ack.MessageID, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("messageId %q is not a number", ack.MessageID)
	}
	msg := h.outstanding
	if msg == nil || msg.messageID != id {
		return []logLine{{logrus.DebugLevel, fmt.Sprintf("%s acknowledged message %d, which is not outstanding", h.name, id)}}, nil
	}
	if ack.Status != protocol.StatusOK {
		reason, _, _ := strings.Cut(strings.TrimSpace(ack.Reason), "\n")
		return []logLine{{logrus.WarnLevel, fmt.Sprintf("%s could not process command message %d (%s): %s; it stays outstanding",
			h.name, id, ack.Status, truncateText(reason, 200))}}, nil
	}
	stopTimer(&h.retryTimer)
	h.outstanding = nil
	h.obs.commandsAcked++
	now := time.Now()
	for _, tid := range msg.tasks {
		if t := s.tasks[tid]; t != nil && (t.Status == TaskSent || t.Status == TaskPending) {
			t.Status, t.AckedAt = TaskQueued, now
		} else if t != nil && t.AckedAt.IsZero() {
			t.AckedAt = now
		}
	}
	lines := []logLine{{logrus.InfoLevel, fmt.Sprintf("%s acknowledged command message %d", h.name, id)}}
	s.pump(h)
	return lines, nil
}

// commandReports handles /reports/commands_status; mu held.
func (s *Server) commandReports(h *host, body []byte) ([]func(), []logLine, error) {
	var r protocol.CommandsStatusReport
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, nil, err
	}
	var after []func()
	var lines []logLine
	now := time.Now()
	for _, cid := range slices.Sorted(maps.Keys(r.Clusters)) {
		for _, rep := range r.Clusters[cid] {
			t := s.tasks[rep.TaskID]
			if t == nil || t.Host != h.name {
				t = h.agentTask(rep, cid, now)
			}
			entry := TaskEntry{Time: now, Report: rep}
			t.Report = &entry
			final := rep.Status != protocol.StatusInProgress
			if final && finalStatus(t.Status) && t.Status == rep.Status {
				t.FinalReports++ // the agent re-sends final reports: count, don't repeat
				continue
			}
			if len(t.History) >= maxTaskHistory {
				t.History = slices.Delete(t.History, 0, 1)
			}
			t.History = append(t.History, entry)
			if t.AckedAt.IsZero() && t.Origin == OriginServer && t.Status != TaskPending {
				// The IN_PROGRESS report and the ack race (docs/protocol.md §5.6).
				t.AckedAt = now
			}
			if !final {
				if t.Status != protocol.StatusInProgress {
					t.Status, t.StartedAt = protocol.StatusInProgress, now
					lines = append(lines, logLine{logrus.InfoLevel, fmt.Sprintf("%s task %d %s IN_PROGRESS", h.name, t.TaskID, describeTask(t))})
				}
				continue
			}
			t.Status, t.EndedAt = rep.Status, now
			t.FinalReports++
			if rep.ExitCode != nil {
				code := *rep.ExitCode
				t.ExitCode = &code
			}
			level := logrus.InfoLevel
			if rep.Status != protocol.StatusCompleted {
				level = logrus.WarnLevel
			}
			lines = append(lines, logLine{level, fmt.Sprintf("%s task %d %s %s%s", h.name, t.TaskID, describeTask(t), rep.Status, exitText(t.ExitCode))})
			if t.Origin == OriginServer {
				after = append(after, s.taskEnded(t)...)
			}
		}
	}
	return after, lines, nil
}

func exitText(code *int) string {
	if code == nil {
		return ""
	}
	return fmt.Sprintf(" (exit code %d)", *code)
}

func describeTask(t *TaskState) string {
	if t.CustomCommand != "" && t.RoleCommand == protocol.RoleCommandCustomCommand {
		return t.CustomCommand + " " + t.Role
	}
	return t.RoleCommand + " " + t.Role
}

// agentTask finds or creates the record of a task the agent generated
// (a recovery command); mu held.
func (h *host) agentTask(rep protocol.CommandReport, cid string, now time.Time) *TaskState {
	if t := h.agentTasks[rep.TaskID]; t != nil {
		return t
	}
	if h.agentTasks == nil {
		h.agentTasks = map[int64]*TaskState{}
	}
	if len(h.agentTaskOrder) >= maxAgentTasks {
		delete(h.agentTasks, h.agentTaskOrder[0])
		h.agentTaskOrder = h.agentTaskOrder[1:]
	}
	t := &TaskState{
		TaskID: rep.TaskID, Host: h.name, ClusterID: cmp.Or(rep.ClusterID, cid), Role: rep.Role,
		RoleCommand: rep.RoleCommand, CustomCommand: rep.CustomCommand, ServiceName: rep.ServiceName,
		Origin: OriginAgent, Status: TaskQueued, Created: now,
	}
	h.agentTasks[rep.TaskID] = t
	h.agentTaskOrder = append(h.agentTaskOrder, rep.TaskID)
	return t
}

// addTask remembers a task, forgetting the oldest finished ones beyond
// MaxTasks; mu held.
func (s *Server) addTask(t *TaskState) {
	if _, dup := s.tasks[t.TaskID]; !dup {
		s.taskOrder = append(s.taskOrder, t.TaskID)
	}
	s.tasks[t.TaskID] = t
	for len(s.tasks) > s.cfg.MaxTasks && len(s.taskOrder) > 0 {
		evicted := false
		for i, id := range s.taskOrder {
			if old := s.tasks[id]; old == nil || finalStatus(old.Status) {
				delete(s.tasks, id)
				s.taskOrder = slices.Delete(s.taskOrder, i, i+1)
				evicted = true
				break
			}
		}
		if !evicted {
			break
		}
	}
}

// taskEnded tells the timeline; mu held.
func (s *Server) taskEnded(t *TaskState) []func() {
	return s.tl.taskEnded(s, t)
}

// Task returns a copy of the state of a task the simulator sent.
func (s *Server) Task(id int64) (TaskState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tasks[id]
	if t == nil {
		return TaskState{}, false
	}
	return copyTask(t), true
}

// Tasks returns the tasks of a host ("" for all hosts), those the
// simulator sent and those the agent generated, oldest first.
func (s *Server) Tasks(hostName string) []TaskState {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []TaskState
	for _, id := range s.taskOrder {
		if t := s.tasks[id]; t != nil && (hostName == "" || t.Host == hostName) {
			out = append(out, copyTask(t))
		}
	}
	for name, h := range s.m.hosts {
		if hostName != "" && name != hostName {
			continue
		}
		for _, id := range h.agentTaskOrder {
			out = append(out, copyTask(h.agentTasks[id]))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out
}

func copyTask(t *TaskState) TaskState {
	c := *t
	c.History = slices.Clone(t.History)
	if c.History == nil {
		c.History = []TaskEntry{}
	}
	return c
}
