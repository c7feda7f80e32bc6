// Package liveness is the agent's one model of whether its long-running
// parts are alive: the server link, heartbeat sending, the status loop, the
// action queue intake, the alert scheduler, the report journal and the
// resident Python runner each hold a Part and record their progress on it.
//
// A part is stalled when it makes no progress within its bound, a duration
// derived from its own interval. Three habits cover every loop:
//
//   - Beat: "I made progress, expect the next beat within my bound" (a
//     periodic loop beats once per round);
//   - Idle: "I wait for work by design" (no commands queued, no session to
//     send heartbeats on); an idle part is never stalled;
//   - Begin/end: "I am inside one unit of work" (a status check, a report
//     send); a unit still open past its bound stalls the part even while
//     the part beats, so one wedged check is seen although the loop goes on.
//
// systemd's watchdog, /healthz, the status file and `ambari-agent status`
// all read the same Registry.Check. The Python agent has no equivalent; its
// threads die or hang silently.
package liveness
