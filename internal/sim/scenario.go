package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/ambari-go/ambari-agent/internal/protocol"
)

// Scenario is everything the simulated server knows before the first agent
// connects: clusters, their services and components, hosts, configurations,
// recovery settings, alert definitions, options, and a timeline of actions.
// It is read from JSON (see configs/sim/README.md for every field) or built
// in Go. Zero values take the defaults documented on each field.
type Scenario struct {
	// Name and Description are shown in logs and by the control API.
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`

	// AmbariLevelParams are metadata "-1" clusterLevelParams (copied into
	// every command as ambariLevelParams). jdk_location, ambari_server_host,
	// ambari_server_port and ambari_server_use_ssl are filled in from the
	// simulator's own control-API address unless set here.
	AmbariLevelParams StringMap `json:"ambariLevelParams,omitempty"`
	// AgentConfig is metadata "-1" agentConfigs.agentConfig, merged by the
	// agent into its [agentConfig] section. Default:
	// agent.auto.cache.update=true (scripts are downloaded from the
	// simulator's /resources), agent.check.remote.mounts=false,
	// agent.check.mounts.timeout=0.
	AgentConfig StringMap `json:"agentConfig,omitempty"`

	Clusters []ClusterSpec `json:"clusters,omitempty"`
	Options  Options       `json:"options"`
	Timeline []Step        `json:"timeline,omitempty"`
}

// ClusterSpec describes one cluster.
type ClusterSpec struct {
	// ID is the cluster id (a number, sent as a string key). Default: the
	// cluster's position in the list plus one.
	ID   int64  `json:"id,omitempty"`
	Name string `json:"name"`
	// StackName and StackVersion become clusterLevelParams stack_name and
	// stack_version.
	StackName    string `json:"stackName,omitempty"`
	StackVersion string `json:"stackVersion,omitempty"`
	// HooksFolder is clusterLevelParams hooks_folder, the resources-relative
	// directory of stack hooks ("stack-hooks"); empty means no hooks run.
	HooksFolder string `json:"hooksFolder,omitempty"`
	// ClusterLevelParams are added to (and override) the generated
	// clusterLevelParams: cluster_name, stack_name, stack_version,
	// hooks_folder, user_list, group_list, user_groups,
	// not_managed_hdfs_path_list.
	ClusterLevelParams StringMap `json:"clusterLevelParams,omitempty"`
	// StatusCommandsToRun is sent as status_commands_to_run. Default
	// ["STATUS"]; an explicit empty list turns status checks off.
	StatusCommandsToRun []string `json:"statusCommandsToRun"`

	Services []ServiceSpec `json:"services,omitempty"`
	Hosts    []HostSpec    `json:"hosts,omitempty"`

	// Configurations is config type -> key -> value (values are strings;
	// numbers and booleans are accepted and converted).
	Configurations map[string]StringMap `json:"configurations,omitempty"`
	// ConfigurationAttributes is config type -> attribute -> key -> value,
	// e.g. {"demo-site":{"final":{"demo.port":"true"}}}.
	ConfigurationAttributes map[string]map[string]StringMap `json:"configurationAttributes,omitempty"`

	// Recovery lists components the agent may auto-recover, sent in
	// host-level params recoveryConfig to the hosts that have them. Whether
	// recovery runs at all is decided by cluster-env (recovery_enabled,
	// recovery_type, ...) in Configurations.
	Recovery []RecoverySpec `json:"recovery,omitempty"`
	// BlueprintProvisioningState is component -> NONE | IN_PROGRESS |
	// FINISHED. Default NONE for every component of the host.
	BlueprintProvisioningState StringMap `json:"blueprintProvisioningState,omitempty"`

	// StaleIntervalMultiplier enables the agent's stale-alert detection
	// (0 leaves it out).
	StaleIntervalMultiplier int                   `json:"staleIntervalMultiplier,omitempty"`
	AlertDefinitions        []AlertDefinitionSpec `json:"alertDefinitions,omitempty"`
}

// ServiceSpec describes one service of a cluster.
type ServiceSpec struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	// PackageFolder is the resources-relative service package directory,
	// e.g. "stacks/DEMO/1.0/services/DEMO/package".
	PackageFolder string `json:"packageFolder"`
	// CredentialStoreEnabled and ConfigurationCredentials are sent in
	// serviceLevelParams.
	CredentialStoreEnabled   bool                 `json:"credentialStoreEnabled,omitempty"`
	ConfigurationCredentials map[string]StringMap `json:"configurationCredentials,omitempty"`
	// StatusCommandsTimeout is serviceLevelParams status_commands_timeout
	// in seconds (0 sends null).
	StatusCommandsTimeout int `json:"statusCommandsTimeout,omitempty"`
	// ServiceCheckScript is the script of SERVICE_CHECK commands. Default
	// "scripts/service_check.py".
	ServiceCheckScript string `json:"serviceCheckScript,omitempty"`
	// ServiceLevelParams are added to (and override) the generated
	// serviceLevelParams of this service.
	ServiceLevelParams map[string]any `json:"serviceLevelParams,omitempty"`

	Components []ComponentSpec `json:"components,omitempty"`
}

// ComponentSpec describes one component of a service.
type ComponentSpec struct {
	Name string `json:"name"`
	// Category is MASTER, SLAVE or CLIENT (sent as roleParams
	// component_category). Default MASTER.
	Category string `json:"category,omitempty"`
	// Script is the command script relative to the package folder.
	// Default "scripts/<component name in lower case>.py".
	Script string `json:"script,omitempty"`
	// ScriptType defaults to PYTHON.
	ScriptType string `json:"scriptType,omitempty"`
	// Timeout is command_timeout in seconds. Default 900 (the server's
	// agent.task.timeout); INSTALL commands get at least 1800.
	Timeout int `json:"timeout,omitempty"`
	// Version is the component version (commandParams version and the
	// commands' componentVersionMap); empty leaves it out.
	Version     string `json:"version,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
	// CommandParams and ComponentLevelParams are added to (and override)
	// the generated topology maps.
	CommandParams        StringMap `json:"commandParams,omitempty"`
	ComponentLevelParams StringMap `json:"componentLevelParams,omitempty"`
}

