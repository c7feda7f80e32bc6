// Package heartbeat owns the agent's link to the Ambari server: it connects
// (STOMP over secure WebSocket), subscribes, registers, synchronises the
// five cluster caches by hash, subscribes to commands, and then sends a
// /heartbeat every 10 s; on any failure it tears the session down, backs off
// exponentially with jitter (capped by max_reconnect_retry_delay) and
// registers again.
//
// It replaces the Python agent's HeartbeatThread.py, the listeners in
// listeners/ (they dispatch pushes to the caches and the action queue) and
// the connection handling of security.py / NetUtil.py.
//
// Other components reach the server only through Link.Request, which fails
// fast with ErrNotConnected while no registered session exists, so nothing
// ever blocks on a dead link. Differences from the Python agent:
//   - reconnects back off exponentially with jitter instead of a fixed 10 s;
//   - a closed WebSocket is noticed at once, not at the next heartbeat;
//   - request deadlines are hard (the Python wait restarts on any reply);
//   - the STOMP connection goes to the server that answered the startup
//     probe, not to the raw (possibly comma-separated) hostname value.
package heartbeat
