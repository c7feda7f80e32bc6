package stompws

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
	"github.com/gorilla/websocket"
	"github.com/sirupsen/logrus"
)

// Defaults for Config fields left zero.
const (
	DefaultConnectTimeout     = 10 * time.Second
	DefaultRequestTimeout     = 10 * time.Second
	DefaultWriteTimeout       = 10 * time.Second
	DefaultMaxPendingRequests = 256
	DefaultQueueLen           = 100
	DefaultMaxBufferedBytes   = 64 << 20
)

// subscriptionID is the id of every subscription: the Python agent uses
// "sub" for all of them and the server keys subscriptions by destination.
const subscriptionID = "sub"

var (
	// ErrClosed is wrapped by every error caused by the connection being
	// gone: Err() after Done(), and Send/Request on a dead connection.
	ErrClosed = errors.New("stompws: connection closed")
	// ErrRequestTimeout is the cause of a Request that got no reply within
	// its hard deadline (Config.RequestTimeout).
	ErrRequestTimeout = errors.New("no reply within the request timeout")
	// ErrTooManyRequests is returned by Request when MaxPendingRequests
	// requests are already waiting for replies.
	ErrTooManyRequests = errors.New("stompws: too many pending requests")

	errClosedLocally = errors.New("closed by this side")
)

// ConnectError is returned by Dial when the server answers the connect
// frame with ERROR instead of CONNECTED, as the Ambari server does when its
// registration queue is full ("Connection not allowed").
type ConnectError struct {
	Message string // the ERROR frame's message header
	Body    string
}

func (e *ConnectError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("server refused the STOMP connection: %q", e.Message)
	}
	return fmt.Sprintf("server refused the STOMP connection: %q (%q)", e.Message, e.Body)
}

// Config describes one client connection.
type Config struct {
	URL string      // wss://host:port/agent/stomp/v1
	TLS *tls.Config // for wss; see internal/security
	Log *logrus.Entry
	// ConnectTimeout bounds TCP connect, TLS and WebSocket handshakes and
	// the wait for CONNECTED together. Default 10 s.
	ConnectTimeout time.Duration
	// RequestTimeout is the hard deadline of Request, from the call until
	// the reply. Default 10 s.
	RequestTimeout time.Duration
	// WriteTimeout bounds writing one frame to the socket; a peer that
	// stops reading for longer kills the connection. Default 10 s.
	WriteTimeout time.Duration
	// MaxFrameSize bounds the body of one inbound frame. Default 16 MiB.
	MaxFrameSize int
	// MaxPendingRequests bounds the requests waiting for replies.
	// Default 256.
	MaxPendingRequests int
	// MaxBufferedBytes bounds the bodies of the messages that wait in the
	// subscription queues or are being handled, all subscriptions
	// together. When the next message would go beyond it, the reader stops
	// reading until handlers have freed enough (a message is always let
	// through when nothing is buffered). Default 64 MiB.
	MaxBufferedBytes int
}