// HostSpec places a host in a cluster.
type HostSpec struct {
	Name string `json:"name"`
	// ID is the host id. Default: the next free id, in scenario order.
	ID int64 `json:"id,omitempty"`
	// Rack defaults to "/default-rack"; IPv4 defaults to the address the
	// agent reports at registration, else 127.0.0.1.
	Rack string `json:"rack,omitempty"`
	IPv4 string `json:"ipv4,omitempty"`
	// Components are the names of the components placed on this host.
	Components []string `json:"components,omitempty"`
}

// RecoverySpec enables auto-recovery of a component.
type RecoverySpec struct {
	Component string `json:"component"`
	// DesiredState is STARTED (default) or INSTALLED. The simulator moves
	// it when it sends INSTALL/STOP (INSTALLED) or START/RESTART (STARTED)
	// for the component, and pushes the new host-level params, as the
	// server does.
	DesiredState string `json:"desiredState,omitempty"`
}

// AlertDefinitionSpec is an alert definition in the wire format the server
// sends (field names as on the wire, so real definitions can be pasted),
// with defaults for what may be left out.
type AlertDefinitionSpec struct {
	// DefinitionID defaults to the next free id.
	DefinitionID int64  `json:"definitionId,omitempty"`
	Name         string `json:"name"`
	// Label defaults to Name.
	Label       string `json:"label,omitempty"`
	Description string `json:"description,omitempty"`
	// ServiceName defaults to the service of ComponentName. A definition
	// without ComponentName (or with AMBARI_AGENT) goes to every host of the
	// cluster; otherwise only to hosts that have the component.
	ServiceName   string `json:"serviceName,omitempty"`
	ComponentName string `json:"componentName,omitempty"`
	// Scope defaults to ANY.
	Scope string `json:"scope,omitempty"`
	// Interval is in minutes, default 1.
	Interval int `json:"interval,omitempty"`
	// Enabled defaults to true.
	Enabled *bool `json:"enabled,omitempty"`
	// UUID defaults to a stable value derived from the cluster, name and id.
	UUID                   string `json:"uuid,omitempty"`
	IgnoreHost             bool   `json:"ignore_host,omitempty"`
	HelpURL                string `json:"help_url,omitempty"`
	RepeatTolerance        int    `json:"repeat_tolerance,omitempty"` // default 1
	RepeatToleranceEnabled bool   `json:"repeat_tolerance_enabled,omitempty"`
	// Source is type-specific: {"type":"PORT","uri":"...","default_port":N,
	// "reporting":{...}} and so on (see docs/behaviour.md §9.4).
	Source json.RawMessage `json:"source"`
}

