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
package agent
