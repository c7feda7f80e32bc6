package alerts

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/sirupsen/logrus"
)

// tlsVersions maps force_https_protocol (a Python ssl.PROTOCOL_* name) to
// the versions Python's context would allow: a numbered protocol pins that
// one version, the generic ones negotiate (Python 3.10+ floors them at 1.2).
func tlsVersions(name string) (uint16, uint16, bool) {
	switch name {
	case "", "PROTOCOL_TLSv1_2":
		return tls.VersionTLS12, tls.VersionTLS12, true
	case "PROTOCOL_TLSv1_1":
		return tls.VersionTLS11, tls.VersionTLS11, true
	case "PROTOCOL_TLSv1":
		return tls.VersionTLS10, tls.VersionTLS10, true
	case "PROTOCOL_TLS", "PROTOCOL_SSLv23", "PROTOCOL_TLS_CLIENT":
		return tls.VersionTLS12, tls.VersionTLS13, true
	}
	return tls.VersionTLS12, tls.VersionTLS12, false
}

// newHTTPClient builds the client of WEB, METRIC and AMS checks with the
// Python agent's default-context rules (docs/behaviour.md §2.3): the protocol of
// force_https_protocol, no certificate verification unless ca_cert_path is
// set, and never a host-name check. Redirects are followed (up to 10, like
// urllib); connections are not kept alive between checks, as with urllib.
// The returned error (a CA file that cannot be used) is reported by every
// HTTPS request instead of stopping the agent.
func newHTTPClient(cfg *Config, log *logrus.Entry) (*http.Client, error) {
	minV, maxV, known := tlsVersions(cfg.TLSProtocol)
	if !known {
		log.WithField("force_https_protocol", cfg.TLSProtocol).Warn("Unknown TLS protocol name; using TLS 1.2")
	}
	tc := &tls.Config{MinVersion: minV, MaxVersion: maxV, InsecureSkipVerify: true}
	var caErr error
	if cfg.CACertPath != "" {
		pool, err := loadCAPool(cfg.CACertPath)
		if err != nil {
			caErr = err
			tc.VerifyConnection = func(tls.ConnectionState) error { return err }
		} else {
			tc.VerifyConnection = func(cs tls.ConnectionState) error {
				return verifyChain(cs, pool)
			}
		}
	}
	tr := &http.Transport{
		DialContext:       (&net.Dialer{KeepAlive: -1}).DialContext,
		TLSClientConfig:   tc,
		DisableKeepAlives: true,
		ForceAttemptHTTP2: false,
	}
	if cfg.UseSystemProxy {
		tr.Proxy = http.ProxyFromEnvironment
	}
	return &http.Client{Transport: tr}, caErr
}

func loadCAPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read ca_cert_path: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("ca_cert_path %s holds no PEM certificate", path)
	}
	return pool, nil
}

// verifyChain checks the peer's chain against pool without a host name,
// like Python's CERT_REQUIRED with check_hostname off.
func verifyChain(cs tls.ConnectionState, pool *x509.CertPool) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("server sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
		Roots:         pool,
		Intermediates: inter,
		CurrentTime:   time.Now(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	return err
}
