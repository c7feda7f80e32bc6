// Package security owns the agent's TLS material and the HTTPS calls made
// to the server's one-way port (url_port, 8440) before and around the STOMP
// link (docs/protocol.md §1.2–1.3, docs/behaviour.md §1.1 keysdir, §2.3 [security]):
//
//   - ProbeServer: the startup liveness probe GET /ca;
//   - TwoWaySSL: GET /connection_info, asked before every connection;
//   - EnsureClientCert: the two-way SSL bootstrap in <keysdir>: download
//     ca.crt from /cert/ca/, generate <host>.key and <host>.csr, have the
//     server sign it via POST /certs/<host>, store <host>.crt;
//   - ClientTLS: the tls.Config for the wss:// connection.
//
// It replaces the Python agent's security.py (CertificateManager,
// VerifiedHTTPSConnection's TLS options), NetUtil.checkURL's /ca probe and
// AmbariConfig.isTwoWaySSLConnection.
//
// HTTPS calls never use a proxy (the Python agent installs an empty
// ProxyHandler), follow no redirects, and are bounded by Config.Timeout.
//
// # Where we differ from the Python agent
//
//   - The key and CSR are made in Go (crypto/x509), not by running openssl
//     through a shell: a 2048-bit RSA key stored as PKCS#8 PEM (what
//     "openssl req -newkey rsa -nodes" writes with OpenSSL's default size)
//     and a SHA-256 CSR with subject OU=<host>. The key is written with mode
//     0600 from the start instead of being chmod-ed afterwards.
//   - A freshly generated key is always followed by a new signing request,
//     so a stale <host>.crt left beside a lost key is replaced; and a
//     missing CSR is regenerated from an existing key rather than crashing.
//   - ssl_verify_cert=1 means real verification: for the HTTPS calls and a
//     one-way wss link, the chain is checked against ca_cert_path, else
//     <keysdir>/ca.crt when present, else the system roots, and the host name
//     is checked. (In the Python agent the patched default context verified
//     nothing unless ca_cert_path was set, and never the host name.)
//   - Two-way mode verifies the server chain against <keysdir>/ca.crt but,
//     like the Python agent, not the host name unless ssl_verify_cert=1.
//   - TLS 1.2 is the minimum; TLS 1.3 is allowed.
//   - A response to /cert/ca/ that holds no PEM certificate, and a signed
//     certificate that does not match our key, are errors at once rather than
//     files that make every later handshake fail.
package security
