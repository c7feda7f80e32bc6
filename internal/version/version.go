// Package version is the build's version of both binaries, set at link
// time (see the Makefile), and the Ambari version the agent registers
// with, which the ambari-agent package installs in <prefix>/version.
package version

import (
	"fmt"
	"os"
	"strings"
)

// Version is the release, e.g. "1.0.0", or "dev" for an untagged build:
//
//	-ldflags "-X github.com/ambari-go/ambari-agent/internal/version.Version=..."
var Version = "dev"

// Hash is the source revision the build was made from.
var Hash = "unknown"

// Build names this build: "ambari-agent-go 1.0.0 (build 0123abc…)".
func Build() string { return fmt.Sprintf("ambari-agent-go %s (build %s)", Version, Hash) }

// ReadAmbari reads the Ambari version in path (<prefix>/version), as the
// Python agent does at registration: the file's content, trimmed. A
// missing or empty file is an error.
func ReadAmbari(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return v, nil
}

// MissingAmbari is what the agent says when path gives no Ambari version:
// it then registers with its build version, which a real Ambari server
// refuses (it accepts only agents of its own version).
func MissingAmbari(path string) string {
	return fmt.Sprintf("%s is missing or empty: the agent registers as version %q, which a real Ambari server refuses. "+
		"Create it with the server's Ambari version (the ambari-agent package installs it), e.g. echo 2.7.8.0.0 > %s",
		path, Version, path)
}
