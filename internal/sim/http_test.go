package sim

import (
	"archive/zip"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/stompws"
)

func get(t *testing.T, c *http.Client, url string) (int, []byte) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestAgentHTTPSEndpoints(t *testing.T) {
	s := startSim(t, testScenario())
	c := insecureClient()
	if code, _ := get(t, c, s.ServerURL()+"/ca"); code != 200 {
		t.Errorf("/ca: %d", code)
	}
	code, body := get(t, c, s.ServerURL()+"/connection_info")
	if code != 200 || strings.TrimSpace(string(body)) != `{"security.server.two_way_ssl":"false"}` {
		t.Errorf("/connection_info: %d %s", code, body)
	}
	for _, path := range []string{"/cert/ca", "/cert/ca/"} {
		code, body = get(t, c, s.ServerURL()+path)
		if code != 200 || !bytes.Equal(body, s.CACertPEM()) {
			t.Errorf("%s: %d %q", path, code, body)
		}
	}
	// The STOMP endpoint is on the secured port only.
	if code, _ := get(t, c, s.ServerURL()+"/agent/stomp/v1"); code != 404 {
		t.Errorf("/agent/stomp/v1 on url_port: %d, want 404", code)
	}
	// The agent's certificate check: the server certificate chains to the CA.
	conn, err := tls.Dial("tcp", strings.TrimPrefix(s.ServerURL(), "https://"), &tls.Config{RootCAs: s.CAPool(), ServerName: "localhost"})
	if err != nil {
		t.Fatalf("server certificate does not verify against /cert/ca: %v", err)
	}
	conn.Close()
}

// csr makes a certificate request the way the agent's openssl call does
// (an RSA key, subject /OU=<host>/).
func csr(t *testing.T, host string) []byte {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{OrganizationalUnit: []string{host}}}, k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func postJSON(t *testing.T, c *http.Client, url string, body any) map[string]string {
	t.Helper()
	resp, err := c.Post(url, "application/json", bytes.NewReader(mustJSON(body)))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	var out map[string]string
	b, _ := io.ReadAll(resp.Body)
	decode(t, b, &out)
	return out
}

