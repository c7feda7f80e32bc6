package agent

// Version is the agent's build version, set at link time with
// -ldflags "-X github.com/ambari-go/ambari-agent/internal/agent.Version=...".
var Version = "dev"

// Hash is the source revision of the build, set at link time.
var Hash = "unknown"
