package security

import (
	"crypto/tls"
	"errors"
	"os"
	"strings"
	"testing"
)

// serveTLS accepts TLS connections with cert on loopback until the test
// ends and returns the address.
func serveTLS(t *testing.T, cert tls.Certificate) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	return ln.Addr().String()
}

// server_cert_pinning=tofu: the key seen on the first registered
// connection is pinned; a server with another key is refused with an error
// that says what to do; clearing the keys dir (reset) clears the pin.
func TestPinnerTrustsOnFirstUse(t *testing.T) {
	first := serveTLS(t, newCA(t, "first CA").serverCert(t, "ambari.example.com"))
	second := serveTLS(t, newCA(t, "second CA").serverCert(t, "ambari.example.com"))
	keys := t.TempDir()
	cfg := Config{Server: "ambari.example.com", KeysDir: keys, Hostname: "h1"}
	base, err := ClientTLS(cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	p := NewPinner(keys, nil)
	dial := func(addr string) error {
		c, err := tls.Dial("tcp", addr, p.Wrap(base, cfg.Server))
		if err == nil {
			c.Close()
		}
		return err
	}

	// Before any registration nothing is pinned: any key is accepted.
	if err := dial(second); err != nil {
		t.Fatalf("unpinned handshake: %v", err)
	}
	if err := dial(first); err != nil {
		t.Fatalf("unpinned handshake: %v", err)
	}
	// The registration on the connection to first succeeded.
	if err := p.Commit(cfg.Server); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p.Path())
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("pin file: %v %v", st, err)
	}
	pinned, _ := os.ReadFile(p.Path())
	if err := dial(first); err != nil {
		t.Fatalf("pinned server refused: %v", err)
	}
	err = dial(second)
	if !errors.Is(err, ErrPinMismatch) {
		// The client's error wraps the VerifyConnection error only as
		// text; check both.
		if err == nil || !strings.Contains(err.Error(), ErrPinMismatch.Error()) {
			t.Fatalf("server with another key: %v, want a pin mismatch", err)
		}
	}
	for _, want := range []string{"ambari.example.com presents sha256/", p.Path(), `run "ambari-agent reset ambari.example.com"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	// A second Commit (every registration) keeps the first pin.
	if err := p.Commit(cfg.Server); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(p.Path()); string(again) != string(pinned) {
		t.Errorf("pin changed:\n%s\n->\n%s", pinned, again)
	}
	// Another server name has a pin of its own.
	other := NewPinner(keys, nil)
	if c, err := tls.Dial("tcp", second, other.Wrap(base, "backup.example.com")); err != nil {
		t.Fatalf("another server refused: %v", err)
	} else {
		c.Close()
	}

	// reset empties the keys dir: the new key is accepted and pinned.
	if err := os.Remove(p.Path()); err != nil {
		t.Fatal(err)
	}
	if err := dial(second); err != nil {
		t.Fatalf("after reset: %v", err)
	}
	if err := p.Commit(cfg.Server); err != nil {
		t.Fatal(err)
	}
	if err := dial(first); err == nil {
		t.Error("the old key is still accepted after re-pinning")
	}

	// A damaged pin file refuses every server rather than pinning anew.
	os.WriteFile(p.Path(), []byte("garbage\n"), 0o600)
	if err := dial(second); err == nil || !strings.Contains(err.Error(), "pin file") {
		t.Errorf("damaged pin file: %v", err)
	}
}
