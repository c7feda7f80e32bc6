package sim

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ambari-go/ambari-agent/internal/logging"
	"github.com/sirupsen/logrus"
)

// Config configures a simulator. Zero values take the defaults in the
// field comments; zero ports are ephemeral (what tests want); the
// ambari-sim command passes 8440, 8441 and 8080.
type Config struct {
	// Scenario is what the server knows; nil means an empty one (agents
	// register as unassigned hosts).
	Scenario *Scenario

	// ListenAddr is the address all three listeners bind. Default
	// 127.0.0.1.
	ListenAddr string
	// PublicHost is the name agents reach the simulator by, used in the
	// resources URL (metadata jdk_location) and the server certificate.
	// Default: ListenAddr, or the machine's host name when ListenAddr is
	// a wildcard address.
	PublicHost string
	// URLPort is the agent's url_port (HTTPS: /ca, /connection_info,
	// /cert/ca, /certs/<host>, /resources). SecuredURLPort is
	// secured_url_port (the same plus WSS /agent/stomp/v1). APIPort is the
	// plain-HTTP control API, which also serves /resources. 0 picks a free
	// port at the first Start; later Starts reuse the same ports.
	URLPort        int
	SecuredURLPort int
	APIPort        int

	// ResourcesDir is served under /resources (stack scripts, hooks,
	// custom actions); empty serves nothing.
	ResourcesDir string

	// TwoWaySSL turns on client-certificate mode (also possible from the
	// scenario's options).
	TwoWaySSL bool
	// CertFile and KeyFile are the server certificate (PEM); CACertFile and
	// CAKeyFile the CA that signs agents' CSRs and verifies their
	// certificates. Missing ones are generated at New. In two-way mode the
	// server certificate must be issued by the CA, since agents verify it
	// against /cert/ca.
	CertFile, KeyFile     string
	CACertFile, CAKeyFile string
	// TLSDir, when set, keeps generated certificates across runs:
	// ca.crt, ca.key, server.crt and server.key are loaded from it when
	// present and written to it otherwise, so agents' stored certificates
	// stay valid when the simulator restarts.
	TLSDir string
	// Passphrase is what agents must send with their CSR (their
	// AMBARI_PASSPHRASE); empty accepts any passphrase.
	Passphrase string

	// CommandRetryInterval and CommandRetries govern unacknowledged command
	// messages: re-sent every interval, up to CommandRetries more times,
	// after which the host is declared lost (the server's
	// execution.command.retry.*). Defaults 15 s and 4; CommandRetries < 0
	// means no re-sends.
	CommandRetryInterval time.Duration
	CommandRetries       int
	// HeartbeatLostAfter marks a registered host HEARTBEAT_LOST when no
	// heartbeat came for this long; its next heartbeat then gets
	// RESTART_AGENT. Default 2 minutes; negative turns it off.
	HeartbeatLostAfter time.Duration
	// JoinBroadcastDelay gathers the topology updates of hosts that join
	// (options.joinUnknownHosts) within this long into one push to every
	// agent; 0 pushes each join at once. Thousands of hosts joining need it:
	// one push per join to every agent is n² frames.
	JoinBroadcastDelay time.Duration

	// RecordsPerHost bounds the recorded SENDs per host and destination
	// (oldest dropped). Default 64.
	RecordsPerHost int
	// MaxTasks bounds the remembered tasks (oldest finished ones dropped).
	// Default 100000.
	MaxTasks int
	// SessionQueueLen bounds the frames waiting to be written to one
	// agent; a session whose queue overflows is closed, as the server
	// closes a session that exceeds its send buffer. Default 1024.
	SessionQueueLen int

	// HeartbeatLogEvery logs every Nth heartbeat of a host at info level
	// (the others at debug). Default 10.
	HeartbeatLogEvery int
	// SummaryInterval is how often a traffic summary is logged when there
	// was traffic. Default 60 s; negative turns it off.
	SummaryInterval time.Duration

	// Log receives the simulator's event lines; nil discards them.
	Log *logrus.Entry
}

func (c Config) withDefaults() Config {
	c.ListenAddr = cmp.Or(c.ListenAddr, "127.0.0.1")
	if c.PublicHost == "" {
		c.PublicHost = c.ListenAddr
		if ip := net.ParseIP(c.ListenAddr); ip != nil && ip.IsUnspecified() {
			c.PublicHost, _ = os.Hostname()
			c.PublicHost = cmp.Or(c.PublicHost, "localhost")
		}
	}
	c.CommandRetryInterval = positive(c.CommandRetryInterval, 15*time.Second)
	if c.CommandRetries == 0 {
		c.CommandRetries = 4
	} else if c.CommandRetries < 0 {
		c.CommandRetries = 0
	}
	c.HeartbeatLostAfter = cmp.Or(c.HeartbeatLostAfter, 2*time.Minute)
	c.RecordsPerHost = positive(c.RecordsPerHost, 64)
	c.MaxTasks = positive(c.MaxTasks, 100000)
	c.SessionQueueLen = positive(c.SessionQueueLen, 1024)
	c.HeartbeatLogEvery = positive(c.HeartbeatLogEvery, 10)
	c.SummaryInterval = cmp.Or(c.SummaryInterval, time.Minute)
	c.Log = logging.OrDiscard(c.Log)
	if c.Scenario == nil {
		c.Scenario = &Scenario{Name: "empty"}
	}
	return c
}

