package stompws

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
	"github.com/gorilla/websocket"

	"github.com/ambari-go/ambari-agent/internal/testutil"
)

// dialRaw connects a client to a rawServer; the server side must answer the
// connect frame (acceptRaw) before the returned channel yields.
func dialRaw(t testing.TB, rs *rawServer) (<-chan *Conn, *rawConn) {
	t.Helper()
	ch := make(chan *Conn, 1)
	go func() {
		c, err := Dial(context.Background(), Config{URL: rs.url(), TLS: &tls.Config{InsecureSkipVerify: true}})
		if err != nil {
			t.Errorf("Dial: %v", err)
			close(ch)
			return
		}
		t.Cleanup(func() { _ = c.Close() })
		ch <- c
	}()
	return ch, recv(t, rs.conns, "raw connection")
}

func TestHandshakeConnectFrameAndQuietLink(t *testing.T) {
	rs := startRawServer(t)
	conns, rc := dialRaw(t, rs)
	h := recv(t, rs.headers, "handshake headers")
	if got := h.Get("Sec-WebSocket-Protocol"); got != "http-only,chat" {
		t.Errorf("Sec-WebSocket-Protocol %q", got)
	}
	if got, want := h.Get("Origin"), "wss://"+rs.ln.Addr().String(); got != want {
		t.Errorf("Origin %q, want %q", got, want)
	}
	connect := rc.acceptRaw(t)
	if want := "STOMP\naccept-version:1.2\nheart-beat:0,0\nhost:0\n\n\x00"; connect != want {
		t.Errorf("connect frame %q, want %q", connect, want)
	}
	c := recv(t, conns, "Dial")
	if c == nil {
		return
	}
	// Nothing (no STOMP heart-beat, no WebSocket ping) is sent on an idle
	// link, and the link stays up.
	_ = rc.SetReadDeadline(time.Now().Add(700 * time.Millisecond))
	if _, op, p, err := rc.readWS(); err == nil {
		t.Fatalf("idle client sent opcode %d: %q", op, p)
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("reading idle link: %v", err)
	}
	if c.Err() != nil {
		t.Fatalf("idle connection ended: %v", c.Err())
	}
}

func TestLargeFramesLeaveAsOneUnfragmentedMessage(t *testing.T) {
	rs := startRawServer(t)
	conns, rc := dialRaw(t, rs)
	rc.acceptRaw(t)
	c := recv(t, conns, "Dial")
	if c == nil {
		return
	}
	for _, size := range []int{5 << 10, 1_900_000} {
		body := bytes.Repeat([]byte("x"), size)
		errc := make(chan error, 1)
		go func() { errc <- c.Send(context.Background(), "/reports/commands_status", body) }()
		fin, op, p, err := rc.readWS()
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if !fin || op != 0x1 {
			t.Fatalf("size %d: frame fin=%v opcode=%d, want one final text frame", size, fin, op)
		}
		if p[len(p)-1] != 0 {
			t.Fatalf("size %d: message does not end with NUL", size)
		}
		head := fmt.Sprintf("SEND\ncontent-length:%d\ncorrelationId:", size)
		if !strings.HasPrefix(string(p), head) || !bytes.HasSuffix(p, append(body, 0)) {
			t.Fatalf("size %d: message is not the whole frame: %q...", size, p[:60])
		}
		if err := recv(t, errc, "Send"); err != nil {
			t.Fatal(err)
		}
	}
}

