package orchestrator

import (
	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/procinfo"
)

// ReapOrphan stops a command that an earlier agent process started and
// that still runs (the agent was killed, or stopped, meanwhile): the
// server is told it FAILED, and if it sends the command again two copies
// must not run at once. id is the script as recorded when it started; it
// is stopped only if that very process still runs (same pid, start time
// and boot) and still leads its process group. Its process tree is killed
// with the rules of a timeout kill (package managers are spared). A daemon
// the command started and that left its tree (double fork, setsid and
// exit) is not in the tree and is never touched. It returns whether the
// command was running.
func (o *Orchestrator) ReapOrphan(id procinfo.Identity) bool {
	if ok, _ := id.Same(); !ok {
		return false
	}
	st, err := procinfo.ReadStat(id.PID)
	if err != nil || !st.Alive() || (id.PGID != 0 && st.PGID != id.PGID) {
		return false
	}
	o.log.WithFields(logrus.Fields{"pid": id.PID, "pgid": st.PGID}).
		Warn("A command started before the agent restarted is still running; stopping its process tree")
	o.killer.kill(id.PID)
	return true
}
