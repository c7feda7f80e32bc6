// Package packaging holds the ambari-agent-go .deb and .rpm: their
// description (nfpm.yaml), maintainer scripts, the build program (build/,
// run by `make package`) and the tests that build, inspect and install
// them.
package packaging
