// Package e2e holds the end-to-end tests: ambari-sim runs in-process on
// loopback with real TLS, the agent runs as the real binary (built once per
// test run) in a temporary --home, and commands run the demo stack's real
// Python scripts from testdata/resources.
package e2e
