package sim

import (
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/protocol"
	"github.com/ambari-go/ambari-agent/internal/stompws"
)

// session is one agent's STOMP connection. One goroutine reads and handles
// frames; one writes the frames queued in out, so that nothing the server
// does (a broadcast to a thousand agents, a reply) ever waits on a slow
// socket.
type session struct {
	id     string
	srv    *Server
	conn   *stompws.ServerConn
	remote string
	log    *logrus.Entry
	opened time.Time

	out       chan *frame.Frame // nil frame: close after the frames before it
	done      chan struct{}
	closeOnce sync.Once
	msgSeq    atomic.Uint64 // STOMP message-id of this session's MESSAGE frames
	// pending is the record of the SEND being handled, added by reply;
	// used by the reading goroutine only.
	pending *Record

	// Guarded by Server.mu.
	connected bool
	subs      map[string]subscription // by destination without trailing '/'
	host      *host                   // bound by a successful registration
	// inQueue is the server's registration queue entry: from CONNECTED
	// until the first successful heartbeat, DISCONNECT or 60 s.
	inQueue  bool
	queuedAt time.Time
}

type subscription struct {
	dest string // as subscribed: what MESSAGE frames carry
	id   string
}

// registrationQueueTTL is how long a connection counts against the
// registration queue without a heartbeat (the server's 60 s).
const registrationQueueTTL = 60 * time.Second

// serveAgent upgrades a request on the secured port and runs the session
// until the connection ends.
func (s *Server) serveAgent(w http.ResponseWriter, r *http.Request) {
	id := "s" + strconv.FormatUint(s.sessSeq.Add(1), 10)
	log := s.log.WithField("session", id)
	conn, err := stompws.Upgrade(w, r, log)
	if err != nil {
		log.WithError(err).Warn("WebSocket upgrade failed")
		return
	}
	sess := &session{
		id: id, srv: s, conn: conn, remote: conn.RemoteAddr(), log: log, opened: time.Now(),
		out:  make(chan *frame.Frame, s.cfg.SessionQueueLen),
		done: make(chan struct{}),
		subs: map[string]subscription{},
	}
	s.mu.Lock()
	if !s.running {
		s.mu.Unlock()
		_ = conn.Close()
		return
	}
	s.sessions[sess] = struct{}{}
	s.sessWG.Add(1)
	s.mu.Unlock()
	s.metrics.sessionsTotal.Add(1)
	s.metrics.sessionsOpen.Add(1)
	log.Infof("session %s opened from %s", id, sess.remote)

	go sess.writeLoop()
	sess.readLoop()
}

func (sess *session) readLoop() {
	s := sess.srv
	defer s.sessWG.Done()
	defer sess.ended()
	var split uint64
	for {
		f, err := sess.conn.ReadFrame()
		if n := sess.conn.SplitFrames(); n != split {
			s.metrics.splitFramesIn.Add(n - split)
			sess.log.Warnf("a frame arrived spread over several WebSocket messages (%d so far)", n)
			split = n
		}
		if err != nil {
			var fe *stompws.FrameError
			if errors.As(err, &fe) && fe.Skipped {
				sess.log.WithError(err).Warn("dropped a malformed frame")
				continue
			}
			select {
			case <-sess.done: // closed by us
			default:
				sess.log.WithError(err).Debug("read ended")
			}
			sess.close()
			return
		}
		s.metrics.framesIn.Add(1)
		sess.handleSafely(f)
	}
}

// handleSafely keeps one bad frame from taking the simulator down.
func (sess *session) handleSafely(f *frame.Frame) {
	defer func() {
		if r := recover(); r != nil {
			sess.log.Errorf("panic handling %s frame: %v\n%s", f.Command, r, debug.Stack())
		}
	}()
	sess.handle(f)
}

func (sess *session) writeLoop() {
	for {
		select {
		case <-sess.done:
			return
		case f := <-sess.out:
			if f == nil {
				sess.close()
				return
			}
			write := sess.conn.WriteFrame
			if f.Command == rawMessage {
				write = func(f *frame.Frame) error { return sess.conn.WriteMessage(f.Body) }
			}
			if err := write(f); err != nil {
				sess.log.WithError(err).Debug("write failed; closing the session")
				sess.close()
				return
			}
			sess.srv.metrics.framesOut.Add(1)
		}
	}
}

