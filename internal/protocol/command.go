package protocol

// CommandHeader is the part of an execution command the agent itself acts
// on (docs/protocol.md §5.2, §5.3), decoded once when the command is taken
// in. The command's decoded JSON object travels next to it and stays the
// source of truth for what scripts receive; the header only spares every
// package a re-read of the object by key.
type CommandHeader struct {
	// CommandType is EXECUTION_COMMAND, BACKGROUND_EXECUTION_COMMAND or
	// AUTO_EXECUTION_COMMAND.
	CommandType string
	TaskID      int64
	// RequestID is requestId, 0 when missing (recovery commands).
	RequestID int64
	// CommandID is commandId as received and echoed as actionId: a string
	// from the server, a number from the recovery manager.
	CommandID any
	// ClusterID and ServiceName are NullValue when missing or null, as in
	// the command object itself.
	ClusterID   string
	ServiceName string
	Role        string
	RoleCommand string
	// CustomCommand is commandParams.custom_command: the script's command
	// name of a CUSTOM_COMMAND, echoed as customCommand in final reports.
	CustomCommand string
	// TopLevelCustomCommand is a custom_command at the top of the command,
	// which the server never sends; the Python recovery code reads it there
	// (docs/behaviour.md §8.4).
	TopLevelCustomCommand string
	// RetryEnabled is commandParams.command_retry_enabled == "true": the
	// command is retried and may run in parallel (docs/behaviour.md §5.2,
	// §5.3).
	RetryEnabled bool
	// MaxDurationForRetries is commandParams.max_duration_for_retries in
	// seconds; 0 when missing or unreadable (one attempt).
	MaxDurationForRetries int64
}

// NullValue is the clusterId and serviceName of a command that has none,
// as the Python agent substitutes it.
const NullValue = "null"

// ForCluster reports whether the command runs for a real cluster (not "-1",
// not missing).
func (h *CommandHeader) ForCluster() bool {
	return h.ClusterID != NoCluster && h.ClusterID != NullValue
}

// IsBackground reports whether the command is a
// BACKGROUND_EXECUTION_COMMAND.
func (h *CommandHeader) IsBackground() bool { return h.CommandType == BackgroundExecutionCommand }
