package protocol

import "encoding/json"

// Server-side shapes of the cached data sets and of execution commands
// (docs/protocol.md §4, §5.2), as the server builds them. The agent keeps these
// data sets as generic JSON because it must pass unknown keys through to
// scripts; the simulator builds them from these types.

// Event types of topology, metadata and alert-definition events.
const (
	EventCreate = "CREATE"
	EventUpdate = "UPDATE"
	EventDelete = "DELETE"
)

// NoCluster is the cluster key of ambari-wide metadata and of commands bound
// to no cluster.
const NoCluster = "-1"

// TopologyEvent is a /events/topologies push or the reply to
// /agents/topologies.
type TopologyEvent struct {
	EventType string                      `json:"eventType"`
	Hash      string                      `json:"hash"`
	Clusters  map[string]*TopologyCluster `json:"clusters"`
}

// TopologyCluster is one cluster of a topology event. A nil slice is left
// out of the JSON and a non-nil empty one is sent as []: a CREATE needs a
// components array even when it is empty, while UPDATE and DELETE objects
// may carry only hosts or only components, and {} deletes the cluster.
type TopologyCluster struct {
	Hosts      []TopologyHost
	Components []TopologyComponent
}

// MarshalJSON implements the nil-versus-empty rule above.
func (c TopologyCluster) MarshalJSON() ([]byte, error) {
	var w struct {
		Hosts      *[]TopologyHost      `json:"hosts,omitempty"`
		Components *[]TopologyComponent `json:"components,omitempty"`
	}
	if c.Hosts != nil {
		w.Hosts = &c.Hosts
	}
	if c.Components != nil {
		w.Components = &c.Components
	}
	return json.Marshal(w)
}