func TestInboundFramesSplitAndPackedAreDelivered(t *testing.T) {
	msgs := []string{
		"MESSAGE\ndestination:/user/commands\nmessageId:1\n\n{}\x00",
		"\n", // heart-beat
		"MESSAGE\ndestination:/user/commands\nmessageId:2\n\n{}\x00MESSAGE\ndestination:/user/comm",
		"ands\nmessageId:3\ncontent-len",
		"gth:2\n\n{",
		"}\x00\r\nMESSAGE\ndestination:/user/commands\nmessageId:4\n\n{}\x00",
	}
	srv := startServer(t, func(sc *ServerConn) {
		if !accept(t, sc) {
			return
		}
		if f, err := sc.ReadFrame(); err != nil || f.Command != frame.SUBSCRIBE {
			return
		}
		for i, m := range msgs {
			typ := websocket.TextMessage
			if i == 2 {
				typ = websocket.BinaryMessage // decoded like text
			}
			if err := sc.ws.WriteMessage(typ, []byte(m)); err != nil {
				return
			}
		}
		_, _ = sc.ReadFrame() // until the client leaves
	})
	c := dial(t, srv, nil)
	got := make(chan string, 10)
	if err := c.Subscribe("/user/commands", 10, func(m *Message) { got <- m.MessageID }); err != nil {
		t.Fatal(err)
	}
	for want := 1; want <= 4; want++ {
		if id := recv(t, got, "message "+strconv.Itoa(want)); id != strconv.Itoa(want) {
			t.Fatalf("message %s, want %d", id, want)
		}
	}
}

func TestConnectErrorCarriesServerMessage(t *testing.T) {
	srv := startServer(t, func(sc *ServerConn) {
		if _, err := sc.ReadFrame(); err != nil {
			return
		}
		_ = sc.WriteFrame(frame.New(frame.ERROR, "message", "Connection not allowed"))
		_, _ = sc.ReadFrame()
	})
	_, err := Dial(context.Background(), Config{URL: wsURL(srv), TLS: &tls.Config{InsecureSkipVerify: true}})
	var ce *ConnectError
	if !errors.As(err, &ce) || ce.Message != "Connection not allowed" {
		t.Fatalf("want ConnectError with the server's message, got %v", err)
	}
	if !strings.Contains(err.Error(), "Connection not allowed") {
		t.Errorf("message not in error text: %v", err)
	}
}

