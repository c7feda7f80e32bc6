package stompws

import (
	"crypto/tls"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// SplitFrames lets the simulator prove that every frame of an agent came
// as one WebSocket message.
func TestServerCountsFramesSpreadOverMessages(t *testing.T) {
	got := make(chan uint64, 1)
	srv := startServer(t, func(sc *ServerConn) {
		for i := 0; i < 3; i++ {
			if _, err := sc.ReadFrame(); err != nil {
				t.Error(err)
				return
			}
		}
		got <- sc.SplitFrames()
	})
	d := websocket.Dialer{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	ws, _, err := d.Dial(wsURL(srv), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	whole := "SEND\ndestination:/a\n\nbody\x00"
	two := "SEND\ndestination:/b\n\nx\x00SEND\ndestination:/c\n\ny\x00"
	for _, m := range []string{whole, two[:10], two[10:]} {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case n := <-got:
		if n != 1 {
			t.Fatalf("SplitFrames = %d, want 1 (only /b was cut in two)", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("server read nothing")
	}
}