func positive[T int | time.Duration](v, dflt T) T {
	if v <= 0 {
		return dflt
	}
	return v
}

// Errors callers can branch on.
var (
	ErrClosed       = errors.New("simulator closed")
	ErrRunning      = errors.New("simulator already running")
	ErrUnknownHost  = errors.New("unknown host")
	ErrNotConnected = errors.New("host has no live session")
	ErrUnknownTask  = errors.New("unknown task")
	ErrTaskFinished = errors.New("task already finished")
)

// Server is a simulated Ambari server. All methods are safe for concurrent
// use.
type Server struct {
	cfg      Config
	log      *logrus.Entry
	twoWay   bool
	tls      *tlsMaterial
	res      *resources
	rec      *recorder
	metrics  metrics
	sessSeq  atomic.Uint64
	changeMu sync.Mutex
	changed  chan struct{} // closed and replaced on every recorded change

	mu       sync.Mutex
	m        *model
	sessions map[*session]struct{}
	tasks    map[int64]*TaskState
	// taskOrder is task ids by creation, for the MaxTasks bound.
	taskOrder     []int64
	nextTaskID    int64
	nextRequestID int64
	nextMessageID int64
	faults        Faults
	tl            *timeline
	joins         joinBatch

	running   bool
	started   bool // Start succeeded once (the "start" trigger fired)
	closed    bool
	ports     [3]int // url, secured, api; pinned after the first Start
	servers   []*http.Server
	bgCancel  context.CancelFunc
	bgDone    chan struct{}
	sessWG    sync.WaitGroup
	startedAt time.Time
}

// New builds a simulator; nothing listens until Start.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	m, err := newModel(cfg.Scenario)
	if err != nil {
		return nil, fmt.Errorf("sim: scenario: %w", err)
	}
	s := &Server{
		cfg:           cfg,
		log:           cfg.Log,
		twoWay:        cfg.TwoWaySSL || cfg.Scenario.Options.TwoWaySSL,
		rec:           newRecorder(cfg.RecordsPerHost),
		changed:       make(chan struct{}),
		m:             m,
		sessions:      map[*session]struct{}{},
		tasks:         map[int64]*TaskState{},
		nextTaskID:    1,
		nextRequestID: 1,
		ports:         [3]int{cfg.URLPort, cfg.SecuredURLPort, cfg.APIPort},
	}
	s.tl = newTimeline(cfg.Scenario.Timeline)
	if s.tls, err = loadTLS(cfg); err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	if s.twoWay {
		// Agents in two-way mode verify the server against /cert/ca.
		if _, err := s.tls.server.Leaf.Verify(x509.VerifyOptions{Roots: s.tls.caPool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			return nil, fmt.Errorf("sim: two-way SSL needs a server certificate issued by the CA (give --ca-cert/--ca-key with --cert/--key): %w", err)
		}
	}
	if cfg.ResourcesDir != "" {
		if s.res, err = newResources(cfg.ResourcesDir); err != nil {
			return nil, fmt.Errorf("sim: %w", err)
		}
	}
	return s, nil
}

// Start opens the three listeners (on the same ports as before when the
// simulator was started and stopped already) and, the first time, fires the
// timeline's "start" steps.
func (s *Server) Start() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if s.running {
		s.mu.Unlock()
		return ErrRunning
	}
	lns, err := s.listen()
	if err != nil {
		s.mu.Unlock()
		return err
	}
	s.m.setServerAddress(s.cfg.PublicHost, s.ports[2])
	s.servers = []*http.Server{
		s.httpServer(s.agentHandler(false), "url_port"),
		s.httpServer(s.agentHandler(true), "secured_url_port"),
		s.httpServer(s.apiHandler(), "api"),
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.bgCancel, s.bgDone = cancel, make(chan struct{})
	s.running = true
	s.startedAt = time.Now()
	first := !s.started
	s.started = true
	for i, srv := range s.servers {
		go func() { _ = srv.Serve(lns[i]) }()
	}
	go s.background(ctx)
	s.mu.Unlock()

	s.logStart()
	if first {
		s.fireStart()
	}
	s.notify()
	return nil
}

// listen binds the three ports; the agent ports speak TLS. Called with mu
// held.
func (s *Server) listen() ([]net.Listener, error) {
	var lns []net.Listener
	fail := func(err error) ([]net.Listener, error) {
		for _, l := range lns {
			_ = l.Close()
		}
		return nil, err
	}
	names := [3]string{"url_port", "secured_url_port", "api port"}
	for i, port := range s.ports {
		addr := net.JoinHostPort(s.cfg.ListenAddr, strconv.Itoa(port))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fail(fmt.Errorf("sim: listen on %s for the %s: %w", addr, names[i], err))
		}
		s.ports[i] = l.Addr().(*net.TCPAddr).Port
		switch i {
		case 0:
			l = tls.NewListener(l, s.tls.serverConfig(false))
		case 1:
			l = tls.NewListener(l, s.tls.serverConfig(s.twoWay))
		}
		lns = append(lns, l)
	}
	return lns, nil
}

