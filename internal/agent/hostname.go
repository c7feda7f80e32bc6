package agent

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/ambari-go/ambari-agent/internal/config"
)

// ResolveHostname returns this host's name as the agent registers it:
// the output of [agent] hostname_script when set and successful, else the
// FQDN, lower-cased.
func ResolveHostname(ctx context.Context, cfg *config.Config) string {
	if s := cfg.Agent.HostnameScript; s != "" {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, s).Output(); err == nil {
			if h := strings.TrimSpace(string(out)); h != "" {
				return strings.ToLower(h)
			}
		}
	}
	h, _ := os.Hostname()
	return strings.ToLower(h)
}