func TestConnectTimesOut(t *testing.T) {
	silent := startServer(t, func(sc *ServerConn) {
		for { // reads the connect frame, never answers
			if _, err := sc.ReadFrame(); err != nil {
				return
			}
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0") // accepts TCP, never speaks TLS
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	for name, url := range map[string]string{
		"no CONNECTED":     wsURL(silent),
		"no TLS handshake": "wss://" + ln.Addr().String() + "/agent/stomp/v1",
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			_, err := Dial(context.Background(), Config{URL: url, TLS: &tls.Config{InsecureSkipVerify: true},
				ConnectTimeout: 300 * time.Millisecond})
			if err == nil {
				t.Fatal("Dial succeeded")
			}
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Errorf("error is not a timeout: %v", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Dial returned after %s, deadline was 300ms", d)
			}
		})
	}
}

func TestSlowHandlerDelaysNeitherRepliesNorOtherSubscriptions(t *testing.T) {
	pushNow := make(chan struct{})
	srv := startServer(t, func(sc *ServerConn) {
		if !accept(t, sc) {
			return
		}
		<-pushNow
		for i := range 5 {
			_ = sc.WriteFrame(push("/user/commands", strconv.Itoa(i), "{}"))
		}
		_ = sc.WriteFrame(push("/events/metadata", "", `{"m": 1}`))
		echoLoop(sc)
	})
	c := dial(t, srv, nil)
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	_ = c.Subscribe("/user/", 0, nil)
	if err := c.Subscribe("/user/commands", 10, func(*Message) { started <- struct{}{}; <-release }); err != nil {
		t.Fatal(err)
	}
	meta := make(chan string, 1)
	if err := c.Subscribe("/events/metadata", 10, func(m *Message) { meta <- string(m.Body) }); err != nil {
		t.Fatal(err)
	}
	close(pushNow)
	recv(t, started, "commands handler")
	if got := recv(t, meta, "metadata message"); got != `{"m": 1}` {
		t.Errorf("metadata body %q", got)
	}
	body, err := c.Request(context.Background(), "/heartbeat", []byte(`{"id": 0}`))
	if err != nil || string(body) != `{"id": 0}` {
		t.Fatalf("Request while a handler is stuck: %q %v", body, err)
	}
	close(release)
}

// echoLoop answers SENDs until the client leaves.
func echoLoop(sc *ServerConn) {
	for {
		f, err := sc.ReadFrame()
		if err != nil {
			return
		}
		if f.Command == frame.SEND {
			_ = sc.WriteFrame(reply(f, f.Body))
		}
	}
}

func TestFullQueueStopsTheReaderAndLosesNothing(t *testing.T) {
	more := make(chan struct{})
	srv := startServer(t, func(sc *ServerConn) {
		if !accept(t, sc) {
			return
		}
		_, _ = sc.ReadFrame() // SUBSCRIBE
		_ = sc.WriteFrame(push("/user/commands", "0", "{}"))
		<-more
		for i := 1; i <= 9; i++ {
			_ = sc.WriteFrame(push("/user/commands", strconv.Itoa(i), "{}"))
		}
		echoLoop(sc)
	})
	c := dial(t, srv, nil)
	release := make(chan struct{})
	started := make(chan string, 10)
	err := c.Subscribe("/user/commands", 2, func(m *Message) { started <- m.MessageID; <-release })
	if err != nil {
		t.Fatal(err)
	}
	recv(t, started, "first message") // the handler now holds message 0
	close(more)
	// The reply comes after the nine pushes: two fit in the queue, the
	// reader holds the third and reads no further until there is room.
	replied := make(chan error, 1)
	go func() {
		_, err := c.Request(context.Background(), "/heartbeat", []byte("{}"))
		replied <- err
	}()
	testutil.WaitFor(t, "the reader to pause", c.readPaused.Load)
	select {
	case err := <-replied:
		t.Fatalf("reply read past a full queue (%v)", err)
	default:
	}
	close(release)
	for i := 1; i <= 9; i++ {
		if got := recv(t, started, "queued message"); got != strconv.Itoa(i) {
			t.Fatalf("delivered %s, want %d", got, i)
		}
	}
	if err := recv(t, replied, "the reply"); err != nil {
		t.Fatal(err)
	}
}

// TestByteBoundHoldsAcrossSubscriptions pushes far more than the byte bound
// to two subscriptions whose handlers are stuck: the reader stops at the
// bound, the server cannot write everything (TCP pushes back), and once the
// handlers go on every message arrives, in order, while handlers that send
// acknowledgements meanwhile are not blocked by the paused reader.
func TestByteBoundHoldsAcrossSubscriptions(t *testing.T) {
	const (
		bound = 4 << 20
		size  = 1 << 20
		count = 96 // well beyond the bound plus what loopback TCP buffers
	)
	topics := []string{"/user/configs", "/events/topologies"}
	wrote := make(chan struct{})
	srv := startServer(t, func(sc *ServerConn) {
		if !accept(t, sc) {
			return
		}
		for range topics {
			_, _ = sc.ReadFrame() // SUBSCRIBE
		}
		body := strings.Repeat("x", size)
		for i := range count {
			if sc.WriteFrame(push(topics[i%2], strconv.Itoa(i), body)) != nil {
				return
			}
		}
		close(wrote)
		echoLoop(sc)
	})
	c := dial(t, srv, func(cfg *Config) { cfg.MaxBufferedBytes = bound })
	_ = c.Subscribe("/user/", 0, nil)
	release := make(chan struct{})
	var mu sync.Mutex
	got := map[string][]string{}
	peak := 0
	all := make(chan struct{})
	for _, topic := range topics {
		err := c.Subscribe(topic, 100, func(m *Message) {
			used, _ := c.inbound.usage()
			<-release
			if err := c.Send(context.Background(), "/reports/responses", []byte(m.MessageID)); err != nil {
				t.Errorf("ack %s: %v", m.MessageID, err)
			}
			mu.Lock()
			defer mu.Unlock()
			peak = max(peak, used)
			got[m.Destination] = append(got[m.Destination], m.MessageID)
			if len(got[topics[0]])+len(got[topics[1]]) == count {
				close(all)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	testutil.WaitFor(t, "the reader to pause", c.readPaused.Load)
	if used, msgs := c.inbound.usage(); used > bound {
		t.Errorf("%d bytes in %d messages buffered, bound %d", used, msgs, bound)
	}
	select {
	case <-wrote:
		t.Fatalf("the server wrote all %d MiB while the client's bound is %d MiB", count*size>>20, bound>>20)
	default:
	}
	close(release)
	// 96 MiB through TLS, under the race detector on a loaded machine.
	select {
	case <-all:
	case <-time.After(2 * time.Minute):
		t.Fatal("timed out waiting for every message")
	}
	recv(t, wrote, "the server's last write")
	if peak > bound {
		t.Errorf("peak %d bytes buffered, bound %d", peak, bound)
	}
	for i, topic := range topics {
		for j, id := range got[topic] {
			if want := strconv.Itoa(2*j + i); id != want {
				t.Fatalf("%s: message %d is %s, want %s", topic, j, id, want)
			}
		}
	}
	if _, err := c.Request(context.Background(), "/heartbeat", []byte("{}")); err != nil {
		t.Fatalf("request after the flood: %v", err)
	}
}

// requestBehindPushes serves one client: after its SUBSCRIBE and its first
// SEND it writes n pushes to /user/configs and only then the reply.
func requestBehindPushes(t *testing.T, n int) *httptest.Server {
	return startServer(t, func(sc *ServerConn) {
		if !accept(t, sc) {
			return
		}
		_, _ = sc.ReadFrame() // SUBSCRIBE
		req, err := sc.ReadFrame()
		if err != nil {
			return
		}
		for i := range n {
			_ = sc.WriteFrame(push("/user/configs", strconv.Itoa(i), "{}"))
		}
		_ = sc.WriteFrame(reply(req, []byte("{}")))
		echoLoop(sc)
	})
}

// A reply behind pushes that slow handlers are working through arrives
// later than the request timeout, and is still taken: the wait was ours.
func TestRequestWaitsWhileHandlersDrainTheQueues(t *testing.T) {
	srv := requestBehindPushes(t, 8)
	c := dial(t, srv, func(cfg *Config) { cfg.RequestTimeout = 300 * time.Millisecond })
	var handled atomic.Int32
	err := c.Subscribe("/user/configs", 1, func(*Message) {
		time.Sleep(100 * time.Millisecond) // a slow apply: 800 ms for all
		handled.Add(1)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Request(context.Background(), "/heartbeat", []byte("{}")); err != nil {
		t.Fatalf("request behind a draining queue: %v", err)
	}
	// Behind the reply: one push in the handler, one in the queue.
	if n := handled.Load(); n < 6 {
		t.Errorf("reply taken after %d of 8 pushes were handled; it was written after all of them", n)
	}
}

// A handler that never returns holds the reader for good: a request behind
// it times out instead of waiting forever.
func TestRequestBehindAStuckHandlerTimesOut(t *testing.T) {
	srv := requestBehindPushes(t, 8)
	c := dial(t, srv, func(cfg *Config) { cfg.RequestTimeout = 300 * time.Millisecond })
	release := make(chan struct{})
	defer close(release)
	if err := c.Subscribe("/user/configs", 1, func(*Message) { <-release }); err != nil {
		t.Fatal(err)
	}
	_, err := c.Request(context.Background(), "/heartbeat", []byte("{}"))
	if !errors.Is(err, ErrRequestTimeout) {
		t.Fatalf("want ErrRequestTimeout, got %v", err)
	}
}

func TestRequestTimesOutAtHardDeadline(t *testing.T) {
	srv := startServer(t, func(sc *ServerConn) {
		if !accept(t, sc) {
			return
		}
		// Answers everything except /register, and keeps other replies
		// flowing: in the Python agent any reply would restart the wait.
		for {
			f, err := sc.ReadFrame()
			if err != nil {
				return
			}
			if f.Header.Get("destination") != "/register" {
				_ = sc.WriteFrame(reply(f, []byte("{}")))
			}
		}
	})
	c := dial(t, srv, func(cfg *Config) { cfg.RequestTimeout = 400 * time.Millisecond })
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				_, _ = c.Request(context.Background(), "/heartbeat", []byte("{}"))
			}
		}
	})
	defer wg.Wait()
	defer close(stop)
	start := time.Now()
	_, err := c.Request(context.Background(), "/register", []byte("{}"))
	d := time.Since(start)
	if !errors.Is(err, ErrRequestTimeout) {
		t.Fatalf("want ErrRequestTimeout, got %v", err)
	}
	if d < 400*time.Millisecond || d > 5*time.Second {
		t.Errorf("timed out after %s, deadline 400ms", d)
	}
	if c.Err() != nil {
		t.Errorf("a timeout must not end the connection: %v", c.Err())
	}
	// The caller's own context still wins when it is shorter.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Request(ctx, "/register", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("want context.DeadlineExceeded, got %v", err)
	}
}

func TestRequestFailsAtOnceWhenServerCloses(t *testing.T) {
	srv := startServer(t, func(sc *ServerConn) {
		if !accept(t, sc) {
			return
		}
		_, _ = sc.ReadFrame() // the request; then hang up without answering
	})
	c := dial(t, srv, func(cfg *Config) { cfg.RequestTimeout = time.Hour })
	errc := make(chan error, 1)
	go func() {
		_, err := c.Request(context.Background(), "/register", []byte("{}"))
		errc <- err
	}()
	err := recv(t, errc, "Request to fail")
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("want ErrClosed, got %v", err)
	}
	recv(t, c.Done(), "Done")
	if !errors.Is(c.Err(), ErrClosed) {
		t.Errorf("Err() = %v", c.Err())
	}
	// Later sends fail fast with the same cause.
	if err := c.Send(context.Background(), "/reports/host_status", []byte("{}")); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after loss: %v", err)
	}
}