func (cfg Config) withDefaults() Config {
	if cfg.Log == nil {
		cfg.Log = discardLog()
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.MaxFrameSize <= 0 {
		cfg.MaxFrameSize = DefaultMaxFrameSize
	}
	if cfg.MaxPendingRequests <= 0 {
		cfg.MaxPendingRequests = DefaultMaxPendingRequests
	}
	if cfg.MaxBufferedBytes <= 0 {
		cfg.MaxBufferedBytes = DefaultMaxBufferedBytes
	}
	return cfg
}

// Message is one MESSAGE frame received from the server.
type Message struct {
	Destination   string
	MessageID     string // Ambari's messageId header, to acknowledge; "" when absent
	CorrelationID string // on replies only
	Header        *frame.Header
	Body          []byte
}

// Handler processes the messages of one subscription. Handlers of different
// subscriptions run concurrently; one subscription's handler is never called
// concurrently with itself.
type Handler func(*Message)

// Conn is the agent's STOMP session with the server. All methods are safe
// for concurrent use.
type Conn struct {
	cfg Config
	log *logrus.Entry
	ws  *websocket.Conn
	nc  net.Conn // the TLS (or TCP) connection frames are written to
	dec *decoder // owned by Dial, then by the read loop

	// wmu is the write lock. It is a channel so that waiting for it can
	// give up on a context or on Close's deadline.
	wmu       chan struct{}
	enc       *encoder     // guarded by wmu
	sendFrame *frame.Frame // reused for every SEND; guarded by wmu
	nextCID   uint64       // next correlationId; guarded by wmu
	maskRand  *mrand.ChaCha8

	mu      sync.Mutex
	pending map[string]chan *Message // by correlationId
	subs    map[string]*subscription // by destination without trailing '/'

	done    chan struct{}
	errOnce sync.Once
	err     error // why the connection ended; set before done is closed

	// inbound is what the subscription queues hold, in bytes; the reader
	// waits on it (flow control, see doc.go).
	inbound *inboundBudget

	pongBusy atomic.Bool
	// readPaused is set while the reader waits for room in the queues;
	// pauses counts the waits begun.
	readPaused atomic.Bool
	pauses     atomic.Uint64
}

// Dial connects to the server: TCP, TLS, the WebSocket handshake of the
// Python agent (subprotocols "http-only,chat", Origin wss://host:port), the
// STOMP connect frame, and the wait for CONNECTED, all within
// ConnectTimeout. An ERROR frame instead of CONNECTED yields a
// *ConnectError.
func Dial(ctx context.Context, cfg Config) (*Conn, error) {
	cfg = cfg.withDefaults()
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("stompws: bad URL %q: %w", cfg.URL, err)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()

	dialer := websocket.Dialer{
		NetDialContext:   (&net.Dialer{}).DialContext,
		TLSClientConfig:  cfg.TLS,
		HandshakeTimeout: cfg.ConnectTimeout,
		Proxy:            nil, // the Python agent never uses a proxy for the server link
	}
	header := http.Header{
		// Keyed in canonical form: that is how gorilla recognises it and
		// then sends it verbatim, without its ", " joining.
		"Sec-Websocket-Protocol": {"http-only,chat"},
		"Origin":                 {"wss://" + u.Host},
	}
	ws, resp, err := dialer.DialContext(ctx, cfg.URL, header)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("stompws: websocket handshake with %s: %w (HTTP %s)", cfg.URL, err, resp.Status)
		}
		return nil, fmt.Errorf("stompws: connect to %s: %w", cfg.URL, err)
	}

	c := newConn(cfg, ws)
	stop := context.AfterFunc(ctx, func() { _ = closeRaw(ws) })
	err = c.connect(ctx)
	if !stop() {
		// ctx ended while connecting and the socket has been cut.
		if err == nil {
			err = context.Cause(ctx)
		} else {
			err = fmt.Errorf("%w (%w)", context.Cause(ctx), err)
		}
	}
	if err != nil {
		_ = closeRaw(ws)
		return nil, fmt.Errorf("stompws: STOMP connect to %s: %w", cfg.URL, err)
	}
	go c.readLoop()
	return c, nil
}

func newConn(cfg Config, ws *websocket.Conn) *Conn {
	var seed [32]byte
	_, _ = rand.Read(seed[:])
	c := &Conn{
		cfg:     cfg,
		log:     cfg.Log,
		ws:      ws,
		nc:      ws.NetConn(),
		dec:     newDecoder(cfg.MaxFrameSize),
		wmu:     make(chan struct{}, 1),
		enc:     newEncoder(),
		pending: make(map[string]chan *Message),
		subs:    make(map[string]*subscription),
		inbound: newInboundBudget(cfg.MaxBufferedBytes),
		done:    make(chan struct{}),
		sendFrame: frame.New(frame.SEND,
			frame.ContentLength, "",
			HeaderCorrelationID, "",
			frame.Destination, ""),
		maskRand: mrand.NewChaCha8(seed),
	}
	ws.SetReadLimit(c.dec.maxMessage())
	// Every write goes through our write lock and our framing. gorilla
	// would answer pings and close frames by writing on its own, and could
	// shorten the write deadline of a frame we are writing.
	ws.SetPingHandler(c.pong)
	ws.SetCloseHandler(func(int, string) error { return nil })
	return c
}

