package security

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// ClientTLS returns the TLS configuration of the wss:// connection.
//
// One-way (twoWay false): no client certificate; the server certificate is
// not verified unless VerifyServerCert, in which case its chain is checked
// against CACertPath, else <keysdir>/ca.crt when present, else the system
// roots, and so is the host name.
//
// Two-way: the client presents <host>.crt/<host>.key (see EnsureClientCert)
// and the server chain must lead to <keysdir>/ca.crt. The host name is not
// checked, as in the Python agent, unless VerifyServerCert.
func ClientTLS(cfg Config, twoWay bool) (*tls.Config, error) {
	if !twoWay {
		return serverTLS(cfg)
	}
	cert, err := tls.LoadX509KeyPair(cfg.certFile(), cfg.keyFile())
	if err != nil {
		return nil, fmt.Errorf("two-way SSL: load agent certificate %s and key %s: %w", cfg.certFile(), cfg.keyFile(), err)
	}
	roots, err := loadPool(cfg.caFile())
	if err != nil {
		return nil, fmt.Errorf("two-way SSL: %w", err)
	}
	why := fmt.Sprintf("two-way SSL, CA file %s, ssl_verify_cert=%s", cfg.caFile(), flag(cfg.VerifyServerCert))
	host := ""
	if cfg.VerifyServerCert {
		if host, err = checkedHost(cfg); err != nil {
			return nil, err
		}
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Always present our certificate when asked, as the Python agent
		// does, even if the server's list of acceptable CAs does not name
		// our issuer the way Go would match it.
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil },
		// Verification happens in VerifyConnection so that the host name
		// check is optional and failures are worded for the operator.
		InsecureSkipVerify: true,
		VerifyConnection:   verifyServer(roots, host, why),
	}, nil
}

// serverTLS is the TLS configuration of the HTTPS calls and of a one-way
// wss link.
func serverTLS(cfg Config) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true}
	if !cfg.VerifyServerCert {
		return c, nil
	}
	var roots *x509.CertPool // nil: system roots
	desc := "system CA certificates"
	switch {
	case cfg.CACertPath != "":
		p, err := loadPool(cfg.CACertPath)
		if err != nil {
			return nil, fmt.Errorf("ssl_verify_cert=1: %w", err)
		}
		roots, desc = p, "CA file "+cfg.CACertPath+" (ca_cert_path)"
	case cfg.KeysDir != "" && exists(cfg.caFile()):
		p, err := loadPool(cfg.caFile())
		if err != nil {
			return nil, fmt.Errorf("ssl_verify_cert=1: %w", err)
		}
		roots, desc = p, "CA file "+cfg.caFile()
	}
	host, err := checkedHost(cfg)
	if err != nil {
		return nil, err
	}
	c.VerifyConnection = verifyServer(roots, host, "ssl_verify_cert=1, "+desc)
	return c, nil
}

// checkedHost is the name the server certificate must be for: the server
// host of the configuration, which is what both the HTTPS calls and the
// wss:// URL dial. (tls.ConnectionState does not carry the dialled name when
// it is an IP address, so it cannot be taken from there.)
func checkedHost(cfg Config) (string, error) {
	if cfg.Server == "" {
		return "", errors.New("ssl_verify_cert=1: no server host name to check the certificate against")
	}
	return cfg.Server, nil
}

// verifyServer checks the server's chain against roots (nil: the system's)
// and, unless host is empty, that the certificate is for host.
func verifyServer(roots *x509.CertPool, host, why string) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return fmt.Errorf("server presented no certificate (%s)", why)
		}
		opts := x509.VerifyOptions{
			Roots:         roots,
			Intermediates: x509.NewCertPool(),
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		for _, c := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(c)
		}
		opts.DNSName = host
		if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
			return fmt.Errorf("server certificate not trusted: %w (%s)", err, why)
		}
		return nil
	}
}

func loadPool(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	certs, err := parseCerts(data)
	if err != nil {
		return nil, fmt.Errorf("CA file %s: %w", path, err)
	}
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p, nil
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// DefaultContextTLS is the TLS configuration of the agent's other HTTPS
// calls (resource downloads, WEB and METRIC alert checks): the Python
// agent's patched default context. Without caCertPath nothing is verified;
// with it the chain must lead to that bundle, and the host name is never
// checked.
func DefaultContextTLS(caCertPath string) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true}
	if caCertPath == "" {
		return c, nil
	}
	roots, err := loadPool(caCertPath)
	if err != nil {
		return nil, fmt.Errorf("ca_cert_path: %w", err)
	}
	c.VerifyConnection = verifyServer(roots, "", "ca_cert_path "+caCertPath)
	return c, nil
}
