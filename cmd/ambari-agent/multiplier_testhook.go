//go:build e2ehooks

package main

import (
	"context"
	"os"
	"strings"
	"time"

	"github.com/ambari-go/ambari-agent/internal/agent"
	"github.com/ambari-go/ambari-agent/internal/multiplier"
)

// testPanicEnv, in binaries built with -tags e2ehooks only (the
// end-to-end tests), names a host of `multiplier run` whose first agent
// panics once a trigger file exists: "HOST:FILE". Release builds have no
// such hook.
const testPanicEnv = "AMBARI_AGENT_TEST_PANIC"

func init() {
	host, trigger, ok := strings.Cut(os.Getenv(testPanicEnv), ":")
	if !ok {
		return
	}
	runHook = func(o *multiplier.RunOptions) {
		o.MinBackoff = 500 * time.Millisecond
		o.Extra = func(h string, n int) agent.Component {
			if h != host || n != 1 {
				return nil
			}
			return agent.ComponentFunc(func(ctx context.Context) error {
				t := time.NewTicker(100 * time.Millisecond)
				defer t.Stop()
				for {
					select {
					case <-ctx.Done():
						return nil
					case <-t.C:
						if _, err := os.Stat(trigger); err == nil {
							panic("test panic in host " + h)
						}
					}
				}
			})
		}
	}
}
