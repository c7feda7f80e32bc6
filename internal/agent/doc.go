// Package agent is the initializer of the Go ambari-agent: it builds every
// component from the configuration, runs them under one context, stops them
// in a fixed order within a bounded time, and implements the process model
// around them: the operator commands (start, stop, status, restart, reset),
// the daemon's pid file, signals and self-restart, the ping port listener and
// the data cleaner.
//
// It replaces the Python agent's main.py, AmbariAgent.py (the restart loop),
// InitializerModule.py, PingPortListener.py, DataCleaner.py, ExitHelper.py
// and the shell control script.
//
// Testing and scale simulation: the environment variable
// AMBARI_AGENT_ALERT_MINUTE (a Go duration such as "2s", at least 100ms)
// replaces the minute that alert definition intervals are counted in, so
// end-to-end tests and many-agent simulations see alerts run, time out and
// go stale in seconds. It is deliberately not an ini key; production agents
// never set it.
package agent
