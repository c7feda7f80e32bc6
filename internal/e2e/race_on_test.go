//go:build race

package e2e

// raceEnabled builds the agent under test with the race detector when the
// tests themselves run with it, so races in the assembled agent are caught.
const raceEnabled = true