// connect sends the STOMP frame and waits for CONNECTED.
func (c *Conn) connect(ctx context.Context) error {
	deadline, _ := ctx.Deadline()
	// Header keys in sorted order, as the Python client sends them. No
	// heart-beating in either direction: the agent's /heartbeat request is
	// the liveness check (docs/protocol.md §1.6).
	connect := frame.New(frame.STOMP,
		frame.AcceptVersion, "1.2",
		frame.HeartBeat, "0,0",
		frame.Host, "0")
	if err := c.lockWrite(ctx); err != nil {
		return err
	}
	err := c.write(connect, deadline)
	c.unlockWrite()
	if err != nil {
		return err
	}

	_ = c.ws.SetReadDeadline(deadline)
	for {
		f, err := c.readFrame()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return fmt.Errorf("no CONNECTED frame within %s: %w", c.cfg.ConnectTimeout, err)
			}
			return err
		}
		switch f.Command {
		case frame.CONNECTED:
			_ = c.ws.SetReadDeadline(time.Time{})
			c.log.WithField("version", f.Header.Get(frame.Version)).Debug("STOMP session established")
			return nil
		case frame.ERROR:
			return &ConnectError{Message: f.Header.Get(frame.Message), Body: string(f.Body)}
		default:
			c.log.Warnf("STOMP %q frame before CONNECTED ignored", f.Command)
		}
	}
}

// readFrame returns the next frame, reading WebSocket messages as needed.
// Malformed frames that could be delimited are logged and skipped.
func (c *Conn) readFrame() (*frame.Frame, error) {
	for {
		f, err := c.dec.next()
		if f != nil {
			return f, nil
		}
		if err != nil {
			var fe *FrameError
			if errors.As(err, &fe) && fe.Skipped {
				c.log.WithError(err).Error("inbound STOMP frame dropped")
				continue
			}
			return nil, err
		}
		_, r, err := c.ws.NextReader()
		if err != nil {
			return nil, err
		}
		if err := c.dec.readMessage(r); err != nil {
			return nil, err
		}
	}
}

// readLoop dispatches inbound frames until the connection ends. Replies go
// to buffered channels at once; messages go to bounded subscription queues,
// and when those are full (in messages or in bytes) the loop waits for room
// instead of reading on, so that TCP pushes back on the server.
func (c *Conn) readLoop() {
	for {
		f, err := c.readFrame()
		if err != nil {
			c.fail(fmt.Errorf("read: %w", err))
			return
		}
		switch f.Command {
		case frame.MESSAGE:
			c.route(f)
		case frame.RECEIPT:
			c.log.WithField("receipt-id", f.Header.Get(frame.ReceiptId)).Debug("STOMP RECEIPT")
		case frame.ERROR:
			// Has no effect on the session, as in the Python agent.
			c.log.WithField("message", f.Header.Get(frame.Message)).
				Errorf("STOMP ERROR frame from server: %q", truncate(f.Body, 200))
		default:
			c.log.Warnf("unexpected STOMP %q frame dropped", f.Command)
		}
	}
}

func (c *Conn) route(f *frame.Frame) {
	m := &Message{
		Destination:   f.Header.Get(frame.Destination),
		MessageID:     f.Header.Get(HeaderMessageID),
		CorrelationID: f.Header.Get(HeaderCorrelationID),
		Header:        f.Header,
		Body:          f.Body,
	}
	key := normDest(m.Destination)
	if key == replyDest {
		if m.CorrelationID == "" {
			c.log.Warn("reply on /user/ without correlationId dropped")
			return
		}
		c.mu.Lock()
		ch := c.pending[m.CorrelationID]
		c.mu.Unlock()
		if ch == nil {
			// Replies to fire-and-forget sends land here all the time.
			if c.log.Logger.IsLevelEnabled(logrus.DebugLevel) {
				c.log.WithField(HeaderCorrelationID, m.CorrelationID).Debug("reply nobody waits for dropped")
			}
			return
		}
		select {
		case ch <- m:
		default:
			c.log.WithField(HeaderCorrelationID, m.CorrelationID).Warn("second reply to one request dropped")
		}
		return
	}
	c.mu.Lock()
	s := c.subs[key]
	c.mu.Unlock()
	if s == nil {
		c.log.WithField("destination", m.Destination).Warn("message for a destination with no subscription dropped")
		return
	}
	c.enqueue(s, m)
}

