package security

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

var serial struct {
	sync.Mutex
	n int64
}

func nextSerial() *big.Int {
	serial.Lock()
	defer serial.Unlock()
	serial.n++
	return big.NewInt(serial.n)
}

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

func (ca *testCA) issue(t *testing.T, tmpl *x509.Certificate, pub crypto.PublicKey) []byte {
	t.Helper()
	tmpl.SerialNumber = nextSerial()
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// serverCert is a TLS server certificate for the given names (IP literals
// become IP SANs).
func (ca *testCA) serverCert(t *testing.T, names ...string) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: names[0]}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	return tls.Certificate{Certificate: [][]byte{ca.issue(t, tmpl, &key.PublicKey)}, PrivateKey: key}
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// fakeAmbari is the one-way port of an Ambari server: /ca, /connection_info,
// /cert/ca/ and /certs/<host>, signing CSRs with its CA.
type fakeAmbari struct {
	t    *testing.T
	ca   *testCA
	srv  *httptest.Server
	port int

	mu       sync.Mutex
	requests []string
	settings
	passphrase string // last one received
	csrOU      []string
}

type settings struct {
	caStatus   int    // answer to /ca
	connInfo   string // body of /connection_info
	signResult string // "OK" or anything else
	signMsg    string
}

func startAmbari(t *testing.T, ca *testCA, cert tls.Certificate) *fakeAmbari {
	t.Helper()
	a := &fakeAmbari{t: t, ca: ca, settings: settings{caStatus: 200, signResult: "OK",
		connInfo: `{"security.server.two_way_ssl":"true"}`}}
	mux := http.NewServeMux()
	mux.HandleFunc("/ca", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(a.get().caStatus) })
	mux.HandleFunc("/connection_info", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, a.get().connInfo) })
	mux.HandleFunc("/cert/ca/", func(w http.ResponseWriter, r *http.Request) { w.Write(ca.pem) })
	mux.HandleFunc("/certs/", a.sign)
	a.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.requests = append(a.requests, r.Method+" "+r.URL.Path)
		a.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	a.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	a.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	a.srv.StartTLS()
	t.Cleanup(a.srv.Close)
	a.port = a.srv.Listener.Addr().(*net.TCPAddr).Port
	return a
}

// get returns a snapshot of the settings, for handlers.
func (a *fakeAmbari) get() settings {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.settings
}

func (a *fakeAmbari) set(f func(a *fakeAmbari)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f(a)
}

func (a *fakeAmbari) takeRequests() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.requests
	a.requests = nil
	return r
}

func (a *fakeAmbari) sign(w http.ResponseWriter, r *http.Request) {
	var req struct{ CSR, Passphrase string }
	if r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&req) != nil {
		http.Error(w, "bad request", 400)
		return
	}
	s := a.get()
	if s.signResult != "OK" {
		json.NewEncoder(w).Encode(map[string]string{"result": s.signResult, "message": s.signMsg})
		return
	}
	block, _ := pem.Decode([]byte(req.CSR))
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		http.Error(w, "no CSR", 400)
		return
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil || csr.CheckSignature() != nil {
		http.Error(w, "bad CSR", 400)
		return
	}
	a.set(func(a *fakeAmbari) { a.passphrase, a.csrOU = req.Passphrase, csr.Subject.OrganizationalUnit })
	der := a.ca.issue(a.t, &x509.Certificate{Subject: csr.Subject, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, csr.PublicKey)
	json.NewEncoder(w).Encode(map[string]string{
		"result":   "OK",
		"signedCa": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
	})
}

func (a *fakeAmbari) config(t *testing.T) Config {
	return Config{
		Server:     "127.0.0.1",
		URLPort:    a.port,
		KeysDir:    filepath.Join(t.TempDir(), "keys"),
		Hostname:   "h1.example.com",
		Passphrase: "s3cret",
	}
}

