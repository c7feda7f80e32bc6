package protocol

import "encoding/json"

// RegisterRequest is the body of /register.
type RegisterRequest struct {
	ID              int64           `json:"id"` // always -1
	Timestamp       int64           `json:"timestamp"`
	Hostname        string          `json:"hostname"`
	CurrentPingPort int             `json:"currentPingPort"`
	PublicHostname  string          `json:"publicHostname"`
	HardwareProfile HardwareProfile `json:"hardwareProfile"`
	AgentEnv        AgentEnv        `json:"agentEnv"`
	AgentVersion    string          `json:"agentVersion"`
	Prefix          string          `json:"prefix"`
	AgentStartTime  int64           `json:"agentStartTime"`
}

// RegisterResponse is the reply to /register. Failure is signalled by a
// non-zero ExitStatus (Status stays "OK").
type RegisterResponse struct {
	Status     string `json:"status,omitempty"`
	ExitStatus int    `json:"exitstatus"`
	Log        string `json:"log,omitempty"`
	// ID is the first response id; nil when missing (an error reply).
	ID *int64 `json:"id"`
}

// HeartbeatRequest is the body of /heartbeat.
type HeartbeatRequest struct {
	ID          int64        `json:"id"`
	StaleAlerts []StaleAlert `json:"staleAlerts,omitempty"`
}

// StaleAlert names an alert definition that has not run for too long.
type StaleAlert struct {
	ID        int64 `json:"id"`        // definitionId
	Timestamp int64 `json:"timestamp"` // ms of the last run
}

// HeartbeatResponse is the reply to /heartbeat; the agent reads only ID.
type HeartbeatResponse struct {
	Status       string `json:"status,omitempty"`
	ID           *int64 `json:"id"`
	RestartAgent bool   `json:"restartAgent,omitempty"`
}

// HashRequest is the body of the /agents/* cache requests. A nil Hash is
// sent as null.
type HashRequest struct {
	Hash *string `json:"hash"`
}

// StatusReply is the reply to reports and acknowledgements.
type StatusReply struct {
	Status string `json:"status"`
}

// StatusOK is the status of an acknowledged report.
const StatusOK = "OK"

// IsOK reports whether a reply body is {"status":"OK"} (extra fields
// allowed).
func IsOK(body []byte) bool {
	var r StatusReply
	return json.Unmarshal(body, &r) == nil && r.Status == StatusOK
}

// MessageAck is the body of /reports/responses acknowledging a push that
// carried a messageId header.
type MessageAck struct {
	MessageID string `json:"messageId"` // the header value, as a string
	Status    string `json:"status"`    // "OK" or "ERROR"
	Reason    string `json:"reason,omitempty"`
}

// AgentAction is a push on /user/agent_actions.
type AgentAction struct {
	ActionName string `json:"actionName"`
}

// ActionRestartAgent is the only agent action.
const ActionRestartAgent = "RESTART_AGENT"

// EncryptionKeyEvent is a push on /events/encryption_key. Never logged.
type EncryptionKeyEvent struct {
	EncryptionKey string `json:"encryptionKey"`
}

// CommandsEvent is a push on /user/commands.
type CommandsEvent struct {
	RequiredConfigTimestamp *int64                     `json:"requiredConfigTimestamp,omitempty"`
	Clusters                map[string]ClusterCommands `json:"clusters"`
}

// ClusterCommands are the commands and cancels of one cluster ("-1" for
// commands bound to no cluster).
type ClusterCommands struct {
	// Commands stay raw: the agent passes them through to scripts after
	// merging them over its caches.
	Commands       []json.RawMessage `json:"commands,omitempty"`
	CancelCommands []CancelCommand   `json:"cancelCommands,omitempty"`
}

// CancelCommand asks the agent to drop or kill a task.
type CancelCommand struct {
	CommandType  string `json:"commandType"` // CANCEL_COMMAND
	TargetTaskID int64  `json:"target_task_id"`
	Reason       string `json:"reason"`
}

