package statusexec

import (
	"context"
	"testing"

	"github.com/ambari-go/ambari-agent/internal/cache"
	"github.com/ambari-go/ambari-agent/internal/protocol"
)

type noRunner struct{}

func (noRunner) RunStatus(context.Context, string, string, string, string) (int, string, map[string]any, error) {
	return 0, "", nil, nil
}

// The executor's record of commands in flight counts attempts per cluster
// and component: a component stays busy until the last of two parallel
// commands ended, and a command bound to no cluster is not counted.
func TestCommandsInFlightAreCounted(t *testing.T) {
	e, err := New(Config{Caches: cache.Open("", nil), Runner: noRunner{}, Sender: newSender()})
	if err != nil {
		t.Fatal(err)
	}
	a := header("1", "A")
	e.AttemptStarted(a)
	e.AttemptStarted(a)
	e.AttemptEnded(a)
	if !e.commandRunning("1", "A") {
		t.Fatal("A idle while a second command still runs")
	}
	if e.commandRunning("2", "A") || e.commandRunning("1", "B") {
		t.Fatal("another cluster's or component's command counted")
	}
	e.AttemptEnded(a)
	if e.commandRunning("1", "A") {
		t.Fatal("A busy after both commands ended")
	}
	for _, id := range []string{protocol.NoCluster, protocol.NullValue} {
		e.AttemptStarted(header(id, "A"))
		if e.commandRunning(id, "A") {
			t.Errorf("a command for cluster %q counted", id)
		}
		e.AttemptEnded(header(id, "A"))
	}
	if len(e.commands) != 0 {
		t.Errorf("record not empty after every command ended: %v", e.commands)
	}
}