// Options are scenario-wide switches.
type Options struct {
	// JoinUnknownHosts lets a host that is not in the scenario join
	// JoinTemplate's cluster when it registers: it gets the next host id
	// and the template's components, and the other agents receive a
	// topology UPDATE. Without it such a host registers but belongs to no
	// cluster (as an unassigned host of a real server).
	JoinUnknownHosts bool          `json:"joinUnknownHosts,omitempty"`
	JoinTemplate     *JoinTemplate `json:"joinTemplate,omitempty"`

	// EncryptionKey is sent on /events/encryption_key (and salts the
	// configurations hash). With BroadcastEncryptionKey it is broadcast to
	// every agent after each registration, as a server with sensitive-data
	// encryption does.
	EncryptionKey          string `json:"encryptionKey,omitempty"`
	BroadcastEncryptionKey bool   `json:"broadcastEncryptionKey,omitempty"`

	// TwoWaySSL makes /connection_info say two-way SSL and the WSS port
	// require client certificates signed by the simulator's CA.
	TwoWaySSL bool `json:"twoWaySSL,omitempty"`

	// ServerVersion, when set, refuses registrations whose agentVersion
	// differs (first four numeric components, "-suffix" ignored), as the
	// server does.
	ServerVersion string `json:"serverVersion,omitempty"`

	// RegistrationQueueSize throttles connections like the server's
	// agents.registration.queue.size: when that many sessions are
	// connected but have not yet sent a successful heartbeat (entries
	// expire after 60 s), new STOMP connections get ERROR "Connection not
	// allowed". 0 turns the throttle off.
	RegistrationQueueSize int `json:"registrationQueueSize,omitempty"`
}

// JoinTemplate is what a joining unknown host gets.
type JoinTemplate struct {
	// Cluster is the cluster name; default the first cluster.
	Cluster string `json:"cluster,omitempty"`
	// Components placed on the joining host.
	Components []string `json:"components,omitempty"`
	Rack       string   `json:"rack,omitempty"`
}

// Step is one entry of the timeline: after a trigger and an optional delay,
// for each matching host, do one action (and/or print a message).
type Step struct {
	// ID names the step so that later steps can wait for it.
	ID string `json:"id,omitempty"`
	// After is the trigger:
	//   "start"           once when the simulator starts (per matching
	//                     scenario host for host actions);
	//   "registered"      when a matching host registers;
	//   "<id>"            when step <id> completed on that host (all its
	//                     tasks COMPLETED; steps without tasks complete
	//                     when they fire);
	//   "<id>:failed"     when a task of step <id> failed on that host;
	//   "<id>:done"       when every task of step <id> ended, either way.
	After string `json:"after"`
	// Delay waits this long after the trigger ("2s", "500ms" or seconds).
	Delay Duration `json:"delay,omitempty"`
	// Host is a host name or a glob ("*", "h-1*"). Default "*".
	Host string `json:"host,omitempty"`
	// Repeat fires the step on every trigger instead of once per host.
	Repeat bool `json:"repeat,omitempty"`

	// Message is printed when the step fires; {host} is replaced by the
	// host name and {api} by the control API's URL.
	Message string `json:"message,omitempty"`

	// Actions; at most one of them per step.
	Command      *CommandSpec  `json:"command,omitempty"`
	Commands     []CommandSpec `json:"commands,omitempty"` // one message, one request
	Push         *Push         `json:"push,omitempty"`
	Configs      *ConfigChange `json:"configs,omitempty"`
	RestartAgent bool          `json:"restartAgent,omitempty"`
}