// close cuts the connection; the read loop then cleans up. It takes no
// lock and does not wait for the network (the WebSocket close frame may
// take a second to write), so it may be called with Server.mu held.
func (sess *session) close() {
	sess.closeOnce.Do(func() {
		close(sess.done)
		go func() { _ = sess.conn.Close() }()
	})
}

// ended forgets the session: its host, if bound, is disconnected but keeps
// its state and command queue; an unacknowledged command message is sent
// again to the host's next session.
func (sess *session) ended() {
	s := sess.srv
	s.mu.Lock()
	delete(s.sessions, sess)
	h := sess.host
	if h != nil && h.session == sess {
		h.session = nil
		h.obs.lastDisconnect = time.Now()
		stopTimer(&h.retryTimer)
	}
	s.mu.Unlock()
	s.metrics.sessionsOpen.Add(-1)
	lasted := time.Since(sess.opened).Round(time.Second)
	if h != nil {
		sess.log.WithField("host", h.name).Infof("session %s of %s closed after %s", sess.id, h.name, lasted)
	} else {
		sess.log.Infof("session %s closed after %s", sess.id, lasted)
	}
	s.notify()
}

// handle processes one frame. Frames that end the session (DISCONNECT,
// anything before CONNECT) queue its closing after their answer.
func (sess *session) handle(f *frame.Frame) {
	s := sess.srv
	switch f.Command {
	case frame.STOMP, frame.CONNECT:
		sess.connect()
		return
	case frame.DISCONNECT:
		s.mu.Lock()
		sess.inQueue = false
		if r := f.Header.Get(frame.Receipt); r != "" {
			sess.enqueue(frame.New(frame.RECEIPT, frame.ReceiptId, r))
		}
		s.mu.Unlock()
		sess.enqueue(nil)
		return
	}
	s.mu.Lock()
	connected := sess.connected
	s.mu.Unlock()
	if !connected {
		sess.log.Warnf("%s frame before STOMP/CONNECT; closing", f.Command)
		sess.sendError("not connected", fmt.Sprintf("%s before CONNECT", f.Command))
		return
	}
	switch f.Command {
	case frame.SUBSCRIBE:
		sess.subscribe(f)
	case frame.UNSUBSCRIBE:
		id := f.Header.Get(frame.Id)
		s.mu.Lock()
		for k, sub := range sess.subs {
			if sub.id == id {
				delete(sess.subs, k)
			}
		}
		s.mu.Unlock()
	case frame.SEND:
		s.handleSend(sess, f)
	case frame.ACK, frame.NACK, frame.BEGIN, frame.COMMIT, frame.ABORT:
		// The agent never sends these; delivery is confirmed by
		// /reports/responses. Nothing to do.
	default:
		sess.log.Debugf("ignored %q frame", f.Command)
	}
}

// connect answers the connect frame: CONNECTED, or ERROR "Connection not
// allowed" when the registration queue is full (or a fault refuses it).
func (sess *session) connect() {
	s := sess.srv
	s.mu.Lock()
	if sess.connected {
		s.mu.Unlock()
		return
	}
	if reason := s.refuseConnection(); reason != "" {
		s.mu.Unlock()
		s.metrics.throttled.Add(1)
		sess.log.Warnf("connection of %s refused: %s", sess.remote, reason)
		sess.sendError("Connection not allowed", "")
		return
	}
	sess.connected = true
	sess.inQueue = true
	sess.queuedAt = time.Now()
	sess.enqueue(frame.New(frame.CONNECTED, frame.Version, "1.2", frame.HeartBeat, "0,0"))
	s.mu.Unlock()
}

