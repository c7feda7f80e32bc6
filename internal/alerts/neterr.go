package alerts

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strconv"
	"strings"
	"syscall"
)

// Network errors end up in alert texts ("Connection failed: {0} to
// {1}:{2}"). Operators and the server compare those texts across agents, so
// they are worded as Python's socket and urllib exceptions print
// themselves, not as Go's error chains.

// socketErrorText is str(exception) for a socket-level failure.
func socketErrorText(err error) string {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timed out"
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		if dnsErr.IsNotFound {
			return "[Errno -2] Name or service not known"
		}
		return "[Errno -3] Temporary failure in name resolution"
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		msg := errno.Error()
		if msg != "" {
			msg = strings.ToUpper(msg[:1]) + msg[1:]
		}
		return "[Errno " + strconv.Itoa(int(errno)) + "] " + msg
	}
	return err.Error()
}

// urlErrorText is str(exception) for a failed urllib request: connection
// problems are wrapped in "<urlopen error ...>", a timeout while waiting
// for the response is a bare "timed out".
func urlErrorText(err error) string {
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return "<urlopen error " + socketErrorText(err) + ">"
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return "<urlopen error " + socketErrorText(err) + ">"
	}
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	if errors.As(err, &certErr) || errors.As(err, &unknownAuth) {
		return "<urlopen error [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: " + err.Error() + ">"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timed out"
	}
	var recErr tls.RecordHeaderError
	if errors.As(err, &recErr) || strings.Contains(err.Error(), "tls:") {
		return "<urlopen error [SSL] " + err.Error() + ">"
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return socketErrorText(err)
	}
	return "<urlopen error " + err.Error() + ">"
}