// UnmarshalJSON is the inverse of MarshalJSON.
func (c *TopologyCluster) UnmarshalJSON(b []byte) error {
	var w struct {
		Hosts      *[]TopologyHost      `json:"hosts"`
		Components *[]TopologyComponent `json:"components"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*c = TopologyCluster{}
	if w.Hosts != nil {
		c.Hosts = *w.Hosts
		if c.Hosts == nil {
			c.Hosts = []TopologyHost{}
		}
	}
	if w.Components != nil {
		c.Components = *w.Components
		if c.Components == nil {
			c.Components = []TopologyComponent{}
		}
	}
	return nil
}

// TopologyHost is a host of a cluster. DELETE events carry only HostID.
type TopologyHost struct {
	HostID   int64  `json:"hostId"`
	HostName string `json:"hostName,omitempty"`
	RackName string `json:"rackName,omitempty"`
	IPv4     string `json:"ipv4,omitempty"`
}

// TopologyComponent is a component of a cluster, keyed by service and
// component name. Nil maps are left out of the JSON, non-nil ones (even
// empty) are sent: the agent needs commandParams on every component of a
// CREATE, and an UPDATE replaces a params map only when it is present.
type TopologyComponent struct {
	ServiceName          string
	ComponentName        string
	DisplayName          string
	Version              string
	HostIDs              []int64
	ComponentLevelParams map[string]string
	CommandParams        map[string]string
}

type topologyComponentWire struct {
	ServiceName          string             `json:"serviceName"`
	ComponentName        string             `json:"componentName"`
	DisplayName          string             `json:"displayName,omitempty"`
	Version              string             `json:"version,omitempty"`
	HostIDs              []int64            `json:"hostIds"`
	ComponentLevelParams *map[string]string `json:"componentLevelParams,omitempty"`
	CommandParams        *map[string]string `json:"commandParams,omitempty"`
}

// MarshalJSON implements the nil-versus-empty rule above; hostIds is always
// an array.
func (c TopologyComponent) MarshalJSON() ([]byte, error) {
	w := topologyComponentWire{
		ServiceName: c.ServiceName, ComponentName: c.ComponentName,
		DisplayName: c.DisplayName, Version: c.Version, HostIDs: c.HostIDs,
	}
	if w.HostIDs == nil {
		w.HostIDs = []int64{}
	}
	if c.ComponentLevelParams != nil {
		w.ComponentLevelParams = &c.ComponentLevelParams
	}
	if c.CommandParams != nil {
		w.CommandParams = &c.CommandParams
	}
	return json.Marshal(w)
}

// UnmarshalJSON is the inverse of MarshalJSON.
func (c *TopologyComponent) UnmarshalJSON(b []byte) error {
	var w topologyComponentWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*c = TopologyComponent{
		ServiceName: w.ServiceName, ComponentName: w.ComponentName,
		DisplayName: w.DisplayName, Version: w.Version, HostIDs: w.HostIDs,
	}
	if w.ComponentLevelParams != nil {
		c.ComponentLevelParams = *w.ComponentLevelParams
		if c.ComponentLevelParams == nil {
			c.ComponentLevelParams = map[string]string{}
		}
	}
	if w.CommandParams != nil {
		c.CommandParams = *w.CommandParams
		if c.CommandParams == nil {
			c.CommandParams = map[string]string{}
		}
	}
	return nil
}

// MetadataEvent is a /events/metadata push or the reply to /agents/metadata.
// Cluster objects stay generic: the agent deep-merges them and passes their
// keys to scripts.
type MetadataEvent struct {
	EventType string                    `json:"eventType"`
	Hash      string                    `json:"hash"`
	Clusters  map[string]map[string]any `json:"clusters"`
}

// ConfigsEvent is a /user/configs push or the reply to /agents/configs: a
// full snapshot of the host's configurations. The "unchanged" reply is a
// bare {"timestamp":T} and is not built from this type.
type ConfigsEvent struct {
	Timestamp int64                     `json:"timestamp"`
	Hash      string                    `json:"hash"`
	Clusters  map[string]ClusterConfigs `json:"clusters"`
}

// ClusterConfigs is one cluster's configurations: config type -> key ->
// value, and config type -> attribute (e.g. "final") -> key -> value.
type ClusterConfigs struct {
	Configurations          map[string]map[string]string            `json:"configurations"`
	ConfigurationAttributes map[string]map[string]map[string]string `json:"configurationAttributes"`
}

// HostLevelParamsEvent is a /user/host_level_params push or the reply to
// /agents/host_level_params: a full snapshot.
type HostLevelParamsEvent struct {
	Hash     string                            `json:"hash"`
	Clusters map[string]HostLevelParamsCluster `json:"clusters"`
}

// HostLevelParamsCluster is one cluster's host-level parameters.
type HostLevelParamsCluster struct {
	RecoveryConfig             RecoveryConfig    `json:"recoveryConfig"`
	BlueprintProvisioningState map[string]string `json:"blueprint_provisioning_state"`
}

// RecoveryConfig lists the components the agent may recover on this host.
type RecoveryConfig struct {
	Components []RecoveryComponent `json:"components"`
}

// RecoveryComponent is one recoverable component and its desired state.
type RecoveryComponent struct {
	ServiceName   string `json:"service_name"`
	ComponentName string `json:"component_name"`
	DesiredState  string `json:"desired_state"` // STARTED, INSTALLED
}

// Blueprint provisioning states.
const (
	ProvisioningNone       = "NONE"
	ProvisioningInProgress = "IN_PROGRESS"
	ProvisioningFinished   = "FINISHED"
)

// AlertDefinitionsEvent is a /user/alert_definitions push or the reply to
// /agents/alert_definitions.
type AlertDefinitionsEvent struct {
	EventType string                  `json:"eventType"`
	HostName  string                  `json:"hostName,omitempty"`
	Hash      string                  `json:"hash"`
	Clusters  map[string]AlertCluster `json:"clusters"`
}

// AlertCluster is one cluster's alert definitions for a host.
type AlertCluster struct {
	HostName string `json:"hostName,omitempty"`
	// StaleIntervalMultiplier enables the agent's stale-alert detection.
	StaleIntervalMultiplier int               `json:"staleIntervalMultiplier,omitempty"`
	AlertDefinitions        []AlertDefinition `json:"alertDefinitions"`
}

// AlertDefinition is one alert definition as the server sends it. Source is
// type-specific and opaque to the protocol.
type AlertDefinition struct {
	ClusterID     int64  `json:"clusterId"`
	DefinitionID  int64  `json:"definitionId"`
	Name          string `json:"name"`
	Label         string `json:"label,omitempty"`
	Description   string `json:"description,omitempty"`
	ServiceName   string `json:"serviceName,omitempty"`
	ComponentName string `json:"componentName,omitempty"`
	Scope         string `json:"scope,omitempty"` // ANY, HOST, SERVICE
	Interval      int    `json:"interval"`        // minutes
	Enabled       bool   `json:"enabled"`
	UUID          string `json:"uuid,omitempty"`
	IgnoreHost    bool   `json:"ignore_host"`
	HelpURL       string `json:"help_url,omitempty"`
	// RepeatToleranceEnabled must be on every definition: the Python
	// agent's alert reporter fails its whole cycle without it.
	RepeatTolerance        int             `json:"repeat_tolerance"`
	RepeatToleranceEnabled bool            `json:"repeat_tolerance_enabled"`
	Source                 json.RawMessage `json:"source"`
}

// Role commands a server sends.
const (
	RoleCommandInstall       = "INSTALL"
	RoleCommandUninstall     = "UNINSTALL"
	RoleCommandStart         = "START"
	RoleCommandStop          = "STOP"
	RoleCommandRestart       = "RESTART"
	RoleCommandServiceCheck  = "SERVICE_CHECK"
	RoleCommandCustomCommand = "CUSTOM_COMMAND"
	RoleCommandActionExecute = "ACTIONEXECUTE"
)

// ServerCommand is one execution command of a commands event as the server builds
// it (docs/protocol.md §5.2). Fields the server would leave empty are omitted.
type ServerCommand struct {
	CommandType         string                       `json:"commandType"`
	RequestID           int64                        `json:"requestId"`
	TaskID              int64                        `json:"taskId"`
	CommandID           string                       `json:"commandId"`
	ClusterID           string                       `json:"clusterId"`
	ClusterName         string                       `json:"clusterName,omitempty"`
	ServiceName         string                       `json:"serviceName,omitempty"`
	Role                string                       `json:"role"`
	RoleCommand         string                       `json:"roleCommand"`
	CommandParams       map[string]string            `json:"commandParams"`
	RoleParams          map[string]string            `json:"roleParams,omitempty"`
	ClusterHostInfo     map[string][]string          `json:"clusterHostInfo,omitempty"`
	ComponentVersionMap map[string]map[string]string `json:"componentVersionMap,omitempty"`
}
