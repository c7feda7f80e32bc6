package security

import (
	"github.com/ambari-go/ambari-agent/internal/atomicfile"

	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
)

// KeyBits is the size of the RSA key generated for the agent.
const KeyBits = 2048

// ErrSigningRefused is wrapped by EnsureClientCert's error when the server
// answers the signing request with a result other than OK.
var ErrSigningRefused = errors.New("certificate signing refused by the server")

// signResponse is the server's answer to POST /certs/<host>.
type signResponse struct {
	Result   string `json:"result"`
	SignedCA string `json:"signedCa"`
	Message  string `json:"message"`
}

// EnsureClientCert makes sure <keysdir> holds what two-way SSL needs,
// fetching or creating only what is missing: ca.crt from GET /cert/ca/,
// <host>.key (mode 0600) and <host>.csr generated here, and <host>.crt
// signed by the server through POST /certs/<host>. keysdir is created with
// mode 0700 when absent.
func EnsureClientCert(ctx context.Context, cfg Config) error {
	log := cfg.log()
	if cfg.Hostname == "" {
		return errors.New("client certificate: no host name")
	}
	if err := os.MkdirAll(cfg.KeysDir, 0o700); err != nil {
		return fmt.Errorf("client certificate: create keys directory: %w", err)
	}

	if !exists(cfg.caFile()) {
		log.Infof("server CA certificate %s missing, downloading it", cfg.caFile())
		if err := fetchCA(ctx, cfg); err != nil {
			return err
		}
	}

	newKey := false
	var key crypto.Signer
	switch {
	case !exists(cfg.keyFile()):
		log.Infof("agent key %s missing, generating a new key and signing request", cfg.keyFile())
		k, err := rsa.GenerateKey(rand.Reader, KeyBits)
		if err != nil {
			return fmt.Errorf("client certificate: generate key: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return fmt.Errorf("client certificate: encode key: %w", err)
		}
		if err := writeFile(cfg.keyFile(), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return fmt.Errorf("client certificate: %w", err)
		}
		key, newKey = k, true
	case !exists(cfg.certFile()) && !exists(cfg.csrFile()):
		k, err := loadKey(cfg.keyFile())
		if err != nil {
			return fmt.Errorf("client certificate: %w", err)
		}
		key = k
	}
	if key != nil {
		if err := writeCSR(cfg, key); err != nil {
			return err
		}
	}

	if newKey || !exists(cfg.certFile()) {
		log.Infof("agent certificate %s missing, asking the server to sign %s", cfg.certFile(), cfg.csrFile())
		return requestSigning(ctx, cfg)
	}
	return nil
}

func fetchCA(ctx context.Context, cfg Config) error {
	status, body, err := cfg.call(ctx, http.MethodGet, "/cert/ca/", "", nil, 1<<20)
	if err != nil {
		return fmt.Errorf("download server CA certificate: %w", err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("download server CA certificate: GET %s/cert/ca/: HTTP status %d", cfg.baseURL(), status)
	}
	if _, err := parseCerts(body); err != nil {
		return fmt.Errorf("download server CA certificate: GET %s/cert/ca/: %w", cfg.baseURL(), err)
	}
	if err := writeFile(cfg.caFile(), body, 0o644); err != nil {
		return fmt.Errorf("download server CA certificate: %w", err)
	}
	return nil
}

func writeCSR(cfg Config, key crypto.Signer) error {
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{OrganizationalUnit: []string{cfg.Hostname}}}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return fmt.Errorf("client certificate: create signing request: %w", err)
	}
	pemCSR := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	if err := writeFile(cfg.csrFile(), pemCSR, 0o644); err != nil {
		return fmt.Errorf("client certificate: %w", err)
	}
	return nil
}

func requestSigning(ctx context.Context, cfg Config) error {
	csr, err := os.ReadFile(cfg.csrFile())
	if err != nil {
		return fmt.Errorf("client certificate: %w", err)
	}
	req, err := json.Marshal(map[string]string{"csr": string(csr), "passphrase": cfg.Passphrase})
	if err != nil {
		return fmt.Errorf("client certificate: %w", err)
	}
	path := "/certs/" + url.PathEscape(cfg.Hostname)
	status, body, err := cfg.call(ctx, http.MethodPost, path, "application/json", bytes.NewReader(req), 1<<20)
	if err != nil {
		return fmt.Errorf("certificate signing: %w", err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("certificate signing: POST %s%s: HTTP status %d", cfg.baseURL(), path, status)
	}
	var resp signResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		return fmt.Errorf("certificate signing: bad JSON from POST %s%s: %w", cfg.baseURL(), path, err)
	}
	if resp.Result != "OK" {
		return fmt.Errorf("%w: %q (result %q); to get a new certificate remove %s, or turn two-way SSL off on the server",
			ErrSigningRefused, resp.Message, resp.Result, cfg.certFile())
	}
	certs, err := parseCerts([]byte(resp.SignedCA))
	if err != nil {
		return fmt.Errorf("certificate signing: signedCa: %w", err)
	}
	key, err := loadKey(cfg.keyFile())
	if err != nil {
		return fmt.Errorf("certificate signing: %w", err)
	}
	if !publicKeyEqual(certs[0].PublicKey, key.Public()) {
		return fmt.Errorf("certificate signing: the signed certificate is not for the key in %s", cfg.keyFile())
	}
	if err := writeFile(cfg.certFile(), []byte(resp.SignedCA), 0o644); err != nil {
		return fmt.Errorf("certificate signing: %w", err)
	}
	return nil
}

// parseCerts returns the certificates of a PEM bundle, or an error when it
// holds none.
func parseCerts(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("bad certificate: %w", err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate found")
	}
	return certs, nil
}

// loadKey reads a PEM private key as openssl writes them (PKCS#8, PKCS#1 or
// SEC 1).
func loadKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM key", path)
	}
	var k any
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: unsupported key type %T", path, k)
	}
	return s, nil
}

func publicKeyEqual(a, b crypto.PublicKey) bool {
	ak, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ak.Equal(b)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

// writeFile replaces path atomically, so that a crash never leaves a
// half-written key or certificate behind and a key never exists with a
// wider mode than 0600.
func writeFile(path string, data []byte, mode os.FileMode) error {
	return atomicfile.Write(path, data, mode)
}
