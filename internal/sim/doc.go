// Package sim is ambari-sim, a simulated Ambari server: the server side of
// the agent protocol (docs/protocol.md §11), driven by a scenario, with a
// record of everything agents report. It is how the Go agent is tried on
// one machine without a cluster, how end-to-end tests drive it (in
// process: New, Start, the Wait helpers, Stop/Start for a "server
// restart"), and how many agents are scale-tested against one server.
//
// It owns:
//
//   - the agent ports: HTTPS url_port (/ca, /connection_info, /cert/ca,
//     /certs/<host> signing agent CSRs with the simulator's CA) and WSS
//     secured_url_port (/agent/stomp/v1, optionally requiring client
//     certificates);
//   - STOMP sessions over internal/stompws: CONNECTED, subscriptions keyed
//     by destination, one MESSAGE reply per SEND on /user/ with the
//     correlationId, a bounded write queue per session, the registration
//     throttle;
//   - the server's controllers: /register, /heartbeat with the server's
//     response-id rules, the five cache requests answered by content hash,
//     every /reports/* destination;
//   - the model the caches are served from (topology, metadata,
//     configurations, host-level params, alert definitions), updated by
//     every push so hashes stay consistent;
//   - commands: task ids, execution commands built from the scenario, one
//     unacknowledged message per host with re-sends, cancels;
//   - the scenario timeline (commands after registration, after other
//     steps);
//   - /resources: stack directories zipped on demand with stable hashes;
//   - the control API (HTTP JSON) and the Go API used by tests.
//
// It replaces nothing of the Python agent; on the server side it stands in
// for ambari-server's agent STOMP endpoint, HeartbeatController,
// AgentCurrentDataController, AgentReportsController, the agent data
// holders and the execution-command delivery of AgentCommandsPublisher.
//
// Where it deliberately differs from the server: commands go to a host
// only once its session has subscribed to /user/commands (the server sends
// at once and relies on re-sends), an unacknowledged message is re-sent
// to the host's next session instead of to the dead one, and messageId
// keeps counting across Stop/Start so records stay unambiguous.
package sim
