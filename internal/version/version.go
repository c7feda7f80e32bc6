// Package version is the build's version of both binaries, set at link
// time (see the Makefile).
package version

// Version is the release, e.g. "1.0.0", or "dev" for an untagged build:
//
//	-ldflags "-X github.com/ambari-go/ambari-agent/internal/version.Version=..."
var Version = "dev"

// Hash is the source revision the build was made from.
var Hash = "unknown"
