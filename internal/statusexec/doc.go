// Package statusexec is the agent's component status loop and the
// one-shot component version report. It replaces the Python agent's
// ComponentStatusExecutor.py and ComponentVersionReporter.py (and the two
// state names still used from LiveStatus.py).
//
// What it owns:
//
//   - the periodic cycle (every status_commands_run_interval): one status
//     check per component this host runs in every cluster and per command in
//     metadata status_commands_to_run, skipping components with an
//     execution command in flight; exit code 0 means STARTED, anything else
//     INSTALLED;
//   - change detection against the value the server last acknowledged (not
//     the last computed one), the reset of that value when a command starts,
//     the immediate check after a command finishes and the discard of cycle
//     results such a check made stale;
//   - the forced resend of all acknowledged statuses after every
//     registration and the bookkeeping of clusters that disappeared;
//   - telling the recovery manager what it saw;
//   - the one record of which components have a command's scripts running,
//     kept from what the action queue tells it as an observer
//     (AttemptStarted, AttemptEnded, CommandFinished).
//
// Checks run through a StatusRunner (the orchestrator's RunStatus) and
// reach the server through a Sender that fails fast when the agent is not
// registered, so nothing here ever waits on a dead link. A cycle sends one
// report with all its changes, as the Python agent does; since slow checks
// do not hold it, a cycle ends at most SlowCheckAfter after its last check
// started, and the next one begins Interval later.
//
// Deliberate differences from the Python agent, each commented where it
// lives:
//
//   - checks run concurrently (Config.Concurrency, default 4) instead of one
//     after another, and a check that runs longer than Config.SlowCheckAfter
//     gives its slot back and no longer holds its cycle's report: its result
//     is sent on its own when it finally arrives, and the component is left
//     out of later cycles until then;
//   - a cycle result is stale, and dropped, when a command started for the
//     component or an immediate post-command report was sent for it after
//     the check began (Python compares against a per-cycle list of
//     post-command reports); stale results do not reach the recovery
//     manager either;
//   - the forced resend after registration leaves out statuses reset by a
//     command (Python sends them as null, which the server ignores);
//   - an acknowledgement does not restore a status that a command start
//     reset while the report was on its way;
//   - acknowledged statuses of components no longer placed on this host are
//     forgotten, not only those of vanished clusters;
//   - the post-command check runs on its own goroutine, so the action queue
//     is not held up by a status script; its result still reaches the
//     server when the next command for the component has started
//     meanwhile (as the Python agent's check, which runs before the next
//     command starts, always does), and is dropped only when that command
//     has ended too, in favour of a new check for it.
package statusexec
