// Package protocol holds the Ambari agent <-> server wire protocol as Go
// types: STOMP destinations, the application headers the protocol uses, and
// every JSON message the agent and the server exchange. Both the agent and
// ambari-sim import it. Data the agent only passes through to stack scripts
// (configurations, command parameters, repository files) stays raw JSON or
// generic maps here.
//
// Field names and JSON types are exact: the server binds them by name, and
// where the Python agent sends a string for a number (or the reverse) so do
// we. docs/protocol.md describes each message.
package protocol
