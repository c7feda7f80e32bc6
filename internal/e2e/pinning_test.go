package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/sim"
)

// TestServerCertPinning: with server_cert_pinning=tofu the agent pins the
// key of the server it first registers with; a server on the same address
// with another certificate is refused with a clear error and never sees a
// registration; "ambari-agent reset" clears the pin and the agent then
// registers with the new server and pins its key. A warning at start says
// that ssl_verify_cert=0 leaves the certificate unverified.
func TestServerCertPinning(t *testing.T) {
	first := startSim(t, demoScenario(t), nil)
	a := newAgent(t, first, "e2e-pin", Ini{"security": {"server_cert_pinning": "tofu"}})
	a.Start()
	ctx := ctxFor(t, 120*time.Second)
	if _, err := first.WaitRegistered(ctx, a.Name); err != nil {
		t.Fatal(err)
	}
	pins := a.Path("var/lib/ambari-agent/keys/server_cert_pins")
	if !a.waitLog(ctx, "Pinned the certificate key of the Ambari server 127.0.0.1") {
		t.Fatal("no pin was taken at the first registration")
	}
	pinned, err := os.ReadFile(pins)
	if err != nil || !strings.Contains(string(pinned), "127.0.0.1 sha256/") {
		t.Fatalf("pin file %s: %q %v", pins, pinned, err)
	}
	if !strings.Contains(a.Log(), "ssl_verify_cert=0: the Ambari server's certificate is not verified") {
		t.Error("no warning that the server certificate is not verified")
	}

	// Another server, with a CA and certificate of its own, takes over
	// the same ports.
	ports := [3]int{first.URLPort(), first.SecuredURLPort(), first.APIPort()}
	first.Close()
	second := startSim(t, demoScenario(t), func(c *sim.Config) {
		c.URLPort, c.SecuredURLPort, c.APIPort = ports[0], ports[1], ports[2]
	})
	if !a.waitLog(ctx, "server certificate key does not match the pinned key: 127.0.0.1 presents sha256/") {
		t.Fatal("the agent did not refuse the server with another key")
	}
	if !strings.Contains(a.Log(), `ambari-agent reset 127.0.0.1`) {
		t.Error("the error does not say how to clear the pin")
	}
	if h, ok := second.HostState(a.Name); ok && h.Registrations > 0 {
		t.Fatal("the agent registered with a server whose key is not the pinned one")
	}
	a.Stop()

	out, err := exec.Command(a.bin, "reset", "127.0.0.1", "--home", a.Home).CombinedOutput()
	if err != nil {
		t.Fatalf("reset: %v\n%s", err, out)
	}
	if _, err := os.Stat(pins); !os.IsNotExist(err) {
		t.Fatalf("reset left the pin file: %v", err)
	}
	a.Start()
	if _, err := second.WaitRegistered(ctx, a.Name); err != nil {
		t.Fatalf("after reset the agent did not register with the new server: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	var repinned []byte
	for time.Now().Before(deadline) {
		if repinned, _ = os.ReadFile(filepath.Clean(pins)); len(repinned) > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(repinned) == 0 || string(repinned) == string(pinned) {
		t.Errorf("after reset: pin %q, first pin %q; want a new pin", repinned, pinned)
	}
}
