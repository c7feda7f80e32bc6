package alerts

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func hostPort(t *testing.T, rawURL string) (string, string) {
	t.Helper()
	u := strings.TrimPrefix(strings.TrimPrefix(rawURL, "http://"), "https://")
	h, p, err := net.SplitHostPort(u)
	if err != nil {
		t.Fatal(err)
	}
	return h, p
}

func webDef(uri map[string]any, reporting map[string]any) map[string]any {
	src := map[string]any{"type": "WEB", "uri": uri}
	if reporting != nil {
		src["reporting"] = reporting
	}
	return def(3, "web", 1, src)
}

func TestWebStates(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("fine")) })
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) })
	mux.HandleFunc("/auth", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusUnauthorized) })
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	_, port := hostPort(t, srv.URL)

	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	refusedPort := portOf(closed)
	closed.Close()

	e := newEnv(t, nil)
	e.cfgs.setTypes("2", map[string]map[string]any{"web-site": {
		"http":  "127.0.0.1:" + port,
		"https": "127.0.0.1:1",
		"ssl":   "HTTP_ONLY",
		"zeros": "0.0.0.0:" + port,
	}})
	texts := map[string]any{
		"ok":       map[string]any{"text": "HTTP {0} response in {2:.3f}s"},
		"warning":  map[string]any{"text": "HTTP {0} response from {1}: {3}"},
		"critical": map[string]any{"text": "Connection failed to {1}: {3}"},
	}
	cases := []struct {
		name      string
		uri       map[string]any
		wantState string
		wantText  string // regexp
	}{
		{"200", map[string]any{"http": "http://127.0.0.1:" + port + "/ok"}, StateOK, `^HTTP 200 response in 0\.\d{3}s$`},
		{"500", map[string]any{"http": "http://127.0.0.1:" + port + "/fail"}, StateWarning,
			`^HTTP 500 response from http://127\.0\.0\.1:` + port + `/fail: HTTP Error 500: Internal Server Error$`},
		{"401 acceptable", map[string]any{"http": "http://127.0.0.1:" + port + "/auth", "acceptable_codes": []any{401}}, StateOK, `^HTTP 401 `},
		{"401", map[string]any{"http": "http://127.0.0.1:" + port + "/auth"}, StateWarning, `^HTTP 401 .*HTTP Error 401: Unauthorized$`},
		{"redirect followed", map[string]any{"http": "http://127.0.0.1:" + port + "/moved"}, StateOK, `^HTTP 200 `},
		{"refused", map[string]any{"http": "127.0.0.1:" + refusedPort}, StateCritical,
			`^Connection failed to http://127\.0\.0\.1:` + refusedPort + `: <urlopen error \[Errno 111\] Connection refused>$`},
		{"timeout", map[string]any{"http": "http://127.0.0.1:" + port + "/slow", "connection_timeout": 0.5}, StateCritical,
			`^Connection failed to http://127\.0\.0\.1:` + port + `/slow: timed out$`},
		{"placeholders, https not selected", map[string]any{"http": "{{web-site/http}}", "https": "{{web-site/https}}",
			"https_property": "{{web-site/ssl}}", "https_property_value": "HTTPS_ONLY"}, StateWarning,
			`^HTTP 404 response from http://127\.0\.0\.1:` + port + `: HTTP Error 404: Not Found$`},
		{"0.0.0.0 replaced", map[string]any{"http": "{{web-site/zeros}}"}, StateWarning, `^HTTP 404 response from http://127\.0\.0\.1:` + port + `:`},
		{"default port only", map[string]any{"http": "{{web-site/missing}}", "default_port": port}, StateWarning, `^HTTP 404 response from http://127\.0\.0\.1:` + port + `:`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.evalDef("127.0.0.1", webDef(c.uri, texts))
			if r.State != c.wantState || !regexp.MustCompile(c.wantText).MatchString(r.Text) {
				t.Fatalf("got %s %q", r.State, r.Text)
			}
		})
	}
}