// enqueue puts m on s's queue once both the queue and the byte budget have
// room for it, or gives up when the connection ends.
func (c *Conn) enqueue(s *subscription, m *Message) {
	n := len(m.Body)
	acquired := c.inbound.tryAcquire(n)
	if acquired {
		select {
		case s.queue <- m:
			return
		default:
		}
	}
	// Flow control: read nothing more until the handlers make room.
	began := time.Now()
	c.pauses.Add(1)
	c.readPaused.Store(true)
	defer c.readPaused.Store(false)
	if !acquired && !c.inbound.acquire(n, c.done) {
		return
	}
	select {
	case s.queue <- m:
	case <-c.done:
		c.inbound.release(n)
		return
	}
	paused := time.Since(began)
	bytes, msgs := c.inbound.usage()
	log := c.log.WithFields(logrus.Fields{"destination": m.Destination, "buffered": fmt.Sprintf("%d bytes in %d messages", bytes, msgs)})
	if paused < slowPause {
		log.Debugf("reading from the server paused for %s: inbound queues full", paused.Round(time.Millisecond))
	} else {
		log.Infof("reading from the server paused for %s: inbound queues full", paused.Round(time.Millisecond))
	}
}

// slowPause is how long the reader may wait for room in the inbound queues
// before the pause is worth an INFO line.
const slowPause = time.Second

// replyDest is /user/ as compared: the Python agent strips trailing '/'
// from both the destination and its listeners' topics.
const replyDest = "/user"

func normDest(d string) string { return strings.TrimRight(d, "/") }

type subscription struct {
	dest  string
	queue chan *Message
	h     Handler
}

// Subscribe sends SUBSCRIBE (id "sub", ack "client-individual", as the
// Python agent does) and starts one goroutine that calls h for each message
// whose destination equals this one, trailing '/' ignored on both sides.
// Messages wait in a queue of queueLen (DefaultQueueLen if <= 0); when it is
// full, or all queues together hold Config.MaxBufferedBytes, the connection
// stops reading until the handler catches up: nothing is dropped, and a slow
// handler delays every later frame, replies included (see doc.go, "Flow
// control"). Queued messages are discarded when the connection ends.
//
// Subscribing to "/user/" asks the server for replies; they are delivered to
// Request, so h must be nil for it. Every other destination needs a handler,
// and a destination can be subscribed once per connection.
func (c *Conn) Subscribe(destination string, queueLen int, h Handler) error {
	key := normDest(destination)
	switch {
	case key == replyDest && h != nil:
		return fmt.Errorf("stompws: subscribe %s: replies go to Request, the handler must be nil", destination)
	case key != replyDest && h == nil:
		return fmt.Errorf("stompws: subscribe %s: nil handler", destination)
	}
	if queueLen <= 0 {
		queueLen = DefaultQueueLen
	}
	s := &subscription{dest: destination, h: h}
	if h != nil {
		s.queue = make(chan *Message, queueLen)
	}
	c.mu.Lock()
	_, dup := c.subs[key]
	if !dup {
		c.subs[key] = s
	}
	c.mu.Unlock()
	if dup {
		return fmt.Errorf("stompws: subscribe %s: already subscribed", destination)
	}
	if h != nil {
		go c.drain(s)
	}
	f := frame.New(frame.SUBSCRIBE,
		frame.Ack, "client-individual",
		frame.Destination, destination,
		frame.Id, subscriptionID)
	if err := c.writeFrame(context.Background(), f); err != nil {
		c.mu.Lock()
		delete(c.subs, key)
		c.mu.Unlock()
		return fmt.Errorf("stompws: subscribe %s: %w", destination, err)
	}
	return nil
}

func (c *Conn) drain(s *subscription) {
	for {
		select {
		case <-c.done:
			return
		case m := <-s.queue:
			c.handle(s, m)
			c.inbound.release(len(m.Body))
		}
	}
}

func (c *Conn) handle(s *subscription, m *Message) {
	defer func() {
		if r := recover(); r != nil {
			c.log.WithField("destination", s.dest).Errorf("message handler panicked: %v\n%s", r, debug.Stack())
		}
	}()
	s.h(m)
}

// Send sends body to destination without waiting for the reply (which the
// server sends anyway and which is dropped on arrival). Every SEND carries
// the next correlationId of this connection, counting from 0.
func (c *Conn) Send(ctx context.Context, destination string, body []byte) error {
	_, err := c.send(ctx, destination, body, nil)
	return err
}

