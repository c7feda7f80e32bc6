// Package hoststatus sends the periodic host status report: the cheap host
// checks (agentEnv) and the disk list, every state_interval_seconds, while
// registered, and only when it differs from the report the server last
// acknowledged (agentTimeStampAtReporting aside). The last report is
// forgotten at every registration, so the first check after registering
// always sends, and that check runs right away.
//
// It replaces the Python agent's HostStatusReporter.py; the facts
// themselves come from internal/hostinfo.
//
// Differences from the Python agent: the first report after a
// registration goes out at once instead of up to one interval later, and an
// interval of 0 means the default instead of a busy loop.
package hoststatus
