package hostinfo

import (
	"reflect"

	"github.com/ambari-go/ambari-agent/internal/protocol"
)

// SameHostStatus reports whether two host status reports carry the same facts:
// agentTimeStampAtReporting is ignored, and an empty list equals a missing one.
// The reporter sends a report only when it differs from the last acknowledged
// one.
func SameHostStatus(a, b protocol.HostStatus) bool {
	return reflect.DeepEqual(normalizeStatus(a), normalizeStatus(b))
}

func normalizeStatus(s protocol.HostStatus) protocol.HostStatus {
	s.AgentEnv.HostHealth.AgentTimeStampAtReporting = 0
	s.Mounts = nilIfEmpty(s.Mounts)
	s.AgentEnv.HostHealth.LiveServices = nilIfEmpty(s.AgentEnv.HostHealth.LiveServices)
	s.AgentEnv.Alternatives = nilIfEmpty(s.AgentEnv.Alternatives)
	s.AgentEnv.ExistingUsers = nilIfEmpty(s.AgentEnv.ExistingUsers)
	s.AgentEnv.StackFoldersAndFiles = nilIfEmpty(s.AgentEnv.StackFoldersAndFiles)
	return s
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}
