package stompws

import (
	"bufio"
	"context"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
)

// startServer runs a TLS WebSocket server on loopback whose connections are
// handed to handle as ServerConns.
func startServer(t testing.TB, handle func(sc *ServerConn)) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sc, err := Upgrade(w, r, nil)
		if err != nil {
			t.Errorf("upgrade: %v", err)
			return
		}
		defer sc.Close()
		handle(sc)
	}))
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func wsURL(srv *httptest.Server) string {
	return "wss://" + srv.Listener.Addr().String() + "/agent/stomp/v1"
}

// dial connects a client to srv with test-friendly settings.
func dial(t testing.TB, srv *httptest.Server, mod func(*Config)) *Conn {
	t.Helper()
	cfg := Config{URL: wsURL(srv), TLS: &tls.Config{InsecureSkipVerify: true}}
	if mod != nil {
		mod(&cfg)
	}
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// accept performs the server side of the STOMP connect exchange.
func accept(t testing.TB, sc *ServerConn) bool {
	f, err := sc.ReadFrame()
	if err != nil {
		t.Errorf("server: read connect frame: %v", err)
		return false
	}
	if f.Command != frame.STOMP {
		t.Errorf("server: first frame %s, want STOMP", f.Command)
		return false
	}
	if err := sc.WriteFrame(frame.New(frame.CONNECTED, "version", "1.2", "heart-beat", "0,0")); err != nil {
		t.Errorf("server: write CONNECTED: %v", err)
		return false
	}
	return true
}

// echoBroker answers every SEND with a reply on /user/ carrying the same
// correlationId and body, and passes every frame it reads to seen (if not
// nil) until the client goes away.
func echoBroker(t testing.TB, seen chan<- *frame.Frame) func(*ServerConn) {
	return func(sc *ServerConn) {
		if !accept(t, sc) {
			return
		}
		for {
			f, err := sc.ReadFrame()
			if err != nil {
				return
			}
			if seen != nil {
				seen <- f
			}
			if f.Command == frame.SEND {
				if sc.WriteFrame(reply(f, f.Body)) != nil {
					return
				}
			}
		}
	}
}

func reply(req *frame.Frame, body []byte) *frame.Frame {
	m := frame.New(frame.MESSAGE,
		"destination", "/user/",
		"correlationId", req.Header.Get("correlationId"),
		"content-type", "application/json",
		"subscription", "sub")
	m.Body = body
	return m
}

func push(dest, messageID, body string) *frame.Frame {
	m := frame.New(frame.MESSAGE, "destination", dest, "subscription", "sub", "message-id", "x-1")
	if messageID != "" {
		m.Header.Add("messageId", messageID)
	}
	m.Body = []byte(body)
	return m
}

// recv waits for a value with a generous timeout so that a broken test
// fails instead of hanging.
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

// rawServer is a TLS WebSocket server written against the wire format, for
// the tests that must see WebSocket frames exactly as the client sent them
// (gorilla's reader would hide fragmentation and pings).
type rawServer struct {
	ln      net.Listener
	conns   chan *rawConn
	headers chan http.Header
}

type rawConn struct {
	net.Conn
	br *bufio.Reader
}

func startRawServer(t testing.TB) *rawServer {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil) // only for its certificate
	ts.StartTLS()
	cert := ts.TLS.Certificates
	ts.Close()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: cert})
	if err != nil {
		t.Fatal(err)
	}
	rs := &rawServer{ln: ln, conns: make(chan *rawConn, 4), headers: make(chan http.Header, 4)}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go rs.handshake(t, nc)
		}
	}()
	return rs
}

func (rs *rawServer) url() string { return "wss://" + rs.ln.Addr().String() + "/agent/stomp/v1" }

func (rs *rawServer) handshake(t testing.TB, nc net.Conn) {
	br := bufio.NewReader(nc)
	req, err := http.ReadRequest(br)
	if err != nil {
		t.Errorf("raw server: %v", err)
		nc.Close()
		return
	}
	h := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	// No Sec-WebSocket-Protocol in the answer: the Ambari server picks none.
	io.WriteString(nc, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Accept: "+base64.StdEncoding.EncodeToString(h[:])+"\r\n\r\n")
	rs.headers <- req.Header
	rs.conns <- &rawConn{Conn: nc, br: br}
}

// readWS reads one WebSocket frame: FIN bit, opcode and unmasked payload.
func (rc *rawConn) readWS() (fin bool, opcode byte, payload []byte, err error) {
	var h [2]byte
	if _, err = io.ReadFull(rc.br, h[:]); err != nil {
		return
	}
	fin, opcode = h[0]&0x80 != 0, h[0]&0x0f
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		_, err = io.ReadFull(rc.br, b[:])
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		_, err = io.ReadFull(rc.br, b[:])
		n = binary.BigEndian.Uint64(b[:])
	}
	if err != nil {
		return
	}
	var key [4]byte
	if h[1]&0x80 != 0 {
		if _, err = io.ReadFull(rc.br, key[:]); err != nil {
			return
		}
	}
	payload = make([]byte, n)
	if _, err = io.ReadFull(rc.br, payload); err != nil {
		return
	}
	for i := range payload {
		payload[i] ^= key[i%4]
	}
	return
}

// writeText sends payload as one unmasked text message.
func (rc *rawConn) writeText(payload string) error {
	b := []byte{0x81}
	switch n := len(payload); {
	case n <= 125:
		b = append(b, byte(n))
	case n <= 0xffff:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = binary.BigEndian.AppendUint64(append(b, 127), uint64(n))
	}
	_, err := rc.Write(append(b, payload...))
	return err
}

// acceptRaw answers the connect frame the client sends on rc.
func (rc *rawConn) acceptRaw(t testing.TB) string {
	t.Helper()
	_, _, p, err := rc.readWS()
	if err != nil {
		t.Fatalf("raw server: read connect: %v", err)
	}
	if err := rc.writeText("CONNECTED\nversion:1.2\nheart-beat:0,0\n\n\x00"); err != nil {
		t.Fatal(err)
	}
	return string(p)
}

func hasPrefixLines(s string, lines ...string) bool {
	return strings.HasPrefix(s, strings.Join(lines, "\n"))
}
