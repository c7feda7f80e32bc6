package sim

import (
	"cmp"
	"encoding/json"
	"time"

	"github.com/ambari-go/ambari-agent/internal/protocol"
)

// host is everything the simulator keeps about one agent host: its place in
// the model, its link, its command queue and what it reported. Guarded by
// Server.mu.
type host struct {
	name      string
	id        int64
	rack      string
	ipv4      string
	fixedIPv4 bool // set by the scenario; otherwise taken from registration

	// configTS is the timestamp of the host's configurations snapshot,
	// renewed whenever new configurations are pushed to it. Commands carry
	// it as requiredConfigTimestamp.
	configTS int64
	// override holds snapshots replaced by raw pushes; derived caches the
	// ones built from the cluster model.
	override [numHostDataSets]*snapshot
	derived  [numHostDataSets]*snapshot

	// The link. session is the registered session (nil when none is
	// alive). hbValid is false until the first registration: a heartbeat
	// without a counter gets id 0.
	session       *session
	hbCounter     int64
	hbValid       bool
	lost          bool // HEARTBEAT_LOST: the next heartbeat gets RESTART_AGENT
	lastHeartbeat time.Time

	// Commands: at most one transmitted, unacknowledged message; the rest
	// wait in queue.
	queue       []*cmdMessage
	outstanding *cmdMessage
	retryTimer  *time.Timer
	// agentTasks are tasks the agent generated (recovery commands), by
	// the agent's task id, bounded to maxAgentTasks.
	agentTasks     map[int64]*TaskState
	agentTaskOrder []int64

	obs observations
}

// observations is what the host's agent reported.
type observations struct {
	registrations  int
	registeredAt   time.Time
	agent          AgentInfo
	heartbeats     uint64
	staleAlerts    []protocol.StaleAlert
	components     map[string]*ComponentState // by component name
	versions       map[string]string
	alerts         map[string]*AlertState // by definition name
	hostStatus     json.RawMessage
	hostStatusAt   time.Time
	reports        map[string]uint64 // by destination
	commandsSent   uint64
	commandsAcked  uint64
	lastDisconnect time.Time
}

func (h *host) topologyHost() protocol.TopologyHost {
	return protocol.TopologyHost{
		HostID:   h.id,
		HostName: h.name,
		RackName: cmp.Or(h.rack, "/default-rack"),
		IPv4:     cmp.Or(h.ipv4, "127.0.0.1"),
	}
}

// registered says whether the host has a live, registered session.
func (h *host) registered() bool { return h.session != nil }

// HostState is a copy of what the simulator knows about a host.
type HostState struct {
	Name     string   `json:"name"`
	HostID   int64    `json:"hostId"`
	Clusters []string `json:"clusters"` // cluster names (ids for clusters the scenario does not name)
	// Components are the components the topology places on the host.
	Components []string `json:"components"`

	// Status is NEVER_REGISTERED, REGISTERED (no heartbeat yet), HEALTHY,
	// HEARTBEAT_LOST or DISCONNECTED.
	Status string `json:"status"`
	// Registered: a live session is bound to the host. Ready: that session
	// finished its cache synchronisation (subscribed to /user/commands), so
	// commands are delivered.
	Registered    bool      `json:"registered"`
	Ready         bool      `json:"ready"`
	Session       string    `json:"session,omitempty"`
	Registrations int       `json:"registrations"`
	RegisteredAt  time.Time `json:"registeredAt,omitzero"`
	Agent         AgentInfo `json:"agent"`

	// HeartbeatID is the server's response-id counter for the host.
	HeartbeatID   int64                 `json:"heartbeatId"`
	Heartbeats    uint64                `json:"heartbeats"`
	LastHeartbeat time.Time             `json:"lastHeartbeat,omitzero"`
	StaleAlerts   []protocol.StaleAlert `json:"staleAlerts,omitempty"`

	// ConfigTimestamp and Hashes are what the simulator currently serves:
	// the configurations timestamp and the hash of each of the five data
	// sets (by cache name).
	ConfigTimestamp int64             `json:"configTimestamp"`
	Hashes          map[string]string `json:"hashes"`

	ComponentStatus map[string]ComponentState `json:"componentStatus"`
	Versions        map[string]string         `json:"versions"`
	Alerts          map[string]AlertState     `json:"alerts"`
	HostStatus      json.RawMessage           `json:"hostStatus,omitempty"`
	HostStatusAt    time.Time                 `json:"hostStatusAt,omitzero"`

	// QueuedMessages are command messages waiting; OutstandingMessage is
	// the messageId transmitted and not yet acknowledged.
	QueuedMessages     int    `json:"queuedMessages"`
	OutstandingMessage *int64 `json:"outstandingMessage,omitempty"`
	// Reports counts the SENDs received from the host by destination.
	Reports map[string]uint64 `json:"reports"`
}

// AgentInfo is what the agent said about itself when it registered.
type AgentInfo struct {
	Version         string `json:"version,omitempty"`
	PublicHostname  string `json:"publicHostname,omitempty"`
	Prefix          string `json:"prefix,omitempty"`
	PingPort        int    `json:"pingPort,omitempty"`
	IPAddress       string `json:"ipAddress,omitempty"`
	OperatingSystem string `json:"operatingSystem,omitempty"`
	OSRelease       string `json:"osRelease,omitempty"`
	StartTime       int64  `json:"startTime,omitempty"`
}

// ComponentState is the latest status check result of a component.
type ComponentState struct {
	ClusterID string    `json:"clusterId"`
	Service   string    `json:"service"`
	Status    string    `json:"status"` // STARTED, INSTALLED ("" for null)
	Since     time.Time `json:"since"`  // when Status last changed
	Updated   time.Time `json:"updated"`
}

// AlertState is the latest result of an alert definition on a host.
type AlertState struct {
	ClusterID    string    `json:"clusterId"`
	DefinitionID int64     `json:"definitionId"`
	State        string    `json:"state"`
	Text         string    `json:"text"`
	Timestamp    int64     `json:"timestamp"` // the agent's, ms
	Since        time.Time `json:"since"`     // when State last changed
	Received     time.Time `json:"received"`
}

// Host statuses of HostState.Status.
const (
	HostNeverRegistered = "NEVER_REGISTERED"
	HostRegistered      = "REGISTERED"
	HostHealthy         = "HEALTHY"
	HostHeartbeatLost   = "HEARTBEAT_LOST"
	HostDisconnected    = "DISCONNECTED"
)
