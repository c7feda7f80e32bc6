package agent

import (
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/ambari-go/ambari-agent/internal/config"
)

// The agent says once at start how far it checks the server's identity.
func TestServerIdentityWarning(t *testing.T) {
	for _, c := range []struct {
		name          string
		verify        bool
		pinning, want string
	}{
		{"unverified", false, "", "the Ambari server's identity is not checked"},
		{"unverified, pinned", false, "tofu", "server_cert_pinning=tofu pins its key at the first registration"},
		{"verified", true, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := config.Defaults(t.TempDir())
			cfg.Security.SSLVerifyCert, cfg.Security.ServerCertPinning = c.verify, c.pinning
			logger, hook := test.NewNullLogger()
			a := &Agent{cfg: cfg, secLog: logrus.NewEntry(logger)}
			a.setUpServerIdentity()
			var warnings []string
			for _, e := range hook.AllEntries() {
				if e.Level == logrus.WarnLevel {
					warnings = append(warnings, e.Message)
				}
			}
			switch {
			case c.want == "" && len(warnings) != 0:
				t.Errorf("warnings %q, want none", warnings)
			case c.want != "" && (len(warnings) != 1 || !strings.Contains(warnings[0], c.want)):
				t.Errorf("warnings %q, want one saying %q", warnings, c.want)
			}
			if (a.pinner != nil) != (c.pinning == "tofu") {
				t.Errorf("pinner %v with server_cert_pinning=%q", a.pinner, c.pinning)
			}
		})
	}
}