// refuseConnection applies the throttle; called with mu held.
func (s *Server) refuseConnection() string {
	if s.faults.RefuseConnections != 0 {
		if s.faults.RefuseConnections > 0 {
			s.faults.RefuseConnections--
		}
		return "fault injection (refuseConnections)"
	}
	size := s.faults.RegistrationQueueSize
	if size == 0 {
		size = s.cfg.Scenario.Options.RegistrationQueueSize
	}
	if size <= 0 {
		return ""
	}
	n := 0
	now := time.Now()
	for other := range s.sessions {
		if other.inQueue && now.Sub(other.queuedAt) < registrationQueueTTL {
			n++
		}
	}
	if n >= size {
		return fmt.Sprintf("registration queue full (%d sessions connecting)", n)
	}
	return ""
}

// sendError sends an ERROR frame and closes the session after it.
func (sess *session) sendError(message, body string) {
	f := frame.New(frame.ERROR, frame.Message, message)
	if body != "" {
		f.Body = []byte(body)
		f.Header.Set(frame.ContentLength, strconv.Itoa(len(body)))
	}
	sess.enqueue(f)
	sess.enqueue(nil)
}

func (sess *session) subscribe(f *frame.Frame) {
	s := sess.srv
	dest := f.Header.Get(frame.Destination)
	if dest == "" {
		sess.log.Warn("SUBSCRIBE without destination ignored")
		return
	}
	s.mu.Lock()
	// Subscriptions are keyed by destination, so the agent's duplicate id
	// "sub" is harmless (as with the server's registry).
	sess.subs[normDest(dest)] = subscription{dest: dest, id: f.Header.Get(frame.Id)}
	if normDest(dest) == normDest(protocol.UserCommands) && sess.host != nil && sess.host.session == sess {
		// The agent subscribes to commands when its cache sync is done:
		// commands can flow now.
		s.pump(sess.host)
	}
	s.mu.Unlock()
	s.notify()
}

func normDest(d string) string { return strings.TrimRight(d, "/") }

// subscribed reports whether the session subscribed to dest; mu held.
func (sess *session) subscribed(dest string) bool {
	_, ok := sess.subs[normDest(dest)]
	return ok
}

// enqueue queues a frame for the writer without blocking. A session that
// cannot keep up is closed (the agent reconnects and re-syncs by hash), as
// the server closes a session that exceeds its send buffer.
func (sess *session) enqueue(f *frame.Frame) bool {
	select {
	case <-sess.done:
		return false
	default:
	}
	select {
	case sess.out <- f:
		return true
	default:
		sess.srv.metrics.slowConsumers.Add(1)
		sess.log.Warnf("session %s: %d frames waiting to be written; closing it as a slow consumer", sess.id, cap(sess.out))
		sess.close()
		return false
	}
}

// deliver sends a MESSAGE to the session if it subscribed to dest, with
// the subscribed name in the destination header. Extra headers come in
// name, value pairs. Called with mu held.
func (sess *session) deliver(dest string, body []byte, headers ...string) bool {
	sub, ok := sess.subs[normDest(dest)]
	if !ok {
		return false
	}
	f := frame.New(frame.MESSAGE,
		frame.Destination, sub.dest,
		frame.ContentType, "application/json",
		frame.Subscription, sub.id,
		frame.MessageId, sess.id+"-"+strconv.FormatUint(sess.msgSeq.Add(1), 10))
	for i := 0; i+1 < len(headers); i += 2 {
		f.Header.Add(headers[i], headers[i+1])
	}
	f.Header.Add(frame.ContentLength, strconv.Itoa(len(body)))
	f.Body = body
	return sess.enqueue(f)
}

// reply answers a SEND on /user/ with its correlationId (left out when the
// request had none).
func (sess *session) reply(req *frame.Frame, body []byte) {
	sess.flushRecord()
	if cid, ok := req.Header.Contains(protocol.HeaderCorrelationID); ok {
		sess.deliver(protocol.UserReplies, body, protocol.HeaderCorrelationID, cid)
		return
	}
	sess.deliver(protocol.UserReplies, body)
}

// flushRecord adds the record of the SEND being handled.
func (sess *session) flushRecord() {
	if r := sess.pending; r != nil {
		sess.pending = nil
		sess.srv.rec.add(*r)
	}
}

func runAll(fs []func()) {
	for _, f := range fs {
		f()
	}
}