// Trigger names of Step.After.
const (
	AfterStart      = "start"
	AfterRegistered = "registered"
)

// Duration is a time.Duration read from JSON as "1.5s"-style text or as a
// number of seconds.
type Duration time.Duration

// UnmarshalJSON accepts "2s", "500ms" or 2.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: %w", s, err)
		}
		*d = Duration(v)
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("duration must be text like \"2s\" or seconds: %s", b)
	}
	*d = Duration(f * float64(time.Second))
	return nil
}

// MarshalJSON writes the text form.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// StringMap is a map of strings that also accepts numbers and booleans in
// JSON (converted to their text), since Ambari configuration values are
// always strings but scenario authors write 8080 and true.
type StringMap map[string]string

// UnmarshalJSON implements the conversion.
func (m *StringMap) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if raw == nil {
		*m = nil
		return nil
	}
	out := make(StringMap, len(raw))
	for k, v := range raw {
		s, err := scalarText(v)
		if err != nil {
			return fmt.Errorf("key %q: %w", k, err)
		}
		out[k] = s
	}
	*m = out
	return nil
}

func scalarText(v json.RawMessage) (string, error) {
	v = bytes.TrimSpace(v)
	switch {
	case len(v) == 0:
		return "", errors.New("empty value")
	case v[0] == '"':
		var s string
		err := json.Unmarshal(v, &s)
		return s, err
	case string(v) == "true" || string(v) == "false":
		return string(v), nil
	case string(v) == "null":
		return "", nil
	case v[0] == '-' || (v[0] >= '0' && v[0] <= '9'):
		if _, err := strconv.ParseFloat(string(v), 64); err != nil {
			return "", fmt.Errorf("bad number %s", v)
		}
		return string(v), nil
	}
	return "", fmt.Errorf("value must be a string, number or boolean, not %s", truncateText(string(v), 40))
}

// LoadScenario reads and checks a scenario file.
func LoadScenario(file string) (*Scenario, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	sc, err := ParseScenario(b)
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w", file, err)
	}
	return sc, nil
}

// ParseScenario decodes a scenario (unknown fields are errors, so that a
// misspelt key does not silently do nothing) and checks it.
func ParseScenario(b []byte) (*Scenario, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var sc Scenario
	if err := dec.Decode(&sc); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	return &sc, nil
}

