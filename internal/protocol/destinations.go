package protocol

// Agent-to-server destinations (SEND).
const (
	Register                = "/register"
	Heartbeat               = "/heartbeat"
	AgentsTopologies        = "/agents/topologies"
	AgentsMetadata          = "/agents/metadata"
	AgentsConfigs           = "/agents/configs"
	AgentsHostLevelParams   = "/agents/host_level_params"
	AgentsAlertDefinitions  = "/agents/alert_definitions"
	ReportsComponentStatus  = "/reports/component_status"
	ReportsCommandsStatus   = "/reports/commands_status"
	ReportsHostStatus       = "/reports/host_status"
	ReportsAlertsStatus     = "/reports/alerts_status"
	ReportsComponentVersion = "/reports/component_version"
	ReportsResponses        = "/reports/responses"
)

// Server-to-agent destinations (SUBSCRIBE).
const (
	UserReplies          = "/user/"
	UserCommands         = "/user/commands"
	UserConfigs          = "/user/configs"
	UserHostLevelParams  = "/user/host_level_params"
	UserAlertDefinitions = "/user/alert_definitions"
	UserAgentActions     = "/user/agent_actions"
	EventsMetadata       = "/events/metadata"
	EventsTopologies     = "/events/topologies"
	EventsEncryptionKey  = "/events/encryption_key"
)

// STOMP headers with an Ambari meaning.
const (
	// HeaderCorrelationID is on every agent SEND and copied onto the reply.
	HeaderCorrelationID = "correlationId"
	// HeaderMessageID marks a push the agent must acknowledge on
	// /reports/responses (not STOMP's own message-id).
	HeaderMessageID = "messageId"
)

// Names of the five cached data sets, as used for the cache files
// (<name>.json, .<name>.hash).
const (
	CacheTopology         = "topology"
	CacheMetadata         = "metadata"
	CacheConfigurations   = "configurations"
	CacheHostLevelParams  = "host_level_params"
	CacheAlertDefinitions = "alert_definitions"
)

// CacheSync is one step of the post-registration cache synchronisation, in
// the order the agent performs them.
type CacheSync struct {
	Cache   string // cache name
	Topic   string // push topic subscribed before the request
	Request string // request destination
}

// CacheSyncOrder is the order of docs/protocol.md §2.5.
var CacheSyncOrder = []CacheSync{
	{CacheTopology, EventsTopologies, AgentsTopologies},
	{CacheMetadata, EventsMetadata, AgentsMetadata},
	{CacheConfigurations, UserConfigs, AgentsConfigs},
	{CacheHostLevelParams, UserHostLevelParams, AgentsHostLevelParams},
	{CacheAlertDefinitions, UserAlertDefinitions, AgentsAlertDefinitions},
}

// PreRegistrationTopics are subscribed right after CONNECTED, in order.
var PreRegistrationTopics = []string{UserReplies, UserAgentActions, EventsEncryptionKey}
