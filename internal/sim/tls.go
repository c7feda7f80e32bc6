package sim

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// tlsMaterial is the simulator's CA and server certificate. The CA signs
// agents' CSRs (POST /certs/<host>) and, in two-way mode, verifies the
// client certificates on the secured port.
type tlsMaterial struct {
	caCert    *x509.Certificate
	caPEM     []byte
	caKey     crypto.Signer // nil when the CA was loaded without its key
	caPool    *x509.CertPool
	server    tls.Certificate
	serialMu  sync.Mutex
	serialCtr int64
}

func loadTLS(cfg Config) (*tlsMaterial, error) {
	t := &tlsMaterial{}
	caCert, caKey := cfg.CACertFile, cfg.CAKeyFile
	cert, key := cfg.CertFile, cfg.KeyFile
	if cfg.TLSDir != "" {
		if err := os.MkdirAll(cfg.TLSDir, 0o700); err != nil {
			return nil, fmt.Errorf("TLS directory: %w", err)
		}
		caCert = orFile(caCert, filepath.Join(cfg.TLSDir, "ca.crt"))
		caKey = orFile(caKey, filepath.Join(cfg.TLSDir, "ca.key"))
		cert = orFile(cert, filepath.Join(cfg.TLSDir, "server.crt"))
		key = orFile(key, filepath.Join(cfg.TLSDir, "server.key"))
	}
	if (cert == "") != (key == "") {
		return nil, errors.New("give both the server certificate and its key, or neither")
	}
	if (caCert == "") != (caKey == "") && cfg.TLSDir == "" {
		return nil, errors.New("give both the CA certificate and its key, or neither")
	}

	if exists(caCert) && exists(caKey) {
		c, k, err := readPair(caCert, caKey)
		if err != nil {
			return nil, fmt.Errorf("CA: %w", err)
		}
		t.caCert, t.caKey = c.Leaf, k
	} else {
		if cfg.TLSDir == "" && caCert != "" {
			return nil, fmt.Errorf("CA certificate %s or key %s not found", caCert, caKey)
		}
		var err error
		if t.caCert, t.caKey, err = newCA(); err != nil {
			return nil, err
		}
		if cfg.TLSDir != "" {
			if err := writePair(caCert, caKey, t.caCert, t.caKey); err != nil {
				return nil, err
			}
		}
	}
	t.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: t.caCert.Raw})
	t.caPool = x509.NewCertPool()
	t.caPool.AddCert(t.caCert)

	if exists(cert) && exists(key) {
		c, _, err := readPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("server certificate: %w", err)
		}
		t.server = c
		return t, nil
	}
	if cfg.TLSDir == "" && cert != "" {
		return nil, fmt.Errorf("server certificate %s or key %s not found", cert, key)
	}
	leaf, k, err := t.issue(serverNames(cfg), true)
	if err != nil {
		return nil, err
	}
	if cfg.TLSDir != "" {
		if err := writePair(cert, key, leaf, k); err != nil {
			return nil, err
		}
	}
	t.server = tls.Certificate{Certificate: [][]byte{leaf.Raw, t.caCert.Raw}, PrivateKey: k, Leaf: leaf}
	return t, nil
}

func orFile(given, dflt string) string {
	if given != "" {
		return given
	}
	return dflt
}

func exists(path string) bool {
	if path == "" {
		return false
	}
	_, err := os.Stat(path)
	return err == nil
}

func readPair(certFile, keyFile string) (tls.Certificate, crypto.Signer, error) {
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	if c.Leaf == nil {
		if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return tls.Certificate{}, nil, err
		}
	}
	k, ok := c.PrivateKey.(crypto.Signer)
	if !ok {
		return tls.Certificate{}, nil, fmt.Errorf("%s: unsupported key type", keyFile)
	}
	return c, k, nil
}

func writePair(certFile, keyFile string, c *x509.Certificate, k crypto.Signer) error {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return fmt.Errorf("encode key: %w", err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o644); err != nil {
		return fmt.Errorf("write certificate: %w", err)
	}
	return nil
}

// Certificates live long: a simulator's state directory may be reused for
// years of test runs.
const certValidity = 10 * 365 * 24 * time.Hour