func TestCloseSendsDisconnectAndEndsTheSession(t *testing.T) {
	seen := make(chan *frame.Frame, 10)
	gone := make(chan error, 1)
	srv := startServer(t, func(sc *ServerConn) {
		echoBroker(t, seen)(sc)
		_, err := sc.ReadFrame()
		gone <- err
	})
	c := dial(t, srv, nil)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	f := recv(t, seen, "DISCONNECT")
	if f.Command != frame.DISCONNECT || len(f.Header.Get("receipt")) != 36 {
		t.Fatalf("got %s %v, want DISCONNECT with a receipt UUID", f.Command, f.Header)
	}
	if err := recv(t, gone, "server to see the close"); err == nil {
		t.Error("server still reading after Close")
	}
	if !errors.Is(c.Err(), ErrClosed) {
		t.Errorf("Err() after Close = %v", c.Err())
	}
	if err := c.Send(context.Background(), "/heartbeat", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestCloseReturnsPromptlyWhenPeerStopsReading(t *testing.T) {
	stuck := make(chan struct{})
	srv := startServer(t, func(sc *ServerConn) {
		if !accept(t, sc) {
			return
		}
		<-stuck // never reads again
	})
	defer close(stuck)
	c := dial(t, srv, func(cfg *Config) { cfg.WriteTimeout = time.Hour })
	// Fill the socket buffers until a Send blocks.
	sendErr := make(chan error, 1)
	go func() {
		body := bytes.Repeat([]byte("x"), 1<<20)
		for {
			if err := c.Send(context.Background(), "/reports/commands_status", body); err != nil {
				sendErr <- err
				return
			}
		}
	}()
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	_ = c.Close()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Close took %s", d)
	}
	if err := recv(t, sendErr, "blocked Send to fail"); !errors.Is(err, ErrClosed) {
		t.Errorf("blocked Send: %v", err)
	}
}

func TestSubscriptionsShareIDAndRouteByDestination(t *testing.T) {
	seen := make(chan *frame.Frame, 10)
	pushNow := make(chan struct{})
	srv := startServer(t, func(sc *ServerConn) {
		if !accept(t, sc) {
			return
		}
		for range 3 {
			f, err := sc.ReadFrame()
			if err != nil {
				return
			}
			seen <- f
		}
		<-pushNow
		_ = sc.WriteFrame(push("/events/metadata/", "", "meta"))     // trailing '/' ignored
		_ = sc.WriteFrame(push("/user/agent_actions", "", "action")) // exact
		_ = sc.WriteFrame(push("/user/commands", "5", "cmd"))
		_ = sc.WriteFrame(push("/events/unknown", "", "nobody"))
		echoLoop(sc)
	})
	c := dial(t, srv, nil)
	got := make(chan string, 10)
	for _, d := range []string{"/user/commands", "/user/agent_actions", "/events/metadata"} {
		if err := c.Subscribe(d, 10, func(m *Message) { got <- d + "=" + string(m.Body) + m.MessageID }); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Subscribe("/user/commands/", 1, func(*Message) {}); err == nil {
		t.Error("second subscription to one destination accepted")
	}
	for range 3 {
		f := recv(t, seen, "SUBSCRIBE")
		want := []string{"ack", "client-individual", "destination", f.Header.Get("destination"), "id", "sub"}
		if f.Command != frame.SUBSCRIBE || f.Header.Len() != 3 {
			t.Fatalf("%s %v", f.Command, f.Header)
		}
		for i := range 3 {
			if k, v := f.Header.GetAt(i); k != want[2*i] || v != want[2*i+1] {
				t.Errorf("SUBSCRIBE header %d is %s:%s, want %s:%s", i, k, v, want[2*i], want[2*i+1])
			}
		}
	}
	close(pushNow)
	want := map[string]bool{"/events/metadata=meta": true, "/user/agent_actions=action": true, "/user/commands=cmd5": true}
	for range 3 {
		m := recv(t, got, "routed message")
		if !want[m] {
			t.Errorf("unexpected delivery %q", m)
		}
		delete(want, m)
	}
	select {
	case m := <-got:
		t.Errorf("unexpected delivery %q", m)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestCorrelationIDsAndReplyMatching(t *testing.T) {
	seen := make(chan *frame.Frame, 10)
	srv := startServer(t, func(sc *ServerConn) {
		if !accept(t, sc) {
			return
		}
		for {
			f, err := sc.ReadFrame()
			if err != nil {
				return
			}
			seen <- f
			if f.Command != frame.SEND || f.Header.Get("destination") != "/register" {
				continue
			}
			// Noise first: a reply without correlationId, one for an
			// unknown id, then the real one.
			noID := frame.New(frame.MESSAGE, "destination", "/user/")
			noID.Body = []byte("no id")
			_ = sc.WriteFrame(noID)
			_ = sc.WriteFrame(reply(frame.New(frame.SEND, "correlationId", "99"), []byte("stale")))
			_ = sc.WriteFrame(reply(f, []byte("registered")))
		}
	})
	c := dial(t, srv, nil)
	ctx := context.Background()
	if err := c.Subscribe("/user/", 0, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Subscribe("/user/", 0, nil); err == nil {
		t.Error("duplicate /user/ subscription accepted")
	}
	if err := c.Send(ctx, "/reports/responses", []byte(`{"messageId": "1", "status": "OK"}`)); err != nil {
		t.Fatal(err)
	}
	body, err := c.Request(ctx, "/register", []byte(`{"id": -1}`))
	if err != nil || string(body) != "registered" {
		t.Fatalf("Request: %q %v", body, err)
	}
	if err := c.Send(ctx, "/reports/host_status", nil); err != nil {
		t.Fatal(err)
	}
	recv(t, seen, "SUBSCRIBE")
	for want := range 3 {
		f := recv(t, seen, "SEND")
		if got := f.Header.Get("correlationId"); got != strconv.Itoa(want) {
			t.Errorf("SEND %d has correlationId %s", want, got)
		}
		if k, _ := f.Header.GetAt(0); k != "content-length" || f.Header.Get("content-length") != strconv.Itoa(len(f.Body)) {
			t.Errorf("content-length header wrong: %v", f.Header)
		}
	}
}

func TestMalformedInboundFrames(t *testing.T) {
	t.Run("delimited frame is skipped", func(t *testing.T) {
		srv := startServer(t, func(sc *ServerConn) {
			if !accept(t, sc) {
				return
			}
			_, _ = sc.ReadFrame()
			_ = sc.ws.WriteMessage(websocket.TextMessage, []byte("MESSAGE\ndestination /user/commands\n\n{}\x00"))
			_ = sc.WriteFrame(push("/user/commands", "2", "{}"))
			echoLoop(sc)
		})
		c := dial(t, srv, nil)
		got := make(chan string, 2)
		_ = c.Subscribe("/user/commands", 10, func(m *Message) { got <- m.MessageID })
		if id := recv(t, got, "good message"); id != "2" {
			t.Errorf("got message %s", id)
		}
		if c.Err() != nil {
			t.Errorf("connection ended: %v", c.Err())
		}
	})
	t.Run("oversized frame ends the connection", func(t *testing.T) {
		srv := startServer(t, func(sc *ServerConn) {
			if !accept(t, sc) {
				return
			}
			_ = sc.ws.WriteMessage(websocket.TextMessage, []byte("MESSAGE\ndestination:/user/\ncontent-length:2000\n\n"))
			_, _ = sc.ReadFrame()
		})
		c := dial(t, srv, func(cfg *Config) { cfg.MaxFrameSize = 1000 })
		recv(t, c.Done(), "Done")
		if err := c.Err(); !errors.Is(err, ErrFrameTooLarge) || !errors.Is(err, ErrClosed) {
			t.Errorf("Err() = %v", err)
		}
	})
}

func TestServerPingIsAnsweredThroughTheWriteLock(t *testing.T) {
	pong := make(chan string, 1)
	srv := startServer(t, func(sc *ServerConn) {
		if !accept(t, sc) {
			return
		}
		sc.ws.SetPongHandler(func(data string) error { pong <- data; return nil })
		_ = sc.ws.WriteControl(websocket.PingMessage, []byte("hi"), time.Now().Add(time.Second))
		_, _ = sc.ReadFrame()
	})
	dial(t, srv, nil)
	if got := recv(t, pong, "pong"); got != "hi" {
		t.Errorf("pong payload %q", got)
	}
}

func TestTooManyPendingRequests(t *testing.T) {
	srv := startServer(t, func(sc *ServerConn) {
		if !accept(t, sc) {
			return
		}
		for { // never replies
			if _, err := sc.ReadFrame(); err != nil {
				return
			}
		}
	})
	c := dial(t, srv, func(cfg *Config) { cfg.MaxPendingRequests = 2; cfg.RequestTimeout = 5 * time.Second })
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { _, _ = c.Request(ctx, "/register", nil) })
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		n := len(c.pending)
		c.mu.Unlock()
		if n == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := c.Request(ctx, "/register", nil); !errors.Is(err, ErrTooManyRequests) {
		t.Errorf("third request: %v", err)
	}
	cancel()
	wg.Wait()
}
