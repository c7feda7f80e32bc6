// Package recovery is the agent's recovery manager: for every component the
// server marks recoverable it keeps the desired state (from the server) and
// the current state (from status checks and command outcomes), and when they
// differ it produces one AUTO_EXECUTION_COMMAND (START, INSTALL or STOP) at a
// time, within per-component rate limits. It replaces the Python agent's
// RecoveryManager.py and its call sites in ActionQueue.py,
// ComponentStatusExecutor.py and the configurations / host-level-params
// listeners.
//
// Inputs: cluster-env of the recovery cluster (mode and limits) and
// recoveryConfig.components of the host-level params (the recoverable set
// and desired states), read at New from the loaded caches and again on every
// cache change while Run is running; the commands' starts and outcomes as
// an observer of the action queue (CommandStarted, CommandFinished), and
// live states from the status loop (ObserveLiveStatus). Output: Commands,
// which the action queue calls when it is idle, and Counters for RECOVERY
// alerts.
//
// Maintenance mode: the agent has no maintenance logic of its own (neither
// has the Python agent in this revision). The server leaves components out
// of recoveryConfig.components when they, their service or their host are in
// maintenance, and pushes new host-level params when that changes; the
// replaced recoverable set is how maintenance reaches this package.
//
// Where this package deliberately differs from the Python agent:
//
//   - Counters persist in <prefix>/recovery_state.json (written atomically)
//     so the limits survive an agent restart. "Lifetime" then means: the
//     lifetime count carries over a restart while the component's last
//     attempt is less than one recovery window old, and starts over (as in
//     Python) once a whole window passed without an attempt. A component
//     crash-looping across agent restarts therefore does not get a fresh
//     budget from each restart, while an operator who restarts the agent a
//     window after recovery gave up gets the Python behaviour back. A
//     damaged file is logged and ignored.
//   - Optional exponential backoff ([agent] recovery_backoff, off by
//     default): an attempt followed by another one within a window counts as
//     failed; after n such failures the next attempt waits
//     min(W, d + jitter·d/4) with d = max(G, base·2^n), G the retry gap and
//     W the window. The streak ends when a window passes with no attempt.
//     It only ever delays attempts the Python rules would allow.
//   - A RESTART custom command whose name is in commandParams.custom_command
//     (where the server puts it) counts as RESTART; Python only looks at a
//     top-level custom_command, so its RESTART handling never runs.
//   - FULL mode's "stale configuration" re-install/restart is left out: no
//     code path in the Python agent ever marks a configuration stale.
//   - The messages Python logs at INFO on every idle queue iteration (retry
//     gap not passed, recovery paused) are DEBUG here, and reaching the
//     lifetime limit is logged once.
//   - A command without roleCommand is ignored instead of failing.
package recovery