// Validate reports the first inconsistency: duplicate or unknown names,
// components placed but not defined, timeline steps that can never fire.
func (sc *Scenario) Validate() error {
	clusterNames := map[string]bool{}
	clusterIDs := map[int64]bool{}
	hostIDs := map[int64]string{}
	hostNames := map[string]bool{}
	defIDs := map[int64]bool{}
	for i := range sc.Clusters {
		c := &sc.Clusters[i]
		if c.Name == "" {
			return fmt.Errorf("cluster #%d has no name", i+1)
		}
		if clusterNames[c.Name] {
			return fmt.Errorf("cluster %q is defined twice", c.Name)
		}
		clusterNames[c.Name] = true
		id := clusterID(c, i)
		if id <= 0 || clusterIDs[id] {
			return fmt.Errorf("cluster %q: id %d is not a positive unique number", c.Name, id)
		}
		clusterIDs[id] = true
		comps := map[string]bool{}
		for _, s := range c.Services {
			if s.Name == "" {
				return fmt.Errorf("cluster %q: a service has no name", c.Name)
			}
			if s.PackageFolder == "" {
				return fmt.Errorf("cluster %q: service %s has no packageFolder", c.Name, s.Name)
			}
			for _, comp := range s.Components {
				if comp.Name == "" {
					return fmt.Errorf("cluster %q: service %s has a component without a name", c.Name, s.Name)
				}
				if comps[comp.Name] {
					return fmt.Errorf("cluster %q: component %s is defined twice", c.Name, comp.Name)
				}
				comps[comp.Name] = true
				switch comp.Category {
				case "", "MASTER", "SLAVE", "CLIENT":
				default:
					return fmt.Errorf("cluster %q: component %s: category %q is not MASTER, SLAVE or CLIENT", c.Name, comp.Name, comp.Category)
				}
			}
		}
		for _, h := range c.Hosts {
			if h.Name == "" {
				return fmt.Errorf("cluster %q: a host has no name", c.Name)
			}
			if h.Name != strings.ToLower(h.Name) {
				return fmt.Errorf("cluster %q: host %q: agents register lower-case names", c.Name, h.Name)
			}
			if hostNames[h.Name] {
				return fmt.Errorf("host %q is placed twice (a host belongs to one cluster)", h.Name)
			}
			hostNames[h.Name] = true
			if h.ID != 0 {
				if other, dup := hostIDs[h.ID]; dup || h.ID < 0 {
					return fmt.Errorf("host %q: id %d is negative or also used by %q", h.Name, h.ID, other)
				}
				hostIDs[h.ID] = h.Name
			}
			for _, comp := range h.Components {
				if !comps[comp] {
					return fmt.Errorf("cluster %q: host %s has component %s, which no service defines", c.Name, h.Name, comp)
				}
			}
		}
		for _, r := range c.Recovery {
			if !comps[r.Component] {
				return fmt.Errorf("cluster %q: recovery of unknown component %s", c.Name, r.Component)
			}
			switch r.DesiredState {
			case "", protocol.ComponentStarted, protocol.ComponentInstalled:
			default:
				return fmt.Errorf("cluster %q: recovery of %s: desiredState %q is not STARTED or INSTALLED", c.Name, r.Component, r.DesiredState)
			}
		}
		for _, d := range c.AlertDefinitions {
			if d.Name == "" {
				return fmt.Errorf("cluster %q: an alert definition has no name", c.Name)
			}
			if d.DefinitionID != 0 {
				if defIDs[d.DefinitionID] || d.DefinitionID < 0 {
					return fmt.Errorf("alert definition %q: definitionId %d is negative or used twice", d.Name, d.DefinitionID)
				}
				defIDs[d.DefinitionID] = true
			}
			if d.ComponentName != "" && d.ComponentName != agentComponent && !comps[d.ComponentName] {
				return fmt.Errorf("cluster %q: alert definition %q names unknown component %s", c.Name, d.Name, d.ComponentName)
			}
			if len(d.Source) == 0 || !json.Valid(d.Source) {
				return fmt.Errorf("cluster %q: alert definition %q needs a JSON source", c.Name, d.Name)
			}
		}
	}
	if sc.Options.JoinUnknownHosts {
		t := sc.Options.JoinTemplate
		if len(sc.Clusters) == 0 {
			return errors.New("options.joinUnknownHosts needs a cluster to join")
		}
		if t != nil {
			c := sc.clusterByName(t.Cluster)
			if t.Cluster != "" && c == nil {
				return fmt.Errorf("options.joinTemplate: unknown cluster %q", t.Cluster)
			}
			if c == nil {
				c = &sc.Clusters[0]
			}
			for _, comp := range t.Components {
				if c.component(comp) == nil {
					return fmt.Errorf("options.joinTemplate: cluster %q has no component %s", c.Name, comp)
				}
			}
		}
	}
	return sc.validateTimeline()
}