func (s *Server) httpServer(h http.Handler, name string) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		// WebSocket needs HTTP/1.1: an empty map keeps HTTP/2 off.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ErrorLog:     newStdLogger(s.log.WithField("listener", name)),
	}
}

// Stop closes the listeners and every agent session, as a server going
// down does. The model, hashes, tasks and records stay; Start brings the
// simulator back on the same ports.
func (s *Server) Stop() error {
	s.mu.Lock()
	if !s.running {
		s.mu.Unlock()
		return nil
	}
	s.running = false
	servers := s.servers
	s.servers = nil
	var sessions []*session
	for sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	for _, h := range s.m.hosts {
		stopTimer(&h.retryTimer)
	}
	cancel, done := s.bgCancel, s.bgDone
	s.mu.Unlock()

	var errs []error
	for _, srv := range servers {
		if err := srv.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, sess := range sessions {
		sess.close()
	}
	s.sessWG.Wait()
	cancel()
	<-done
	s.log.Info("simulator stopped; all agent sessions closed")
	s.notify()
	return errors.Join(errs...)
}

// Close stops the simulator for good.
func (s *Server) Close() error {
	err := s.Stop()
	s.mu.Lock()
	s.closed = true
	s.tl.stopTimers()
	s.mu.Unlock()
	return err
}

// Run starts the simulator, serves until ctx ends, then closes it.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	return s.Close()
}

// URLPort is the bound url_port (the configured one before the first
// Start).
func (s *Server) URLPort() int { return s.port(0) }

// SecuredURLPort is the bound secured_url_port (agents' WSS).
func (s *Server) SecuredURLPort() int { return s.port(1) }

// APIPort is the bound control-API and resources port.
func (s *Server) APIPort() int { return s.port(2) }

func (s *Server) port(i int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ports[i]
}

// Host is the host name agents should use for the simulator (an agent's
// [server] hostname).
func (s *Server) Host() string { return s.cfg.PublicHost }

// ServerURL is https://host:url_port, where agents probe /ca.
func (s *Server) ServerURL() string {
	return "https://" + hostPort(s.cfg.PublicHost, s.URLPort())
}

// StompURL is the agents' WebSocket URL.
func (s *Server) StompURL() string {
	return "wss://" + hostPort(s.cfg.PublicHost, s.SecuredURLPort()) + "/agent/stomp/v1"
}

// APIURL is the control API's base URL (http://host:port).
func (s *Server) APIURL() string {
	return "http://" + hostPort(s.cfg.PublicHost, s.APIPort())
}

// ResourcesURL is what metadata jdk_location points at (unless the
// scenario sets it).
func (s *Server) ResourcesURL() string { return s.APIURL() + "/resources" }

// TwoWaySSL says whether client certificates are required.
func (s *Server) TwoWaySSL() bool { return s.twoWay }

func hostPort(h string, port int) string { return net.JoinHostPort(h, strconv.Itoa(port)) }

func stopTimer(t **time.Timer) {
	if *t != nil {
		(*t).Stop()
		*t = nil
	}
}

func (s *Server) logStart() {
	sc := s.cfg.Scenario
	fields := logrus.Fields{
		"url_port":         s.URLPort(),
		"secured_url_port": s.SecuredURLPort(),
		"api":              s.APIURL(),
	}
	s.log.WithFields(fields).Infof("ambari-sim up: agents connect to %s (url_port %d, secured_url_port %d); control API %s/api/v1",
		s.cfg.PublicHost, s.URLPort(), s.SecuredURLPort(), s.APIURL())
	if s.res != nil {
		s.log.Infof("serving %s at %s", s.res.root, s.ResourcesURL())
	} else {
		s.log.Info("no resources directory: agents cannot download stack scripts (set agent.auto.cache.update=false or give one)")
	}
	mode := "one-way SSL"
	if s.twoWay {
		mode = "two-way SSL (agents need certificates signed by the simulator CA; they request them at /certs/<host>)"
	}
	s.mu.Lock()
	nHosts := len(s.m.hosts)
	nClusters := len(s.m.clusters)
	s.mu.Unlock()
	join := ""
	if sc.Options.JoinUnknownHosts {
		join = ", unknown hosts join"
	}
	s.log.Infof("scenario %q: %d cluster(s), %d host(s)%s, %d timeline step(s); %s",
		sc.Name, nClusters, nHosts, join, len(sc.Timeline), mode)
}

// notify wakes everything waiting in WaitFor.
func (s *Server) notify() {
	s.changeMu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.changeMu.Unlock()
}

func (s *Server) changes() <-chan struct{} {
	s.changeMu.Lock()
	defer s.changeMu.Unlock()
	return s.changed
}