// Request sends body to destination and returns the body of the reply that
// arrives on /user/ with the same correlationId. It fails with
// ErrRequestTimeout when no reply comes within Config.RequestTimeout (a hard
// deadline, unlike the Python agent's), earlier if ctx ends, and at once
// when the connection dies. Time the reader spends held back by full
// queues while handlers drain them does not count: the reply may be
// waiting, unread, behind the pushes (see doc.go, "Flow control").
func (c *Conn) Request(ctx context.Context, destination string, body []byte) ([]byte, error) {
	sctx, cancel := context.WithTimeoutCause(ctx, c.cfg.RequestTimeout, ErrRequestTimeout)
	defer cancel()
	reply := make(chan *Message, 1)
	mark := c.flowMark()
	// sctx bounds the send; the wait below has its own, extensible timer.
	cid, err := c.send(sctx, destination, body, reply)
	if err != nil {
		return nil, err
	}
	defer func() {
		c.mu.Lock()
		delete(c.pending, cid)
		c.mu.Unlock()
	}()
	deadline, _ := sctx.Deadline()
	timer := time.NewTimer(time.Until(deadline))
	if cd, ok := ctx.Deadline(); ok && !cd.After(deadline) {
		timer.Stop() // the caller's deadline comes first
	}
	defer timer.Stop()
	for {
		select {
		case m := <-reply:
			return m.Body, nil
		case <-ctx.Done():
			return nil, fmt.Errorf("stompws: request to %s (correlationId %s): %w", destination, cid, context.Cause(ctx))
		case <-timer.C:
			var heldBack bool
			if mark, heldBack = c.heldBack(mark); heldBack {
				timer.Reset(c.cfg.RequestTimeout)
				continue
			}
			return nil, fmt.Errorf("stompws: request to %s (correlationId %s): %w", destination, cid, ErrRequestTimeout)
		case <-c.done:
			return nil, fmt.Errorf("stompws: request to %s (correlationId %s): %w", destination, cid, c.err)
		}
	}
}

// flowMark is a point in the history of the reader's flow control.
type flowMark struct{ pauses, releases uint64 }

func (c *Conn) flowMark() flowMark {
	return flowMark{pauses: c.pauses.Load(), releases: c.inbound.releases()}
}

// heldBack reports whether, since m, the reader has been held back by full
// queues while the handlers made progress, and returns the new mark. A
// reader paused behind handlers that make no progress is not held back
// but stuck, and a request waiting behind it times out.
func (c *Conn) heldBack(m flowMark) (flowMark, bool) {
	n := c.flowMark()
	return n, n.releases != m.releases && (c.readPaused.Load() || n.pauses != m.pauses)
}

// send writes one SEND frame. When reply is not nil it is registered under
// the frame's correlationId before the frame leaves, so that the reply
// cannot overtake the registration.
func (c *Conn) send(ctx context.Context, destination string, body []byte, reply chan *Message) (string, error) {
	if err := c.lockWrite(ctx); err != nil {
		return "", fmt.Errorf("stompws: send to %s: %w", destination, err)
	}
	defer c.unlockWrite()
	cid := strconv.FormatUint(c.nextCID, 10)
	if reply != nil {
		c.mu.Lock()
		full := len(c.pending) >= c.cfg.MaxPendingRequests
		if !full {
			c.pending[cid] = reply
		}
		c.mu.Unlock()
		if full {
			return "", fmt.Errorf("%w (%d) for %s", ErrTooManyRequests, c.cfg.MaxPendingRequests, destination)
		}
	}
	c.nextCID++
	f := c.sendFrame
	f.Header.Set(frame.ContentLength, strconv.Itoa(len(body)))
	f.Header.Set(HeaderCorrelationID, cid)
	f.Header.Set(frame.Destination, destination)
	f.Body = body
	err := c.write(f, c.writeDeadline(ctx))
	f.Body = nil // do not keep the caller's buffer alive
	if err != nil {
		if reply != nil {
			c.mu.Lock()
			delete(c.pending, cid)
			c.mu.Unlock()
		}
		c.fail(fmt.Errorf("write: %w", err))
		return "", fmt.Errorf("stompws: send to %s: %w", destination, c.err)
	}
	if c.log.Logger.IsLevelEnabled(logrus.DebugLevel) {
		c.log.WithFields(logrus.Fields{"destination": destination, HeaderCorrelationID: cid}).Debugf("SEND %d bytes", len(body))
	}
	return cid, nil
}

