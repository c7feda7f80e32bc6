package agent

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/heartbeat"
	"github.com/ambari-go/ambari-agent/internal/protocol"
	"github.com/ambari-go/ambari-agent/internal/security"
	"github.com/ambari-go/ambari-agent/internal/stompws"
	"github.com/ambari-go/ambari-agent/internal/version"
)

// stompPath is where the server's agent endpoint lives.
const stompPath = "/agent/stomp/v1"

// securityConfig is what internal/security needs to talk to one server.
func (a *Agent) securityConfig(server string) security.Config {
	cfg := a.cfg
	return security.Config{
		Server:           server,
		URLPort:          cfg.Server.URLPort,
		KeysDir:          cfg.Security.KeysDir,
		Hostname:         a.hostname,
		Passphrase:       os.Getenv(cfg.Security.PassphraseEnvVarName),
		VerifyServerCert: cfg.Security.SSLVerifyCert,
		CACertPath:       cfg.Security.CACertPath,
		Log:              a.secLog,
	}
}

// connect opens a STOMP session with server: it asks whether the server
// wants client certificates (before every connection, as the Python agent
// does), obtains one if needed, and dials the WebSocket.
func (a *Agent) connect(ctx context.Context, server string) (heartbeat.Conn, error) {
	sc := a.securityConfig(server)
	twoWay, err := security.TwoWaySSL(ctx, sc)
	if err != nil {
		a.secLog.WithError(err).Debug("two-way SSL discovery failed; assuming one-way")
	}
	if twoWay {
		if err := security.EnsureClientCert(ctx, sc); err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
	}
	tlsCfg, err := security.ClientTLS(sc, twoWay)
	if err != nil {
		return nil, err
	}
	if a.pinner != nil {
		tlsCfg = a.pinner.Wrap(tlsCfg, server)
	}
	if a.shared.TLSSessions != nil && !twoWay {
		tlsCfg = tlsCfg.Clone()
		tlsCfg.ClientSessionCache = a.shared.TLSSessions
	}
	a.connectedTo.Store(server)
	url := "wss://" + net.JoinHostPort(server, strconv.Itoa(a.cfg.Server.SecuredURLPort)) + stompPath
	return stompws.Dial(ctx, stompws.Config{URL: url, TLS: tlsCfg, Log: a.linkLog})
}

// setUpServerIdentity says once at start how far the server's identity is
// checked, and sets up pinning.
func (a *Agent) setUpServerIdentity() {
	sec := a.cfg.Security
	if sec.ServerCertPinning == "tofu" {
		a.pinner = security.NewPinner(sec.KeysDir, a.secLog)
	}
	if sec.SSLVerifyCert {
		return
	}
	if a.pinner != nil {
		a.secLog.Warnf("ssl_verify_cert=0: the Ambari server's certificate is not verified; "+
			"server_cert_pinning=tofu pins its key at the first registration (%s) and refuses another key afterwards", a.pinner.Path())
		return
	}
	a.secLog.Warn("ssl_verify_cert=0: the Ambari server's identity is not checked; whoever can intercept the connection " +
		"can pose as the server and have commands run on this host. Set ssl_verify_cert=1 (with ca_cert_path) " +
		"or [security] server_cert_pinning=tofu")
}

// pinServerKey pins the key of the server the agent just registered with,
// the first time (server_cert_pinning=tofu).
func (a *Agent) pinServerKey() {
	server, _ := a.connectedTo.Load().(string)
	if a.pinner == nil || server == "" {
		return
	}
	if err := a.pinner.Commit(server); err != nil {
		a.secLog.WithError(err).Error("Cannot pin the server certificate key; it will be tried again at the next registration")
	}
}

// registration builds the /register request: host facts (each probe
// bounded, so a hung mount cannot stall registration) and the expensive
// host checks, which are also written to <prefix>/hostcheck.result.
func (a *Agent) registration(ctx context.Context) (*protocol.RegisterRequest, error) {
	env := a.hostinfo.AgentEnv(ctx, true)
	if err := a.hostinfo.WriteHostCheckResult(env); err != nil {
		a.log.WithError(err).Warn("Cannot write hostcheck.result")
	}
	return &protocol.RegisterRequest{
		ID:              -1,
		Timestamp:       time.Now().UnixMilli(),
		Hostname:        a.hostname,
		CurrentPingPort: a.cfg.Agent.PingPort,
		PublicHostname:  a.hostinfo.PublicHostname(ctx),
		HardwareProfile: a.hostinfo.HardwareProfile(ctx),
		AgentEnv:        env,
		AgentVersion:    a.agentVersion(),
		Prefix:          a.cfg.Agent.Prefix,
		AgentStartTime:  a.startTime.UnixMilli(),
	}, nil
}

var versionWarning sync.Once

// agentVersion is <prefix>/version, which the package installs and the
// server compares with its own version. Without it the Python agent cannot
// register at all; this one registers with its build version and says
// plainly that a real server refuses it.
func (a *Agent) agentVersion() string {
	if v, err := version.ReadAmbari(a.cfg.VersionFile()); err == nil {
		return v
	}
	versionWarning.Do(func() { a.log.Warn(version.MissingAmbari(a.cfg.VersionFile())) })
	return version.Version
}

// encryptionKey holds the server's key for encrypted configuration values.
// Scripts receive it as AGENT_ENCRYPTION_KEY; it is never logged.
type encryptionKey struct {
	mu  sync.RWMutex
	key string
}

func (k *encryptionKey) set(v string) { k.mu.Lock(); k.key = v; k.mu.Unlock() }
func (k *encryptionKey) get() string  { k.mu.RLock(); defer k.mu.RUnlock(); return k.key }

func newLinkLoggers(logger *logrus.Logger) (link, sec *logrus.Entry) {
	return logger.WithField("component", "link"), logger.WithField("component", "security")
}
