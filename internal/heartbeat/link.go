package heartbeat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/cache"
	"github.com/ambari-go/ambari-agent/internal/jitter"
	"github.com/ambari-go/ambari-agent/internal/logging"
	"github.com/ambari-go/ambari-agent/internal/protocol"
	"github.com/ambari-go/ambari-agent/internal/stompws"
)

// ErrNotConnected is returned by Request while the agent has no registered
// session with the server.
var ErrNotConnected = errors.New("not connected to the Ambari server")

// Conn is one STOMP session with the server (*stompws.Conn).
type Conn interface {
	Subscribe(destination string, queueLen int, h stompws.Handler) error
	Send(ctx context.Context, destination string, body []byte) error
	Request(ctx context.Context, destination string, body []byte) ([]byte, error)
	Done() <-chan struct{}
	Err() error
	Close() error
}

// Defaults of the protocol (docs/protocol.md §10).
const (
	DefaultInterval      = 10 * time.Second
	DefaultProbeAttempts = 10
	DefaultMinBackoff    = time.Second
	// pushQueueLen bounds the pushes waiting per topic, the Python agent's
	// 100-event queue for listeners disabled during registration.
	pushQueueLen = 100
	// ackTimeout bounds sending one acknowledgement.
	ackTimeout = 5 * time.Second
)

// Config wires the link to the rest of the agent.
type Config struct {
	// Servers are probed in order at startup ([server] hostname list or
	// hostname_script output).
	Servers []string
	// Probe checks that a server answers (GET https://server:url_port/ca).
	// nil: no probe.
	Probe         func(ctx context.Context, server string) error
	ProbeAttempts int
	// ProbeDelay separates probe attempts ([server] connect_retry_delay).
	ProbeDelay time.Duration

	// Connect opens a STOMP session: two-way SSL discovery, certificate
	// bootstrap, TLS, WebSocket and STOMP.
	Connect func(ctx context.Context, server string) (Conn, error)
	// Registration builds the /register body, for every attempt.
	Registration func(ctx context.Context) (*protocol.RegisterRequest, error)
	// Caches receive the cache replies and pushes.
	Caches *cache.Store

	// Commands takes the messageId and body of a /user/commands push; it
	// must only queue them, quickly. An error is acknowledged as ERROR.
	Commands func(messageID string, body []byte) error
	// Restart asks the agent to restart (RESTART_AGENT, heartbeat id
	// mismatch).
	Restart func(reason string)
	// EncryptionKey receives the server's key for encrypted config values.
	EncryptionKey func(key string)
	// OnRegistered runs after every registration, before the first
	// heartbeat; it must not block.
	OnRegistered func()
	// StaleAlerts returns the stale alert definitions for the heartbeat.
	StaleAlerts func() []protocol.StaleAlert

	// Interval between heartbeats. Default 10 s.
	Interval time.Duration
	// Jitter places the second heartbeat of a session somewhere in its
	// first Interval, so agents that registered together do not beat
	// together from then on; nil: exactly Interval.
	Jitter jitter.Source
	// MinBackoff and MaxBackoff bound the delay between registration
	// attempts ([server] max_reconnect_retry_delay).
	MinBackoff, MaxBackoff time.Duration

	// Observer learns what the link does (liveness, metrics, the status
	// file); nil = nobody.
	Observer Observer

	Log *logrus.Entry
}

// Observer is told about the link's life. Calls come from the link's
// goroutine and must return quickly.
type Observer interface {
	// Connecting: an attempt to reach server begins (probe or session).
	Connecting(server string)
	// Registered: a session with server is registered.
	Registered(server string)
	// Disconnected: no session (an attempt failed or a session ended);
	// the next attempt comes in retryIn.
	Disconnected(server string, err error, retryIn time.Duration)
	// HeartbeatAcked: the server answered a heartbeat after rtt; late is
	// how long after its due time the heartbeat left.
	HeartbeatAcked(rtt, late time.Duration)
}

type noObserver struct{}

func (noObserver) Connecting(string)                           {}
func (noObserver) Registered(string)                           {}
func (noObserver) Disconnected(string, error, time.Duration)   {}
func (noObserver) HeartbeatAcked(time.Duration, time.Duration) {}

// Link is the agent's connection to the server.
type Link struct {
	cfg Config
	log *logrus.Entry
	// conn is the registered session, nil while there is none. It is the
	// only state other goroutines read.
	conn atomic.Pointer[connBox]
	bo   backoff
	// nextID is the heartbeat id to send next; owned by the Run goroutine.
	nextID int64
}

type connBox struct{ c Conn }

