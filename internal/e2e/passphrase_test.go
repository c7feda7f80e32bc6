package e2e

import (
	"os"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/sim"
)

// Two-way SSL needs the passphrase the server expects. With nothing set
// the agent sends DEV, the server's default; ambari-env.sh can set
// another, as under the Python control script.
func TestTwoWaySSLPassphraseWithoutEnvironment(t *testing.T) {
	cases := []struct {
		name, serverPassphrase, envFile string
	}{
		{"server default, nothing set", "DEV", ""},
		{"set in ambari-env.sh", "s3cret", "# set by the operator\nAMBARI_PASSPHRASE=\"s3cret\"\nexport PYTHONPATH=/usr/lib/ambari-agent/lib:$PYTHONPATH\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startSim(t, demoScenario(t), func(c *sim.Config) { c.TwoWaySSL = true; c.Passphrase = tc.serverPassphrase })
			a := newAgent(t, s, "e2e-pass", nil)
			if tc.envFile != "" {
				if err := os.MkdirAll(a.Path("var/lib/ambari-agent"), 0o755); err != nil {
					t.Fatal(err)
				}
				writeFile(t, a.Path("var/lib/ambari-agent/ambari-env.sh"), []byte(tc.envFile))
			}
			a.NoPassphrase = true
			a.Start()
			ctx := ctxFor(t, 60*time.Second)
			if _, err := s.WaitReady(ctx, a.Name); err != nil {
				t.Fatalf("agent never registered over two-way SSL: %v\n%s", err, a.Log())
			}
			if _, err := os.Stat(a.Path("var/lib/ambari-agent/keys/" + a.Name + ".crt")); err != nil {
				t.Errorf("no signed certificate: %v", err)
			}
		})
	}
}