func newCA() (*x509.Certificate, crypto.Signer, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate CA key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "ambari-sim CA", Organization: []string{"ambari-sim"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(certValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		return nil, nil, fmt.Errorf("create CA certificate: %w", err)
	}
	c, err := x509.ParseCertificate(der)
	return c, k, err
}

func serverNames(cfg Config) []string {
	names := []string{"localhost", "127.0.0.1", "::1", cfg.PublicHost}
	if cfg.ListenAddr != "" {
		names = append(names, cfg.ListenAddr)
	}
	if h, err := os.Hostname(); err == nil {
		names = append(names, h)
	}
	return names
}

func (t *tlsMaterial) nextSerial() *big.Int {
	t.serialMu.Lock()
	defer t.serialMu.Unlock()
	t.serialCtr++
	return big.NewInt(time.Now().UnixNano() + t.serialCtr)
}

// issue creates a key and a certificate signed by the CA.
func (t *tlsMaterial) issue(names []string, server bool) (*x509.Certificate, crypto.Signer, error) {
	if t.caKey == nil {
		return nil, nil, errors.New("the CA key is not available")
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: t.nextSerial(),
		Subject:      pkix.Name{CommonName: names[0], OrganizationalUnit: []string{names[0]}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(certValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
		tmpl.Subject = pkix.Name{CommonName: names[0], Organization: []string{"ambari-sim"}}
		seen := map[string]bool{}
		for _, n := range names {
			if n == "" || seen[n] {
				continue
			}
			seen[n] = true
			if ip := net.ParseIP(n); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else {
				tmpl.DNSNames = append(tmpl.DNSNames, n)
			}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, t.caCert, k.Public(), t.caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("create certificate: %w", err)
	}
	c, err := x509.ParseCertificate(der)
	return c, k, err
}

// signCSR signs an agent's certificate request. The subject is taken from
// the CSR (the agent puts OU=<hostname>); the certificate is good for
// client authentication.
func (t *tlsMaterial) signCSR(csrPEM []byte) ([]byte, error) {
	if t.caKey == nil {
		return nil, errors.New("the CA key is not available")
	}
	block, _ := pem.Decode(csrPEM)
	if block == nil || (block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST") {
		return nil, errors.New("csr is not a PEM certificate request")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse csr: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("csr signature: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: t.nextSerial(),
		Subject:      csr.Subject,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(certValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		DNSNames:     csr.DNSNames,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, t.caCert, csr.PublicKey, t.caKey)
	if err != nil {
		return nil, fmt.Errorf("sign csr: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// serverConfig is the TLS configuration of an agent port. Agents send no
// SNI, so the one certificate is always presented.
func (t *tlsMaterial) serverConfig(clientCerts bool) *tls.Config {
	c := &tls.Config{
		Certificates: []tls.Certificate{t.server},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
	}
	if clientCerts {
		c.ClientAuth = tls.RequireAndVerifyClientCert
		c.ClientCAs = t.caPool
	}
	return c
}

// CACertPEM is the simulator's CA certificate (what /cert/ca serves).
func (s *Server) CACertPEM() []byte { return append([]byte(nil), s.tls.caPEM...) }

// CAPool holds the simulator's CA, for clients that verify the server.
func (s *Server) CAPool() *x509.CertPool { return s.tls.caPool.Clone() }

// ClientTLSConfig is a TLS configuration for a test client: it trusts the
// simulator's CA and, in two-way mode, presents a fresh certificate for
// hostName signed by it (what an agent would get from /certs/<host>).
func (s *Server) ClientTLSConfig(hostName string) (*tls.Config, error) {
	c := &tls.Config{RootCAs: s.tls.caPool.Clone(), ServerName: "localhost"}
	if s.twoWay {
		leaf, k, err := s.tls.issue([]string{hostName}, false)
		if err != nil {
			return nil, fmt.Errorf("client certificate for %s: %w", hostName, err)
		}
		c.Certificates = []tls.Certificate{{Certificate: [][]byte{leaf.Raw}, PrivateKey: k, Leaf: leaf}}
	}
	return c, nil
}