// New builds a link; Run runs it.
func New(cfg Config) *Link {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.ProbeAttempts <= 0 {
		cfg.ProbeAttempts = DefaultProbeAttempts
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = cfg.MinBackoff
	}
	cfg.Log = logging.OrDiscard(cfg.Log)
	if cfg.Observer == nil {
		cfg.Observer = noObserver{}
	}
	return &Link{cfg: cfg, log: cfg.Log, bo: backoff{base: cfg.MinBackoff, cap: cfg.MaxBackoff}}
}

// Request sends body to destination and waits for the server's reply (hard
// 10 s deadline). It fails at once with ErrNotConnected when no registered
// session exists.
func (l *Link) Request(ctx context.Context, destination string, body []byte) ([]byte, error) {
	b := l.conn.Load()
	if b == nil {
		return nil, ErrNotConnected
	}
	return b.c.Request(ctx, destination, body)
}

// Registered reports whether a registered session exists right now.
func (l *Link) Registered() bool { return l.conn.Load() != nil }

// Run keeps a registered session with the server until ctx is done.
func (l *Link) Run(ctx context.Context) error {
	server, ok := l.waitForServer(ctx)
	if !ok {
		return nil
	}
	// failures counts the attempts that failed since the last
	// registration, down since when; the log says how long the server has
	// been out of reach instead of restarting a count.
	var failures int
	var down time.Time
	for {
		began := time.Now()
		l.cfg.Observer.Connecting(server)
		err := l.session(ctx, server)
		registered := l.conn.Swap(nil) != nil
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, errRestarting) {
			// The agent is restarting; wait for it to stop us.
			<-ctx.Done()
			return nil
		}
		// A session that stayed up for a while starts the backoff anew.
		if time.Since(began) > 2*l.cfg.MaxBackoff {
			l.bo.reset()
		}
		d := l.bo.next()
		l.cfg.Observer.Disconnected(server, err, d)
		if registered || failures == 0 {
			failures, down = 0, time.Now()
			l.log.WithError(err).Warnf("Connection to %s lost or refused; registering again in %s", server, d.Round(time.Millisecond))
		} else {
			l.log.WithError(err).Warnf("Ambari server %s still out of reach: %d attempts failed over %s; next attempt in %s",
				server, failures+1, time.Since(down).Round(time.Second), d.Round(time.Millisecond))
		}
		failures++
		if !sleep(ctx, d) {
			return nil
		}
	}
}

// waitForServer probes the server list until one answers, as the Python
// agent does before it starts any worker.
func (l *Link) waitForServer(ctx context.Context) (string, bool) {
	if len(l.cfg.Servers) == 0 {
		l.log.Error("No Ambari server host configured")
		<-ctx.Done()
		return "", false
	}
	if l.cfg.Probe == nil {
		return l.cfg.Servers[0], true
	}
	// The Python agent counts "attempt i of N" per server and starts
	// again at 1 when it cycles, forever; this says how long and how often
	// each server has been tried, and where it goes next.
	began := time.Now()
	tries := 0
	for round := 1; ; round++ {
		for si, s := range l.cfg.Servers {
			for i := 1; i <= l.cfg.ProbeAttempts; i++ {
				tries++
				l.cfg.Observer.Connecting(s)
				err := l.cfg.Probe(ctx, s)
				if err == nil {
					l.log.Infof("Ambari server %s is reachable", s)
					return s, true
				}
				if ctx.Err() != nil {
					return "", false
				}
				next := s
				if i == l.cfg.ProbeAttempts {
					next = l.cfg.Servers[(si+1)%len(l.cfg.Servers)]
				}
				l.cfg.Observer.Disconnected(s, err, l.cfg.ProbeDelay)
				l.log.WithError(err).Warnf("Ambari server %s not reachable (attempt %d of %d on it, round %d; no server reached for %s, %d attempts); trying %s in %s",
					s, i, l.cfg.ProbeAttempts, round, time.Since(began).Round(time.Second), tries, next, l.cfg.ProbeDelay)
				if !sleep(ctx, l.cfg.ProbeDelay) {
					return "", false
				}
			}
		}
	}
}

var errRestarting = errors.New("agent restart requested")

// session runs one connection: registration, cache sync, heartbeats. It
// returns why the session ended.
func (l *Link) session(ctx context.Context, server string) error {
	conn, err := l.cfg.Connect(ctx, server)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", server, err)
	}
	defer conn.Close()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()

	if err := l.register(sctx, conn); err != nil {
		return err
	}
	l.conn.Store(&connBox{conn})
	l.log.Infof("Registered with the Ambari server %s", server)
	l.cfg.Observer.Registered(server)
	if l.cfg.OnRegistered != nil {
		l.cfg.OnRegistered()
	}
	return l.heartbeats(sctx, conn)
}