func TestTwoWaySSLWithCSRSigning(t *testing.T) {
	s := startSim(t, testScenario(), func(c *Config) { c.TwoWaySSL = true; c.Passphrase = "secret" })
	c := insecureClient()
	if _, body := get(t, c, s.ServerURL()+"/connection_info"); !strings.Contains(string(body), `"true"`) {
		t.Errorf("/connection_info %s, want two-way true", body)
	}

	// Without a client certificate the WSS port refuses.
	_, err := stompws.Dial(testCtx(t), stompws.Config{URL: s.StompURL(), TLS: &tls.Config{InsecureSkipVerify: true}, ConnectTimeout: 5 * time.Second})
	if err == nil {
		t.Fatal("connected to the two-way port without a client certificate")
	}

	// The agent's bootstrap: CA, CSR, signed certificate.
	_, caPEM := get(t, c, s.ServerURL()+"/cert/ca/")
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("no CA from /cert/ca/")
	}
	if r := postJSON(t, c, s.ServerURL()+"/certs/h1", map[string]string{"csr": "x", "passphrase": "wrong"}); r["result"] != "ERROR" {
		t.Errorf("wrong passphrase: %v", r)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{OrganizationalUnit: []string{"h1"}}}, key)
	reqPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	if r := postJSON(t, c, s.ServerURL()+"/certs/h1", map[string]string{"csr": string(reqPEM), "passphrase": "wrong"}); r["result"] != "ERROR" || r["signedCa"] != "" {
		t.Errorf("wrong passphrase: %v", r)
	}
	if r := postJSON(t, c, s.ServerURL()+"/certs/h1", map[string]string{"csr": "garbage", "passphrase": "secret"}); r["result"] != "ERROR" {
		t.Errorf("garbage CSR: %v", r)
	}
	// An RSA request, like openssl's, is signed too.
	if r := postJSON(t, c, s.ServerURL()+"/certs/h1", map[string]string{"csr": string(csr(t, "h1")), "passphrase": "secret"}); r["result"] != "OK" {
		t.Errorf("RSA CSR: %v", r)
	}
	r := postJSON(t, c, s.ServerURL()+"/certs/h1", map[string]string{"csr": string(reqPEM), "passphrase": "secret"})
	if r["result"] != "OK" {
		t.Fatalf("signing: %v", r)
	}
	block, _ := pem.Decode([]byte(r["signedCa"]))
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("signed certificate does not verify: %v", err)
	}
	if cert.Subject.OrganizationalUnit[0] != "h1" {
		t.Errorf("subject %v", cert.Subject)
	}

	// With it (and verifying the server against the CA, as the agent does
	// in two-way mode) the agent connects and registers.
	tlsConf := &tls.Config{RootCAs: pool, ServerName: "localhost", Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key}}}
	conn, err := stompws.Dial(testCtx(t), stompws.Config{URL: s.StompURL(), TLS: tlsConf})
	if err != nil {
		t.Fatalf("dial with the signed certificate: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	a := &fakeAgent{t: t, name: "h1", conn: conn, newMsg: make(chan struct{}, 1), hashes: map[string]*string{}}
	if err := conn.Subscribe("/user/", 0, nil); err != nil {
		t.Fatal(err)
	}
	a.join()
}

func TestTLSDirKeepsCertificatesAcrossRuns(t *testing.T) {
	dir := t.TempDir()
	one := startSim(t, testScenario(), func(c *Config) { c.TLSDir = dir })
	two := startSim(t, testScenario(), func(c *Config) { c.TLSDir = dir })
	if !bytes.Equal(one.CACertPEM(), two.CACertPEM()) {
		t.Error("a second simulator with the same TLS directory has another CA")
	}
	for _, f := range []string{"ca.crt", "ca.key", "server.crt", "server.key"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	if st, _ := os.Stat(filepath.Join(dir, "ca.key")); st.Mode().Perm() != 0o600 {
		t.Errorf("ca.key mode %v", st.Mode())
	}
	// Given files are used as they are.
	three := startSim(t, testScenario(), func(c *Config) {
		c.CertFile, c.KeyFile = filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
		c.CACertFile, c.CAKeyFile = filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	})
	if !bytes.Equal(one.CACertPEM(), three.CACertPEM()) {
		t.Error("explicit CA files not used")
	}
	if _, err := New(Config{CertFile: filepath.Join(dir, "missing.crt"), KeyFile: filepath.Join(dir, "missing.key")}); err == nil {
		t.Error("missing certificate files accepted")
	}
}

// writeTree creates files (name -> content) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
}

func TestResources(t *testing.T) {
	dir := t.TempDir()
	pkg := "stacks/DEMO/1.0/services/DEMO/package"
	writeTree(t, dir, map[string]string{
		pkg + "/scripts/demo_server.py":               "print('server')\n",
		pkg + "/scripts/run.sh":                       "#!/bin/sh\n",
		pkg + "/scripts/__pycache__/demo.cpython.pyc": "junk",
		pkg + "/.hash":                                "stale",
		"stack-hooks/before-INSTALL/scripts/hook.py":  "print('hook')\n",
		"mysql-connector-java.jar":                    "jar",
	})
	s := startSim(t, testScenario(), func(c *Config) { c.ResourcesDir = dir })
	c := http.DefaultClient
	base := s.ResourcesURL() + "/"

	code, hash := get(t, c, base+pkg+"/.hash")
	if code != 200 || len(hash) != 40 {
		t.Fatalf(".hash: %d %q", code, hash)
	}
	code, zipped := get(t, c, base+pkg+"/archive.zip")
	if code != 200 {
		t.Fatalf("archive.zip: %d", code)
	}
	zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]*zip.File{}
	for _, f := range zr.File {
		names[f.Name] = f
	}
	if len(names) != 3 || names["scripts/"] == nil || names["scripts/demo_server.py"] == nil || names["scripts/run.sh"] == nil {
		t.Errorf("archive entries %v, want scripts/, scripts/demo_server.py and scripts/run.sh only", keys(names))
	}
	if f := names["scripts/run.sh"]; f != nil && f.Mode().Perm()&0o100 == 0 {
		t.Errorf("run.sh mode %v, want executable", f.Mode())
	}
	if f := names["scripts/demo_server.py"]; f != nil {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		if string(b) != "print('server')\n" {
			t.Errorf("content %q", b)
		}
	}
	// Same content, same hash and bytes: also from another simulator.
	other := startSim(t, testScenario(), func(c *Config) { c.ResourcesDir = dir })
	_, hash2 := get(t, c, other.ResourcesURL()+"/"+pkg+"/.hash")
	_, zipped2 := get(t, c, other.ResourcesURL()+"/"+pkg+"/archive.zip")
	if !bytes.Equal(hash, hash2) || !bytes.Equal(zipped, zipped2) {
		t.Error("hash or archive differ between two simulators on the same directory")
	}
	// A changed file changes the hash (and the archive).
	time.Sleep(10 * time.Millisecond) // mtimes must move on coarse file systems
	writeTree(t, dir, map[string]string{pkg + "/scripts/demo_server.py": "print('server 2')\n"})
	if _, hash3 := get(t, c, base+pkg+"/.hash"); bytes.Equal(hash, hash3) {
		t.Error("hash unchanged after a script changed")
	}
	// Over HTTPS on url_port too, plain files, and what must not be served.
	if code, _ := get(t, insecureClient(), s.ServerURL()+"/resources/stack-hooks/.hash"); code != 200 {
		t.Errorf("resources on url_port: %d", code)
	}
	if code, body := get(t, c, base+"mysql-connector-java.jar"); code != 200 || string(body) != "jar" {
		t.Errorf("plain file: %d %q", code, body)
	}
	for _, path := range []string{"nope/.hash", "nope/archive.zip", "../../etc/passwd", "%2e%2e/%2e%2e/etc/passwd", "stacks"} {
		if code, _ := get(t, c, base+path); code != 404 {
			t.Errorf("%s: %d, want 404", path, code)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestRepositoryResourcesServeTheDemoStack(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "resources")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("demo resources: %v", err)
	}
	s := startSim(t, testScenario(), func(c *Config) { c.ResourcesDir = dir })
	for _, sub := range []string{"stacks/DEMO/1.0/services/DEMO/package", "stack-hooks", "custom_actions", "host_scripts"} {
		if code, body := get(t, http.DefaultClient, s.ResourcesURL()+"/"+sub+"/.hash"); code != 200 || len(body) != 40 {
			t.Errorf("%s/.hash: %d %q", sub, code, body)
		}
	}
}

func TestScenarioJSONRoundTrip(t *testing.T) {
	b, err := json.Marshal(testScenario())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseScenario(b); err != nil {
		t.Errorf("a marshalled scenario does not parse back: %v", err)
	}
}
