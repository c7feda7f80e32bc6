// Package monitor shows the agent's liveness model (internal/liveness) to
// the three readers that need it: systemd (READY, STATUS, WATCHDOG and
// STOPPING notifications), the operator's `ambari-agent status` (a small
// state file rewritten atomically at each heartbeat) and monitoring (an
// HTTP server on 127.0.0.1 with /healthz, Prometheus /metrics and
// /debug/pprof/). The Python agent has none of these.
package monitor