func (sc *Scenario) validateTimeline() error {
	ids := map[string]bool{}
	for i, st := range sc.Timeline {
		name := st.ID
		if name == "" {
			name = fmt.Sprintf("#%d", i+1)
		}
		if st.ID != "" {
			if ids[st.ID] {
				return fmt.Errorf("timeline: step id %q is used twice", st.ID)
			}
			if strings.Contains(st.ID, ":") || st.ID == AfterStart || st.ID == AfterRegistered {
				return fmt.Errorf("timeline: step id %q may not contain ':' or be a trigger name", st.ID)
			}
		}
		switch after, _ := splitAfter(st.After); after {
		case "":
			return fmt.Errorf("timeline step %s: \"after\" is required", name)
		case AfterStart, AfterRegistered:
		default:
			if !ids[after] {
				return fmt.Errorf("timeline step %s: after %q names no earlier step", name, st.After)
			}
		}
		if _, cond := splitAfter(st.After); cond == "" && strings.Contains(st.After, ":") {
			return fmt.Errorf("timeline step %s: after %q: the suffix must be :failed or :done", name, st.After)
		}
		if st.Host != "" {
			if _, err := path.Match(st.Host, ""); err != nil {
				return fmt.Errorf("timeline step %s: bad host pattern %q", name, st.Host)
			}
		}
		n := 0
		for _, set := range []bool{st.Command != nil, len(st.Commands) > 0, st.Push != nil, st.Configs != nil, st.RestartAgent} {
			if set {
				n++
			}
		}
		if n > 1 {
			return fmt.Errorf("timeline step %s: one action per step (command, commands, push, configs or restartAgent)", name)
		}
		if n == 0 && st.Message == "" {
			return fmt.Errorf("timeline step %s does nothing", name)
		}
		for _, cs := range st.commandSpecs() {
			if cs.RoleCommand == "" {
				return fmt.Errorf("timeline step %s: a command needs a roleCommand", name)
			}
			if cs.RoleCommand != protocol.RoleCommandActionExecute && cs.Component == "" && cs.RoleCommand != protocol.RoleCommandServiceCheck {
				return fmt.Errorf("timeline step %s: %s command needs a component", name, cs.RoleCommand)
			}
		}
		if st.Push != nil && st.Push.Topic == "" {
			return fmt.Errorf("timeline step %s: push needs a topic", name)
		}
		if st.ID != "" {
			ids[st.ID] = true
		}
	}
	return nil
}

// splitAfter splits "install:failed" into ("install", "failed"); a plain
// step id yields condition "completed". Unknown suffixes yield "".
func splitAfter(after string) (string, string) {
	id, cond, ok := strings.Cut(after, ":")
	if !ok {
		return after, condCompleted
	}
	switch cond {
	case condFailed, condDone:
		return id, cond
	}
	return id, ""
}

const (
	condCompleted = "completed"
	condFailed    = "failed"
	condDone      = "done"
)

func (st *Step) commandSpecs() []CommandSpec {
	if st.Command != nil {
		return []CommandSpec{*st.Command}
	}
	return st.Commands
}

func (sc *Scenario) clusterByName(name string) *ClusterSpec {
	for i := range sc.Clusters {
		if sc.Clusters[i].Name == name {
			return &sc.Clusters[i]
		}
	}
	return nil
}

func (c *ClusterSpec) component(name string) *ComponentSpec {
	for i := range c.Services {
		for j := range c.Services[i].Components {
			if c.Services[i].Components[j].Name == name {
				return &c.Services[i].Components[j]
			}
		}
	}
	return nil
}

func clusterID(c *ClusterSpec, index int) int64 {
	if c.ID != 0 {
		return c.ID
	}
	return int64(index + 1)
}

// agentComponent is the component name of host-wide alert definitions
// (the agent itself), which go to every host of the cluster.
const agentComponent = "AMBARI_AGENT"

func truncateText(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
