package orchestrator

import (
	"strings"
	"sync"
)

const encryptionKeyVar = "AGENT_ENCRYPTION_KEY"

// environment is what scripts inherit: the agent's own environment as it
// was at start, with the agent's Python packages on PYTHONPATH and, once the
// server sent one, the encryption key.
type environment struct {
	base []string

	mu sync.Mutex
	// key and withKey cache the last environment built with a key, so that
	// runs do not copy the environment again while the key is unchanged.
	key     string
	withKey []string
}

func newEnvironment(environ, pythonPath []string) *environment {
	base := make([]string, 0, len(environ)+1)
	existing, found := "", false
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "PYTHONPATH="); ok {
			existing, found = v, true
			continue
		}
		base = append(base, kv)
	}
	if pp := prependPaths(pythonPath, existing); pp != "" || found {
		base = append(base, "PYTHONPATH="+pp)
	}
	return &environment{base: base}
}

// prependPaths puts dirs in front of the colon-separated list, skipping
// those already in it.
func prependPaths(dirs []string, list string) string {
	have := map[string]bool{}
	var parts []string
	if list != "" {
		parts = strings.Split(list, ":")
		for _, p := range parts {
			have[p] = true
		}
	}
	var front []string
	for _, d := range dirs {
		if d != "" && !have[d] {
			front = append(front, d)
			have[d] = true
		}
	}
	return strings.Join(append(front, parts...), ":")
}

// get returns the environment for a script; key "" leaves whatever the
// agent's environment had.
func (e *environment) get(key string) []string {
	if key == "" {
		return e.base
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.withKey != nil && e.key == key {
		return e.withKey
	}
	env := make([]string, 0, len(e.base)+1)
	for _, kv := range e.base {
		if !strings.HasPrefix(kv, encryptionKeyVar+"=") {
			env = append(env, kv)
		}
	}
	e.key, e.withKey = key, append(env, encryptionKeyVar+"="+key)
	return e.withKey
}