// Command types.
const (
	ExecutionCommand           = "EXECUTION_COMMAND"
	BackgroundExecutionCommand = "BACKGROUND_EXECUTION_COMMAND"
	AutoExecutionCommand       = "AUTO_EXECUTION_COMMAND"
	StatusCommand              = "STATUS_COMMAND"
	GetVersionCommand          = "GET_VERSION"
	CancelCommandType          = "CANCEL_COMMAND"
)

// Command statuses in reports.
const (
	StatusInProgress = "IN_PROGRESS"
	StatusCompleted  = "COMPLETED"
	StatusFailed     = "FAILED"
)

// Exit codes with a meaning in command reports.
const (
	ExitCodeInProgress = 777 // in-progress reports and started background commands
	ExitCodeTimedOut   = 999 // killed by the agent after command_timeout
)

// CommandsStatusReport is the body of /reports/commands_status.
type CommandsStatusReport struct {
	Clusters map[string][]CommandReport `json:"clusters"`
}

// CommandReport is one command's report (forms A, B and C of
// docs/protocol.md §6.1). Empty fields are omitted so each form carries exactly its
// fields.
type CommandReport struct {
	Role          string `json:"role"`
	ActionID      any    `json:"actionId"` // commandId: a string from the server, an int for recovery commands
	TaskID        int64  `json:"taskId"`
	ClusterID     string `json:"clusterId"`
	ServiceName   string `json:"serviceName"`
	RoleCommand   string `json:"roleCommand"`
	CustomCommand string `json:"customCommand,omitempty"`
	// Form A only: file paths.
	TmpOut string `json:"tmpout,omitempty"`
	TmpErr string `json:"tmperr,omitempty"`
	// Forms B and C.
	Stdout   *string `json:"stdout,omitempty"`
	Stderr   *string `json:"stderr,omitempty"`
	ExitCode *int    `json:"exitCode,omitempty"`
	// StructuredOut is a path (form A) or JSON text (forms B, C): always a
	// JSON string.
	StructuredOut *string `json:"structuredOut,omitempty"`
	Status        string  `json:"status"`
}

// ComponentStatusReport is the body of /reports/component_status.
type ComponentStatusReport struct {
	Clusters map[string][]ComponentStatus `json:"clusters"`
}

// ComponentStatus is one component's live state.
type ComponentStatus struct {
	ServiceName   string `json:"serviceName"`
	ComponentName string `json:"componentName"`
	Command       string `json:"command"` // STATUS
	// Status is STARTED or INSTALLED; nil (null) in the forced resend for a
	// component whose acknowledged status was reset by a running command.
	Status    *string `json:"status"`
	ClusterID string  `json:"clusterId"`
}

// Component live states.
const (
	ComponentStarted   = "STARTED"
	ComponentInstalled = "INSTALLED"
)

// ComponentVersionReport is the body of /reports/component_version.
type ComponentVersionReport struct {
	Clusters map[string][]ComponentVersion `json:"clusters"`
}

// ComponentVersion is one component's version from GET_VERSION.
type ComponentVersion struct {
	ServiceName   string `json:"serviceName"`
	ComponentName string `json:"componentName"`
	Version       string `json:"version"`
	ClusterID     string `json:"clusterId"`
}

// AlertResult is one element of the /reports/alerts_status array.
type AlertResult struct {
	Name         string `json:"name"`
	ClusterID    string `json:"clusterId"`
	Timestamp    int64  `json:"timestamp"`
	DefinitionID int64  `json:"definitionId"`
	State        string `json:"state"`
	Text         string `json:"text"`
}

// Alert states.
const (
	AlertOK       = "OK"
	AlertWarning  = "WARNING"
	AlertCritical = "CRITICAL"
	AlertUnknown  = "UNKNOWN"
	AlertSkipped  = "SKIPPED"
)
