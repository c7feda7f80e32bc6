// Package e2e holds the end-to-end tests: ambari-sim runs in-process on
// loopback with real TLS, the agent runs as the real binary (built once per
// test run) in a temporary --home, and commands run the demo stack's real
// Python scripts from testdata/resources.
//
// Scripts run forked from the agent's resident Python runner, as by
// default; AMBARI_E2E_RESIDENT_RUNNER=false runs the whole suite with
// [python] resident_runner=false (every script in a fresh interpreter).
package e2e