func writePEM(t *testing.T, data []byte) string {
	p := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestProbeServer(t *testing.T) {
	ca := newCA(t, "ambari CA")
	a := startAmbari(t, ca, ca.serverCert(t, "127.0.0.1"))
	cfg := a.config(t)
	ctx := context.Background()

	if err := ProbeServer(ctx, cfg); err != nil {
		t.Fatalf("probe of a healthy server: %v", err)
	}
	a.set(func(a *fakeAmbari) { a.caStatus = 503 })
	if err := ProbeServer(ctx, cfg); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("probe of a failing server: %v", err)
	}
	a.set(func(a *fakeAmbari) { a.caStatus = 200 })

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	down := cfg
	down.URLPort = closed
	if err := ProbeServer(ctx, down); err == nil {
		t.Error("probe of a closed port succeeded")
	}

	// A proxy in the environment is ignored.
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:1")
	t.Setenv("https_proxy", "http://127.0.0.1:1")
	if err := ProbeServer(ctx, cfg); err != nil {
		t.Errorf("probe went through the proxy: %v", err)
	}

	// With ssl_verify_cert=1 the chain and the host name are checked.
	verified := cfg
	verified.VerifyServerCert = true
	verified.CACertPath = writePEM(t, ca.pem)
	if err := ProbeServer(ctx, verified); err != nil {
		t.Errorf("verified probe with the right CA: %v", err)
	}
	verified.CACertPath = writePEM(t, newCA(t, "other CA").pem)
	err := ProbeServer(ctx, verified)
	if err == nil || !strings.Contains(err.Error(), "server certificate not trusted") ||
		!strings.Contains(err.Error(), "ssl_verify_cert=1") || !strings.Contains(err.Error(), verified.CACertPath) {
		t.Errorf("verified probe with a wrong CA: %v", err)
	}
}

func TestProbeChecksHostNameOnlyWhenVerifying(t *testing.T) {
	ca := newCA(t, "ambari CA")
	a := startAmbari(t, ca, ca.serverCert(t, "srv1.example.com")) // not 127.0.0.1
	cfg := a.config(t)
	if err := ProbeServer(context.Background(), cfg); err != nil {
		t.Fatalf("unverified probe: %v", err)
	}
	cfg.VerifyServerCert = true
	cfg.CACertPath = writePEM(t, ca.pem)
	err := ProbeServer(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "not trusted") || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("host name mismatch not reported: %v", err)
	}
}

func TestTwoWaySSL(t *testing.T) {
	ca := newCA(t, "ambari CA")
	a := startAmbari(t, ca, ca.serverCert(t, "127.0.0.1"))
	cfg := a.config(t)
	cases := []struct {
		body    string
		want    bool
		wantErr bool
	}{
		{`{"security.server.two_way_ssl":"true"}`, true, false},
		{`{"security.server.two_way_ssl":"TRUE"}`, true, false},
		{`{"security.server.two_way_ssl":"false"}`, false, false},
		{`{"security.server.two_way_ssl":"yes"}`, false, false},
		{`{"security.server.two_way_ssl":true}`, false, true}, // must be a string
		{`{"other":"true"}`, false, true},
		{`<html>not json</html>`, false, true},
		{``, false, true},
	}
	for _, tc := range cases {
		a.set(func(a *fakeAmbari) { a.connInfo = tc.body })
		got, err := TwoWaySSL(context.Background(), cfg)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("%q: got %v, %v; want %v, error %v", tc.body, got, err, tc.want, tc.wantErr)
		}
	}
	down := cfg
	down.Server = "127.0.0.1"
	down.URLPort = 1
	if got, err := TwoWaySSL(context.Background(), down); got || err == nil {
		t.Errorf("unreachable server: %v, %v", got, err)
	}
}

// handshake dials a TLS server that requires a client certificate signed by
// clientCA and returns the OU of the certificate it received.
func handshake(t *testing.T, clientCfg *tls.Config, serverCert tls.Certificate, clientCA *testCA) ([]string, error) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{serverCert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clientCA.pool(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	seen := make(chan []string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		tc := c.(*tls.Conn)
		if tc.Handshake() != nil {
			seen <- nil
			return
		}
		seen <- tc.ConnectionState().PeerCertificates[0].Subject.OrganizationalUnit
		tc.Write([]byte("ok"))
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), clientCfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	// With TLS 1.3 the server judges our certificate after our handshake
	// returns; reading its answer makes the outcome visible here.
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, make([]byte, 2)); err != nil {
		return nil, err
	}
	return <-seen, nil
}

