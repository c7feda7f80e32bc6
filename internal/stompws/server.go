package stompws

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ambari-go/ambari-agent/internal/logging"
	"github.com/go-stomp/stomp/v3/frame"
	"github.com/gorilla/websocket"
	"github.com/sirupsen/logrus"
)

// serverWriteTimeout bounds one frame write on the server side, so that an
// agent that stops reading cannot hold a simulator goroutine forever.
const serverWriteTimeout = 10 * time.Second

// closeTimeout bounds the polite part of closing a connection (DISCONNECT,
// WebSocket close frame); after it the TCP connection is cut regardless.
const closeTimeout = time.Second

// ServerConn is the server end of one agent link, for the simulator. It
// reads and writes whole STOMP frames; the STOMP semantics (CONNECTED,
// subscriptions, replies) are the caller's.
type ServerConn struct {
	ws  *websocket.Conn
	log *logrus.Entry
	dec *decoder // used only by the single reading goroutine

	wmu sync.Mutex // serialises WriteFrame calls
	enc *encoder

	closeOnce sync.Once
	closeErr  error

	// splitFrames counts frames that arrived spread over more than one
	// WebSocket message; the Python agent (and ours) never sends those.
	splitFrames atomic.Uint64
}

// Upgrade turns an HTTP request into a WebSocket connection the way the
// Ambari server does for agents: any Origin is accepted and the offered
// subprotocols (the agent offers "http-only,chat") are answered with none.
func Upgrade(w http.ResponseWriter, r *http.Request, log *logrus.Entry) (*ServerConn, error) {
	u := websocket.Upgrader{
		CheckOrigin: func(*http.Request) bool { return true },
	}
	ws, err := u.Upgrade(w, r, nil)
	if err != nil {
		return nil, fmt.Errorf("stompws: upgrade %s: %w", r.RemoteAddr, err)
	}
	if log == nil {
		log = discardLog()
	}
	dec := newDecoder(DefaultMaxFrameSize)
	ws.SetReadLimit(dec.maxMessage())
	return &ServerConn{ws: ws, log: log, dec: dec, enc: newEncoder()}, nil
}

// ReadFrame returns the next frame sent by the client, skipping heart-beats.
// Frames split across WebSocket messages or packed several to a message are
// reassembled. A *FrameError with Skipped set means a malformed frame was
// dropped and reading may go on; any other error means the connection is
// unusable. ReadFrame must not be called from two goroutines at once.
func (s *ServerConn) ReadFrame() (*frame.Frame, error) {
	split := false
	for {
		f, err := s.dec.next()
		if f != nil || err != nil {
			if f != nil && split {
				s.splitFrames.Add(1)
			}
			return f, err
		}
		// Bytes of an unfinished frame wait for the next message.
		split = split || s.dec.partial()
		_, r, err := s.ws.NextReader()
		if err != nil {
			return nil, fmt.Errorf("stompws: read: %w", err)
		}
		if err := s.dec.readMessage(r); err != nil {
			return nil, fmt.Errorf("stompws: read: %w", err)
		}
	}
}

// WriteFrame sends f as one WebSocket text message (one unfragmented
// WebSocket frame). It is safe for concurrent use. A write that does not
// finish within 10 s fails, and the connection is then unusable.
func (s *ServerConn) WriteFrame(f *frame.Frame) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	buf, err := s.enc.encode(f)
	if err != nil {
		return fmt.Errorf("stompws: %w", err)
	}
	_ = s.ws.SetWriteDeadline(time.Now().Add(serverWriteTimeout))
	if err := s.ws.WriteMessage(websocket.TextMessage, buf[wsMaxHeader:]); err != nil {
		return fmt.Errorf("stompws: write %s frame: %w", f.Command, err)
	}
	return nil
}

// WriteMessage sends b as one WebSocket text message, as it is, with no
// STOMP framing: for fault injection (malformed frames) only.
func (s *ServerConn) WriteMessage(b []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_ = s.ws.SetWriteDeadline(time.Now().Add(serverWriteTimeout))
	if err := s.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		return fmt.Errorf("stompws: write raw message: %w", err)
	}
	return nil
}

// Close sends a WebSocket close frame (waiting at most a second) and cuts
// the connection. Safe to call more than once and concurrently with reads.
func (s *ServerConn) Close() error {
	s.closeOnce.Do(func() {
		msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
		_ = s.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(closeTimeout))
		s.closeErr = closeRaw(s.ws)
	})
	return s.closeErr
}

// SplitFrames is the number of frames read so far that did not arrive as
// a single WebSocket message.
func (s *ServerConn) SplitFrames() uint64 { return s.splitFrames.Load() }

// RemoteAddr is the client's address, for logs.
func (s *ServerConn) RemoteAddr() string { return s.ws.RemoteAddr().String() }

// closeRaw closes the TCP connection under ws without a TLS close_notify:
// tls.Conn.Close may block for 5 s sending it to a peer that stopped
// reading, and nothing after a WebSocket close needs it.
func closeRaw(ws *websocket.Conn) error {
	nc := ws.NetConn()
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	return nc.Close()
}

func discardLog() *logrus.Entry { return logging.Discard() }
