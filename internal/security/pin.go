package security

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/atomicfile"
	"github.com/ambari-go/ambari-agent/internal/logging"
)

// PinFileName is the file in the keys dir that holds the pinned server
// keys, one "<server> sha256/<base64>" line per server. Living in the keys
// dir, it is cleared by "ambari-agent reset" with the certificates.
const PinFileName = "server_cert_pins"

// ErrPinMismatch is wrapped by the handshake error of a server whose
// public key differs from the pinned one.
var ErrPinMismatch = errors.New("server certificate key does not match the pinned key")

// SPKIHash is the pin of a certificate: "sha256/" and the base64 SHA-256
// of its SubjectPublicKeyInfo (the usual public key pin notation). A
// renewed certificate with the same key keeps its pin.
func SPKIHash(c *x509.Certificate) string {
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return "sha256/" + base64.StdEncoding.EncodeToString(sum[:])
}

// Pinner implements server_cert_pinning=tofu (trust on first use): the
// first server key seen on a connection whose registration succeeds is
// pinned; from then on a handshake presenting another key fails. It is
// safe for concurrent use.
type Pinner struct {
	path string
	log  *logrus.Entry

	mu sync.Mutex
	// seen is the key each server presented on its latest handshake,
	// pinned by Commit once the registration on that connection succeeded.
	seen map[string]string
}

// NewPinner pins into <keysDir>/server_cert_pins.
func NewPinner(keysDir string, log *logrus.Entry) *Pinner {
	return &Pinner{path: filepath.Join(keysDir, PinFileName), log: logging.OrDiscard(log), seen: map[string]string{}}
}

// Path is the pin file.
func (p *Pinner) Path() string { return p.path }

// Wrap returns a copy of c that, after c's own checks, refuses a server
// whose leaf certificate key differs from the one pinned for server. The
// pin file is read on every handshake, so a reset takes effect without a
// restart of the agent.
func (p *Pinner) Wrap(c *tls.Config, server string) *tls.Config {
	c = c.Clone()
	inner := c.VerifyConnection
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		if inner != nil {
			if err := inner(cs); err != nil {
				return err
			}
		}
		if len(cs.PeerCertificates) == 0 {
			return errors.New("server presented no certificate to pin")
		}
		got := SPKIHash(cs.PeerCertificates[0])
		pins, err := readPins(p.path)
		if err != nil {
			// An unreadable pin file must not turn into "no pin".
			return fmt.Errorf("server_cert_pinning=tofu: %w", err)
		}
		if want, ok := pins[server]; ok && want != got {
			p.log.Errorf("Refusing the Ambari server %s: its certificate key %s is not the key %s pinned at the first registration (%s)",
				server, got, want, p.path)
			return fmt.Errorf("%w: %s presents %s, pinned %s in %s at the first registration; "+
				"if the server's key was replaced on purpose, run \"ambari-agent reset %s\" to clear the pin",
				ErrPinMismatch, server, got, want, p.path, server)
		}
		p.mu.Lock()
		p.seen[server] = got
		p.mu.Unlock()
		return nil
	}
	return c
}

// Commit pins the key server presented on the connection that just
// registered, unless a pin for server exists already.
func (p *Pinner) Commit(server string) error {
	p.mu.Lock()
	got, ok := p.seen[server]
	p.mu.Unlock()
	if !ok {
		return nil
	}
	pins, err := readPins(p.path)
	if err != nil {
		return err
	}
	if _, ok := pins[server]; ok {
		return nil
	}
	pins[server] = got
	if err := writePins(p.path, pins); err != nil {
		return fmt.Errorf("pin the server certificate key: %w", err)
	}
	p.log.Infof("Pinned the certificate key of the Ambari server %s (%s) in %s; a server with another key will be refused", server, got, p.path)
	return nil
}

// readPins reads the pin file; a missing file holds no pins.
func readPins(path string) (map[string]string, error) {
	pins := map[string]string{}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return pins, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read pin file: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 || !strings.HasPrefix(f[1], "sha256/") {
			return nil, fmt.Errorf("pin file %s:%d: want \"<server> sha256/<base64>\", got %q", path, n, line)
		}
		pins[f[0]] = f[1]
	}
	return pins, sc.Err()
}

func writePins(path string, pins map[string]string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	servers := make([]string, 0, len(pins))
	for s := range pins {
		servers = append(servers, s)
	}
	sort.Strings(servers)
	var b strings.Builder
	b.WriteString("# Ambari server certificate keys pinned at first registration (server_cert_pinning=tofu).\n")
	b.WriteString("# \"ambari-agent reset\" clears them.\n")
	for _, s := range servers {
		fmt.Fprintf(&b, "%s %s\n", s, pins[s])
	}
	return atomicfile.Write(path, []byte(b.String()), 0o600)
}