// writeFrame writes one frame under the write lock; a failed write kills the
// connection since the stream may hold half a frame.
func (c *Conn) writeFrame(ctx context.Context, f *frame.Frame) error {
	if err := c.lockWrite(ctx); err != nil {
		return err
	}
	defer c.unlockWrite()
	if err := c.write(f, c.writeDeadline(ctx)); err != nil {
		c.fail(fmt.Errorf("write: %w", err))
		return c.err
	}
	return nil
}

func (c *Conn) writeDeadline(ctx context.Context) time.Time {
	d := time.Now().Add(c.cfg.WriteTimeout)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		return cd
	}
	return d
}

// lockWrite takes the write lock unless ctx ends or the connection is
// gone first.
func (c *Conn) lockWrite(ctx context.Context) error {
	select {
	case <-c.done:
		return c.err
	default:
	}
	select {
	case c.wmu <- struct{}{}:
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-c.done:
		return c.err
	}
	select {
	case <-c.done:
		<-c.wmu
		return c.err
	default:
		return nil
	}
}

func (c *Conn) unlockWrite() { <-c.wmu }

// write puts f on the wire as one masked WebSocket text frame in a single
// Write call. The caller holds the write lock.
func (c *Conn) write(f *frame.Frame, deadline time.Time) error {
	buf, err := c.enc.encode(f)
	if err != nil {
		return err
	}
	return c.writeWS(buf, opText, deadline)
}

func (c *Conn) writeWS(buf []byte, opcode byte, deadline time.Time) error {
	var key [4]byte
	binary.LittleEndian.PutUint32(key[:], uint32(c.maskRand.Uint64()))
	wire := maskedFrame(buf, opcode, key)
	_ = c.nc.SetWriteDeadline(deadline)
	_, err := c.nc.Write(wire)
	return err
}

// pong answers a server ping. It runs on the read loop, which must not wait
// for the write lock, so the answer is written by a goroutine; at most one
// is in flight and pings arriving meanwhile get no separate answer.
func (c *Conn) pong(data string) error {
	if !c.pongBusy.CompareAndSwap(false, true) {
		return nil
	}
	go func() {
		defer c.pongBusy.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.WriteTimeout)
		defer cancel()
		if c.lockWrite(ctx) != nil {
			return
		}
		defer c.unlockWrite()
		buf := append(make([]byte, wsMaxHeader, wsMaxHeader+len(data)), data...)
		if err := c.writeWS(buf, opPong, c.writeDeadline(ctx)); err != nil {
			c.fail(fmt.Errorf("write pong: %w", err))
		}
	}()
	return nil
}

// Done is closed when the connection has ended, for whatever reason.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err says why the connection ended (it wraps ErrClosed), or nil while it
// is up.
func (c *Conn) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// Close sends DISCONNECT (with a receipt header, whose RECEIPT is not waited
// for) and a WebSocket close frame if the connection is still up, then cuts
// it. It returns within about a second even when the server is gone or has
// stopped reading. Pending requests fail with ErrClosed.
func (c *Conn) Close() error {
	select {
	case <-c.done:
		return nil
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	if c.lockWrite(ctx) == nil {
		deadline, _ := ctx.Deadline()
		disconnect := frame.New(frame.DISCONNECT, frame.Receipt, newUUID())
		if err := c.write(disconnect, deadline); err == nil {
			buf := append(make([]byte, wsMaxHeader, wsMaxHeader+2), 0x03, 0xE8) // 1000: normal closure
			_ = c.writeWS(buf, opClose, deadline)
		}
		c.unlockWrite()
	}
	c.fail(errClosedLocally)
	return nil
}

// fail ends the connection once: records why, wakes everyone waiting on
// Done (pending requests, subscription goroutines) and cuts the socket.
func (c *Conn) fail(cause error) {
	c.errOnce.Do(func() {
		c.err = fmt.Errorf("%w: %w", ErrClosed, cause)
		close(c.done)
		_ = closeRaw(c.ws)
		if cause != errClosedLocally {
			c.log.WithError(cause).Warn("connection to server lost")
		}
	})
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