func TestWebDefaultTextsAndMissingURI(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	e := newEnv(t, nil)
	e.cfgs.setTypes("2", nil)
	r := e.evalDef("127.0.0.1", webDef(map[string]any{"http": srv.URL}, nil))
	if r.State != StateOK || !regexp.MustCompile(`^HTTP 200 response in 0\.\d{4} seconds$`).MatchString(r.Text) {
		t.Fatalf("default OK text: %+v", r)
	}
	r = e.evalDef("127.0.0.1", webDef(map[string]any{"http": "{{nope/x}}"}, nil))
	if r.State != StateUnknown || r.Text != "Could not determine result. Either the http or https URI must be specified." {
		t.Fatalf("unresolvable URI: %+v", r)
	}
	r = e.evalDef("127.0.0.1", def(3, "web", 1, map[string]any{"type": "WEB"}))
	if r.State != StateUnknown || r.Text != "Could not determine result. URL(s) were not defined." {
		t.Fatalf("no uri: %+v", r)
	}
}

func TestWebHTTPSVerification(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // rejected handshakes are expected
	srv.StartTLS()
	defer srv.Close()
	_, port := hostPort(t, srv.URL)
	dir := t.TempDir()
	good := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(good, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "other.pem")
	if err := os.WriteFile(bad, selfSignedPEM(t), 0o600); err != nil {
		t.Fatal(err)
	}
	uri := map[string]any{"https": "127.0.0.1:" + port}
	cases := []struct {
		ca        string
		wantState string
	}{
		{"", StateOK},   // Python's default context verifies nothing
		{good, StateOK}, // chain verified, host name not checked
		{bad, StateCritical},
	}
	for _, c := range cases {
		e := newEnv(t, func(cfg *Config) { cfg.CACertPath = c.ca })
		r := e.evalDef("localhost", webDef(uri, nil))
		if r.State != c.wantState {
			t.Errorf("ca %q: got %+v", c.ca, r)
		}
	}
}

// selfSignedPEM makes a certificate unrelated to httptest's.
func selfSignedPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "other"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestWebHAResolution(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	_, port := hostPort(t, srv.URL)
	e := newEnv(t, nil)
	e.cfgs.setTypes("2", map[string]map[string]any{"hdfs-site": {
		"dfs.internal.nameservices":          "ns1",
		"dfs.ha.namenodes.ns1":               "nn1, nn2",
		"dfs.namenode.http-address.ns1.nn1":  "otherhost:1",
		"dfs.namenode.http-address.ns1.nn2":  "127.0.0.1:" + port,
		"dfs.namenode.https-address.ns1.nn2": "127.0.0.1:1",
		"dfs.http.policy":                    "HTTP_ONLY",
	}})
	uri := map[string]any{
		"http": "{{hdfs-site/dfs.namenode.http-address}}", "https": "{{hdfs-site/dfs.namenode.https-address}}",
		"https_property": "{{hdfs-site/dfs.http.policy}}", "https_property_value": "HTTPS_ONLY",
		"high_availability": map[string]any{
			"nameservice":   "{{hdfs-site/dfs.internal.nameservices}}",
			"alias_key":     "{{hdfs-site/dfs.ha.namenodes.{{ha-nameservice}}}}",
			"http_pattern":  "{{hdfs-site/dfs.namenode.http-address.{{ha-nameservice}}.{{alias}}}}",
			"https_pattern": "{{hdfs-site/dfs.namenode.https-address.{{ha-nameservice}}.{{alias}}}}",
		},
	}
	r := e.evalDef("127.0.0.1", webDef(uri, map[string]any{"ok": map[string]any{"text": "{1}"}}))
	if r.State != StateOK || r.Text != "http://127.0.0.1:"+port {
		t.Fatalf("HA: %+v", r)
	}
}

func TestWebKerberosWithoutStackLibrary(t *testing.T) {
	e := newEnv(t, nil)
	e.cfgs.setTypes("2", map[string]map[string]any{
		"cluster-env": {"security_enabled": "true", "smokeuser": "ambari-qa"},
		"site":        {"principal": "HTTP/_HOST@EXAMPLE.COM", "keytab": "/etc/security/keytabs/spnego.service.keytab"},
	})
	r := e.evalDef("127.0.0.1", webDef(map[string]any{"http": "127.0.0.1:1",
		"kerberos_principal": "{{site/principal}}", "kerberos_keytab": "{{site/keytab}}"}, nil))
	if r.State != StateUnknown || !strings.Contains(r.Text, "curl_krb_request") ||
		!strings.Contains(r.Text, "Kerberos (SPNEGO) request needs the stack library") {
		t.Fatalf("got %+v", r)
	}
}
