// Package actionqueue takes the commands the Ambari server pushes on
// /user/commands, runs them one by one or in parallel through the
// orchestrator, retries and cancels them, and reports their progress and
// outcome on /reports/commands_status.
//
// It replaces the Python agent's ActionQueue.py, CommandStatusDict.py,
// CommandStatusReporter.py, BackgroundCommandExecutionHandle.py and
// listeners/CommandsEventListener.py (docs/behaviour.md §5.1–5.3, §5.6–5.8;
// docs/protocol.md §5.1, §5.5, §5.6, §6.1).
//
// What it owns:
//
//   - intake: cancels of a message before its commands, normalisation, a
//     bounded main queue and a background queue;
//   - execution: serial, or retry-enabled commands in parallel (bounded);
//     retries with doubling delays inside max_duration_for_retries; cancel of
//     queued and running commands; the rescheduled-cancel rule; background
//     commands; the recovery manager's injection point;
//   - announcing every command's start, attempts and outcome to its
//     observers (the recovery manager, the status loop), the one place a
//     command's life is watched from;
//   - the command-status store and its reports (forms A, B and C), the
//     periodic cycle and the 1,950,000-character split;
//   - the report journal: every report state change is written to
//     <prefix>/reports/ before it is sent and removed only when the server
//     acknowledged a message holding the final report. Reports survive a
//     lost link and an agent restart; a command that was running when the
//     agent died is reported FAILED after the restart.
//
// Deliberate differences from the Python agent (each spot has a comment):
//
//   - reports are never lost: the Python agent drops reports produced while
//     unregistered and forgets everything on restart (AMBARI-25589);
//   - a final report is dropped once any send holding it was acknowledged,
//     so it is normally sent once rather than twice;
//   - parallel commands are bounded (Config.ParallelLimit);
//   - background commands start from their own goroutine, not between two
//     foreground commands;
//   - a cancel wakes only the retry wait of the command it targets;
//   - recovery (AUTO_EXECUTION) reports are sent immediately only, as in
//     Python, but kept until acknowledged (and then deleted) instead of
//     being lost when unregistered or accumulating in memory forever;
//   - the split never emits an empty message;
//   - a command cancelled during a retry wait carries the abort reason;
//   - a background command that cannot start is reported FAILED (Python
//     leaves it IN_PROGRESS forever), and its final report carries
//     customCommand like any other;
//   - structuredOut is compact JSON text, and an early failure's is "{}"
//     rather than Python's quoted "\"{}\"".
package actionqueue