func (l *Link) register(ctx context.Context, conn Conn) error {
	// Replies to every request come on /user/.
	if err := conn.Subscribe(protocol.UserReplies, 0, nil); err != nil {
		return err
	}
	if err := conn.Subscribe(protocol.UserAgentActions, 16, l.pushHandler(ctx, conn, nil, bodyOnly(l.onAgentAction))); err != nil {
		return err
	}
	if err := conn.Subscribe(protocol.EventsEncryptionKey, 4, l.pushHandler(ctx, conn, nil, l.onEncryptionKey)); err != nil {
		return err
	}

	req, err := l.cfg.Registration(ctx)
	if err != nil {
		return fmt.Errorf("build registration: %w", err)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	reply, err := conn.Request(ctx, protocol.Register, body)
	if err != nil {
		return fmt.Errorf("register: %w", err)
	}
	var resp protocol.RegisterResponse
	if err := json.Unmarshal(reply, &resp); err != nil {
		return fmt.Errorf("register: unreadable reply: %w", err)
	}
	if resp.ExitStatus != 0 {
		// The Python agent's words, which operators' runbooks grep for
		// (docs/protocol.md §2.4).
		msg := "Registration failed"
		if resp.Log != "" {
			msg = "Registration failed due to: " + resp.Log
		}
		l.log.Error(msg)
		return errors.New(msg)
	}
	if resp.ID == nil {
		return fmt.Errorf("register: reply without an id: %.200q", reply)
	}
	l.nextID = *resp.ID

	for _, s := range protocol.CacheSyncOrder {
		if err := l.syncCache(ctx, conn, s); err != nil {
			return err
		}
	}
	return conn.Subscribe(protocol.UserCommands, 64, l.pushHandler(ctx, conn, nil, l.onCommands))
}

// syncCache subscribes to a cache's push topic, asks for the cache with
// the agent's hash, applies the reply, and only then lets the pushes that
// arrived meanwhile through (in order), so an older full snapshot never
// overwrites a newer push.
func (l *Link) syncCache(ctx context.Context, conn Conn, s protocol.CacheSync) error {
	name := cache.Name(s.Cache)
	gate := make(chan struct{})
	apply := func(body []byte) error { return l.cfg.Caches.Apply(name, body) }
	if err := conn.Subscribe(s.Topic, pushQueueLen, l.pushHandler(ctx, conn, gate, bodyOnly(apply))); err != nil {
		return err
	}
	c, ok := l.cfg.Caches.Cache(name)
	if !ok {
		return fmt.Errorf("no %s cache", name)
	}
	var req protocol.HashRequest
	if h, ok := c.Hash(); ok {
		req.Hash = &h
	}
	body, _ := json.Marshal(req)
	reply, err := conn.Request(ctx, s.Request, body)
	if err != nil {
		return fmt.Errorf("request %s: %w", s.Cache, err)
	}
	if err := apply(reply); err != nil {
		return fmt.Errorf("apply %s reply: %w", s.Cache, err)
	}
	l.log.Debugf("%s cache synchronised", s.Cache)
	close(gate)
	return nil
}

// pushHandler wraps a push handler: it waits for gate (when not nil),
// runs handle, logs a failure and acknowledges a messageId.
func (l *Link) pushHandler(ctx context.Context, conn Conn, gate chan struct{}, handle func(*stompws.Message) error) stompws.Handler {
	return func(m *stompws.Message) {
		if gate != nil {
			select {
			case <-gate:
			case <-ctx.Done():
				return
			}
		}
		err := handle(m)
		if err != nil {
			// Never the body: it may hold configurations.
			l.log.WithError(err).Errorf("Cannot process the message on %s", m.Destination)
		}
		if m.MessageID != "" {
			l.ack(ctx, conn, m.MessageID, err)
		}
	}
}

func (l *Link) ack(ctx context.Context, conn Conn, messageID string, failure error) {
	a := protocol.MessageAck{MessageID: messageID, Status: protocol.StatusOK}
	if failure != nil {
		a.Status, a.Reason = "ERROR", failure.Error()
	}
	body, _ := json.Marshal(a)
	ctx, cancel := context.WithTimeout(ctx, ackTimeout)
	defer cancel()
	if err := conn.Send(ctx, protocol.ReportsResponses, body); err != nil {
		l.log.WithError(err).Warnf("Cannot acknowledge message %s", messageID)
	}
}

func (l *Link) onAgentAction(body []byte) error {
	var a protocol.AgentAction
	if err := json.Unmarshal(body, &a); err != nil {
		return fmt.Errorf("agent action: %w", err)
	}
	switch a.ActionName {
	case protocol.ActionRestartAgent:
		l.log.Warn("The server asked the agent to restart (RESTART_AGENT)")
		l.restart("RESTART_AGENT from the server")
	default:
		l.log.Warnf("Unknown agent action %q ignored", a.ActionName)
	}
	return nil
}

// bodyOnly adapts a handler of message bodies to pushHandler.
func bodyOnly(f func([]byte) error) func(*stompws.Message) error {
	return func(m *stompws.Message) error { return f(m.Body) }
}

// emptyBody reports whether a push carries nothing: no bytes, only blanks,
// or JSON null. Such a message is acknowledged (sending it again would not
// help) but never passes silently: it means a server defect.
func (l *Link) emptyBody(m *stompws.Message) bool {
	b := bytes.TrimSpace(m.Body)
	if len(b) != 0 && !bytes.Equal(b, []byte("null")) {
		return false
	}
	l.log.WithField("messageId", m.MessageID).Warnf("Ignoring an empty message on %s (body %q)", m.Destination, b)
	return true
}

func (l *Link) onEncryptionKey(m *stompws.Message) error {
	if l.emptyBody(m) {
		return nil
	}
	var e protocol.EncryptionKeyEvent
	if err := json.Unmarshal(m.Body, &e); err != nil {
		return fmt.Errorf("encryption key event: %w", err)
	}
	if e.EncryptionKey == "" {
		l.log.WithField("messageId", m.MessageID).Warn("Ignoring an encryption key event without a key")
		return nil
	}
	if l.cfg.EncryptionKey != nil {
		l.cfg.EncryptionKey(e.EncryptionKey)
	}
	return nil
}

func (l *Link) onCommands(m *stompws.Message) error {
	if l.emptyBody(m) {
		return nil
	}
	if l.cfg.Commands == nil {
		return errors.New("commands are not accepted by this agent")
	}
	return l.cfg.Commands(m.MessageID, m.Body)
}

func (l *Link) restart(reason string) {
	if l.cfg.Restart != nil {
		l.cfg.Restart(reason)
	}
}

// heartbeats sends /heartbeat at once and then every Interval after the
// previous exchange (the first wait shortened by the jitter phase), until
// the session fails or ctx ends.
func (l *Link) heartbeats(ctx context.Context, conn Conn) error {
	t := time.NewTimer(0)
	defer t.Stop()
	buf := make([]byte, 0, 64)
	due := time.Now()
	wait := l.cfg.Interval - jitter.Phase(l.cfg.Jitter, l.cfg.Interval)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-conn.Done():
			return fmt.Errorf("connection closed: %w", conn.Err())
		case <-t.C:
		}
		sent := l.nextID
		buf = l.heartbeatBody(buf[:0], sent)
		start := time.Now()
		reply, err := conn.Request(ctx, protocol.Heartbeat, buf)
		if err != nil {
			return fmt.Errorf("heartbeat: %w", err)
		}
		var resp protocol.HeartbeatResponse
		if err := json.Unmarshal(reply, &resp); err != nil || resp.ID == nil {
			return fmt.Errorf("heartbeat: reply without an id: %.200q", reply)
		}
		if *resp.ID != sent+1 {
			l.log.Errorf("Heartbeat id mismatch: sent %d, the server answered %d; restarting the agent", sent, *resp.ID)
			l.restart(fmt.Sprintf("heartbeat id mismatch (sent %d, got %d)", sent, *resp.ID))
			return errRestarting
		}
		l.nextID = *resp.ID
		l.log.Debugf("Heartbeat %d acknowledged", sent)
		l.cfg.Observer.HeartbeatAcked(time.Since(start), max(start.Sub(due), 0))
		due = time.Now().Add(wait)
		t.Reset(wait)
		wait = l.cfg.Interval
	}
}

// heartbeatBody appends {"id":N} (plus staleAlerts when any) to buf
// without allocating in the common case.
func (l *Link) heartbeatBody(buf []byte, id int64) []byte {
	var stale []protocol.StaleAlert
	if l.cfg.StaleAlerts != nil {
		stale = l.cfg.StaleAlerts()
	}
	if len(stale) == 0 {
		buf = append(buf, `{"id":`...)
		buf = strconv.AppendInt(buf, id, 10)
		return append(buf, '}')
	}
	b, _ := json.Marshal(protocol.HeartbeatRequest{ID: id, StaleAlerts: stale})
	return append(buf, b...)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
