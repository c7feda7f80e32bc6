package stompws

import (
	"bytes"
	"errors"
	"testing"

	"github.com/go-stomp/stomp/v3/frame"
)

// FuzzDecoder feeds arbitrary server bytes to the inbound decoder, as one
// WebSocket message or cut in two at split. It must never panic or loop,
// never return a body above its limit, and every MESSAGE, RECEIPT or ERROR
// frame it returns must survive our encoder and decode again to the same
// command and body.
func FuzzDecoder(f *testing.F) {
	for _, s := range []string{
		msgA,
		msgB,
		"\n" + msgA + "\r\n\n" + msgB + "\n",
		"CONNECTED\nversion:1.2\nheart-beat:0,0\n\n\x00",
		"ERROR\nmessage:Connection not allowed\ncontent-length:3\n\nbad\x00",
		"MESSAGE\ndestination:/user/\ncontent-length:99999999\n\nx\x00",
		"MESSAGE\ndestination:/a\\cb\\nc\\\\\ncontent-length:-1\n\n\x00",
		"MESSAGE\r\ndestination:/events/topologies\r\n\r\n{}\x00",
		"\x00\x00\n\r\nBOGUS\n\n\x00",
		"MESSAGE\ndestination\n\nno colon\x00",
		"MESSAGE\ndestination:/a\ncontent-length:2\n\nabc\x00",
	} {
		f.Add([]byte(s), uint16(len(s)/2))
	}
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		const limit = 1 << 10
		d := newDecoder(limit)
		cut := 0
		if len(data) > 0 {
			cut = int(split) % (len(data) + 1)
		}
		var frames []*frame.Frame
	feed:
		for _, chunk := range [][]byte{data[:cut], data[cut:]} {
			if err := d.readMessage(bytes.NewReader(chunk)); err != nil {
				t.Fatalf("readMessage: %v", err)
			}
			for i := 0; ; i++ {
				if i > len(data)+2 {
					t.Fatalf("decoder loops: %d results from %d bytes", i, len(data))
				}
				fr, err := d.next()
				if err != nil {
					var fe *FrameError
					if errors.As(err, &fe) && fe.Skipped {
						continue
					}
					break feed
				}
				if fr == nil {
					break
				}
				if len(fr.Body) > limit {
					t.Fatalf("body of %d bytes passed a %d-byte limit", len(fr.Body), limit)
				}
				frames = append(frames, fr)
			}
		}
		for _, fr := range frames {
			switch fr.Command {
			case frame.MESSAGE, frame.RECEIPT, frame.ERROR:
			default:
				continue // dropped by the client; CONNECTED is never escaped
			}
			buf, err := newEncoder().encode(fr)
			if err != nil {
				continue // not every decoded header can be written back
			}
			d2 := newDecoder(limit)
			buf = buf[wsMaxHeader:] // the WebSocket header's headroom
			if err := d2.readMessage(bytes.NewReader(buf)); err != nil {
				t.Fatal(err)
			}
			again, err := d2.next()
			if err != nil || again == nil {
				t.Fatalf("re-encoded %q does not decode: %v", buf, err)
			}
			if again.Command != fr.Command || !bytes.Equal(again.Body, fr.Body) {
				t.Fatalf("round trip changed %s %q into %s %q", fr.Command, fr.Body, again.Command, again.Body)
			}
		}
	})
}