func TestTwoWayBootstrapAndHandshake(t *testing.T) {
	ca := newCA(t, "ambari CA")
	a := startAmbari(t, ca, ca.serverCert(t, "127.0.0.1"))
	cfg := a.config(t)

	if err := EnsureClientCert(context.Background(), cfg); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	want := []string{"GET /cert/ca/", "POST /certs/h1.example.com"}
	if got := a.takeRequests(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requests %v, want %v", got, want)
	}
	a.mu.Lock()
	pass, ou := a.passphrase, a.csrOU
	a.mu.Unlock()
	if pass != "s3cret" || fmt.Sprint(ou) != "[h1.example.com]" {
		t.Errorf("server got passphrase %q and CSR OU %v", pass, ou)
	}
	modes := map[string]os.FileMode{
		cfg.KeysDir:   0o700 | os.ModeDir,
		cfg.keyFile(): 0o600, cfg.caFile(): 0o644, cfg.csrFile(): 0o644, cfg.certFile(): 0o644,
	}
	for p, mode := range modes {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode() != mode {
			t.Errorf("%s has mode %v, want %v", p, st.Mode(), mode)
		}
	}
	key, err := loadKey(cfg.keyFile())
	if err != nil {
		t.Fatal(err)
	}
	if bits := key.Public().(interface{ Size() int }).Size() * 8; bits != KeyBits {
		t.Errorf("key has %d bits", bits)
	}
	if data, _ := os.ReadFile(cfg.caFile()); string(data) != string(ca.pem) {
		t.Error("ca.crt is not the server's CA")
	}

	// Everything is in place: a second run asks the server nothing.
	if err := EnsureClientCert(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if got := a.takeRequests(); len(got) != 0 {
		t.Errorf("second bootstrap made requests %v", got)
	}

	// The wss handshake: our certificate is accepted, and the server's is
	// checked against ca.crt but not for its host name (srv1 vs 127.0.0.1).
	tlsCfg, err := ClientTLS(cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	ou, err = handshake(t, tlsCfg, ca.serverCert(t, "srv1.example.com"), ca)
	if err != nil {
		t.Fatalf("two-way handshake: %v", err)
	}
	if fmt.Sprint(ou) != "[h1.example.com]" {
		t.Errorf("server saw client certificate OU %v", ou)
	}

	// A server certificate from another CA is refused even without
	// ssl_verify_cert, since two-way mode always checks the chain.
	other := newCA(t, "other CA")
	if _, err := handshake(t, tlsCfg, other.serverCert(t, "127.0.0.1"), ca); err == nil ||
		!strings.Contains(err.Error(), "server certificate not trusted") || !strings.Contains(err.Error(), cfg.caFile()) {
		t.Errorf("handshake with a foreign server certificate: %v", err)
	}

	// With ssl_verify_cert=1 the host name is checked as well.
	cfg.VerifyServerCert = true
	tlsCfg, err = ClientTLS(cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := handshake(t, tlsCfg, ca.serverCert(t, "srv1.example.com"), ca); err == nil ||
		!strings.Contains(err.Error(), "ssl_verify_cert=1") {
		t.Errorf("host name mismatch with ssl_verify_cert=1: %v", err)
	}
	if _, err := handshake(t, tlsCfg, ca.serverCert(t, "127.0.0.1"), ca); err != nil {
		t.Errorf("matching host name with ssl_verify_cert=1: %v", err)
	}
}

func TestBootstrapRecoversMissingFiles(t *testing.T) {
	ca := newCA(t, "ambari CA")
	a := startAmbari(t, ca, ca.serverCert(t, "127.0.0.1"))
	cfg := a.config(t)
	ctx := context.Background()
	if err := EnsureClientCert(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	a.takeRequests()

	// Certificate and CSR gone, key kept: a new CSR for the same key.
	oldKey, _ := os.ReadFile(cfg.keyFile())
	os.Remove(cfg.certFile())
	os.Remove(cfg.csrFile())
	if err := EnsureClientCert(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if got := a.takeRequests(); fmt.Sprint(got) != "[POST /certs/h1.example.com]" {
		t.Errorf("requests %v", got)
	}
	if k, _ := os.ReadFile(cfg.keyFile()); string(k) != string(oldKey) {
		t.Error("existing key was replaced")
	}

	// Key gone, stale certificate left: new key and a certificate for it.
	os.Remove(cfg.keyFile())
	if err := EnsureClientCert(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := tls.LoadX509KeyPair(cfg.certFile(), cfg.keyFile()); err != nil {
		t.Errorf("certificate does not match the new key: %v", err)
	}
}

func TestSigningRefused(t *testing.T) {
	ca := newCA(t, "ambari CA")
	a := startAmbari(t, ca, ca.serverCert(t, "127.0.0.1"))
	a.set(func(a *fakeAmbari) { a.signResult, a.signMsg = "ERROR", "Certificate signing is disabled" })
	cfg := a.config(t)
	err := EnsureClientCert(context.Background(), cfg)
	if !errors.Is(err, ErrSigningRefused) || !strings.Contains(err.Error(), "Certificate signing is disabled") {
		t.Fatalf("want the server's refusal, got %v", err)
	}
	if _, err := os.Stat(cfg.certFile()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a certificate file exists after a refusal: %v", err)
	}
	if _, err := ClientTLS(cfg, true); err == nil {
		t.Error("ClientTLS without a certificate succeeded")
	}
	// Once the server signs, the next attempt completes without a new key.
	key, _ := os.ReadFile(cfg.keyFile())
	a.set(func(a *fakeAmbari) { a.signResult = "OK" })
	if err := EnsureClientCert(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if k, _ := os.ReadFile(cfg.keyFile()); string(k) != string(key) {
		t.Error("key regenerated")
	}
}

func TestBadCADownload(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<html>login</html>")
	}))
	defer srv.Close()
	cfg := Config{Server: "127.0.0.1", URLPort: srv.Listener.Addr().(*net.TCPAddr).Port,
		KeysDir: t.TempDir(), Hostname: "h1"}
	err := EnsureClientCert(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("got %v", err)
	}
	if _, err := os.Stat(cfg.caFile()); !errors.Is(err, os.ErrNotExist) {
		t.Error("garbage stored as ca.crt")
	}
}

func TestOneWayClientTLS(t *testing.T) {
	ca := newCA(t, "ambari CA")
	srvCert := newCA(t, "self-signed somewhere").serverCert(t, "srv1.example.com")
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{srvCert}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	sawClientCert := make(chan bool, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tc := c.(*tls.Conn)
			if tc.Handshake() == nil {
				sawClientCert <- len(tc.ConnectionState().PeerCertificates) > 0
			}
			tc.Close()
		}
	}()
	cfg := Config{Server: "127.0.0.1", KeysDir: t.TempDir(), Hostname: "h1"}
	tlsCfg, err := ClientTLS(cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.Dial("tcp", ln.Addr().String(), tlsCfg)
	if err != nil {
		t.Fatalf("one-way without verification must accept any certificate: %v", err)
	}
	c.Close()
	if <-sawClientCert {
		t.Error("one-way mode presented a client certificate")
	}

	// ssl_verify_cert=1 with <keysdir>/ca.crt from another CA.
	os.WriteFile(cfg.caFile(), ca.pem, 0o644)
	cfg.VerifyServerCert = true
	tlsCfg, err = ClientTLS(cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tls.Dial("tcp", ln.Addr().String(), tlsCfg)
	if err == nil || !strings.Contains(err.Error(), "server certificate not trusted") || !strings.Contains(err.Error(), cfg.caFile()) {
		t.Errorf("verification against the wrong CA: %v", err)
	}

	cfg.CACertPath = filepath.Join(t.TempDir(), "missing.pem")
	if _, err := ClientTLS(cfg, false); err == nil {
		t.Error("missing ca_cert_path accepted")
	}
}
