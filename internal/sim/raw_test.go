package sim

import (
	"bytes"
	"crypto/tls"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// rawConn is a WebSocket to the simulator that speaks STOMP by hand, for
// what a well-behaved client cannot do.
type rawConn struct {
	t  *testing.T
	ws *websocket.Conn
}

func dialRaw(t *testing.T, s *testSim) (*rawConn, *http.Response) {
	t.Helper()
	d := websocket.Dialer{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, Subprotocols: []string{"http-only", "chat"}}
	ws, resp, err := d.Dial(s.StompURL(), http.Header{"Origin": {"wss://elsewhere:1"}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { ws.Close() })
	return &rawConn{t: t, ws: ws}, resp
}

func (c *rawConn) write(frame string) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		c.t.Fatal(err)
	}
}

// read returns the next frame (one per WebSocket text message, as the
// simulator writes them).
func (c *rawConn) read() string {
	c.t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(waitTimeout))
	typ, b, err := c.ws.ReadMessage()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	if typ != websocket.TextMessage || !bytes.HasSuffix(b, []byte{0}) {
		c.t.Fatalf("message type %d %q: want one text message per NUL-terminated frame", typ, b)
	}
	return string(b)
}

func TestRawStompConversation(t *testing.T) {
	s := startSim(t, testScenario())
	c, resp := dialRaw(t, s)
	if resp.StatusCode != 101 || resp.Header.Get("Sec-Websocket-Protocol") != "" || !strings.EqualFold(resp.Header.Get("Connection"), "upgrade") {
		t.Errorf("handshake: %d %v; want 101, Connection: upgrade and no subprotocol", resp.StatusCode, resp.Header)
	}
	// Frames before CONNECT are refused.
	c.write("SEND\ndestination:/register\n\n{}\x00")
	if f := c.read(); !strings.HasPrefix(f, "ERROR\n") {
		t.Errorf("SEND before CONNECT answered %q", f)
	}

	c, _ = dialRaw(t, s)
	c.write("CONNECT\naccept-version:1.2\nhost:0\n\n\x00")
	if f := c.read(); f != "CONNECTED\nversion:1.2\nheart-beat:0,0\n\n\x00" {
		t.Errorf("CONNECTED frame %q", f)
	}
	c.write("SUBSCRIBE\nack:client-individual\ndestination:/user/\nid:sub\n\n\x00")
	c.write("SUBSCRIBE\nack:client-individual\ndestination:/user/commands\nid:sub\n\n\x00")
	// A malformed frame is dropped; the session goes on.
	c.write("SEND\nno colon here\n\n{}\x00")
	c.write("SEND\ncontent-length:9\ncorrelationId:4\ndestination:/heartbeat\n\n{\"id\": 3}\x00")
	f := c.read()
	for _, want := range []string{"MESSAGE\n", "\ndestination:/user/\n", "\ncorrelationId:4\n", "\nsubscription:sub\n", "\nmessage-id:", "\ncontent-type:application/json\n", `{"status":"OK","id":0}`} {
		if !strings.Contains(f, want) {
			t.Errorf("heartbeat reply %q lacks %q", f, want)
		}
	}
	// A SEND without correlationId gets a reply without one.
	c.write("SEND\ndestination:/agents/metadata\n\n{\"hash\":null}\x00")
	if f := c.read(); strings.Contains(f, "correlationId") || !strings.Contains(f, `"eventType":"CREATE"`) {
		t.Errorf("reply to a SEND without correlationId: %.200q", f)
	}
	c.write("DISCONNECT\nreceipt:r-1\n\n\x00")
	if f := c.read(); f != "RECEIPT\nreceipt-id:r-1\n\n\x00" {
		t.Errorf("receipt %q", f)
	}
	_ = c.ws.SetReadDeadline(time.Now().Add(waitTimeout))
	if _, _, err := c.ws.ReadMessage(); err == nil {
		t.Error("connection still open after DISCONNECT")
	}
}
