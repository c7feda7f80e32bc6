package agent

import (
	"errors"
	"os"
	"time"

	"github.com/ambari-go/ambari-agent/internal/monitor"
)

// PrintState adds to `status` what the running daemon last wrote in its
// state file (monitor.StateFile): registration, last heartbeat, version,
// uptime, pending reports and stalled parts; verbose adds every part. It
// works without the HTTP port.
func (c *Control) PrintState(verbose bool) {
	path := monitor.StateFile(c.Config.PidFile())
	st, err := monitor.ReadState(path)
	if errors.Is(err, os.ErrNotExist) {
		c.printf("No state file at %s yet (the agent writes it once it runs)", path)
		return
	}
	if err != nil {
		c.printf("Cannot read the agent's state: %v", err)
		return
	}
	if pid, err := ReadPid(c.Config.PidFile()); err == nil && pid != st.Pid {
		c.printf("WARNING: %s was written by process %d, not by the running agent %d", path, st.Pid, pid)
	}
	monitor.PrintStatus(c.Out, st, time.Now(), verbose)
}
