package stompws

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/go-stomp/stomp/v3/frame"
)

// feed gives the decoder each chunk as one WebSocket message and collects
// every frame and error it yields.
func feed(t *testing.T, d *decoder, chunks ...string) (frames []*frame.Frame, errs []error) {
	t.Helper()
	for _, c := range chunks {
		if err := d.readMessage(strings.NewReader(c)); err != nil {
			t.Fatalf("readMessage: %v", err)
		}
		for {
			f, err := d.next()
			if err != nil {
				errs = append(errs, err)
				var fe *FrameError
				if errors.As(err, &fe) && fe.Skipped {
					continue
				}
				return frames, errs
			}
			if f == nil {
				break
			}
			frames = append(frames, f)
		}
	}
	return frames, errs
}

func splitEvery(s string, n int) []string {
	var out []string
	for len(s) > n {
		out = append(out, s[:n])
		s = s[n:]
	}
	return append(out, s)
}

const (
	msgA = "MESSAGE\ndestination:/user/commands\nmessageId:7\n\n{\"a\": 1}\x00"
	msgB = "MESSAGE\ndestination:/user/\ncorrelationId:3\ncontent-length:5\n\nab\x00cd\x00"
)

func TestDecoderReassemblesSplitAndPackedFrames(t *testing.T) {
	stream := "\n" + msgA + "\r\n\n" + msgB + "\n"
	cases := map[string][]string{
		"one frame per message": {"\n", msgA, "\r\n\n", msgB, "\n"},
		"all packed in one":     {stream},
		"byte by byte":          splitEvery(stream, 1),
		"7-byte pieces":         splitEvery(stream, 7),
		"cut inside CRLF":       {"\n" + msgA + "\r", "\n\n" + msgB + "\n"},
	}
	for name, chunks := range cases {
		t.Run(name, func(t *testing.T) {
			frames, errs := feed(t, newDecoder(0), chunks...)
			if len(errs) > 0 {
				t.Fatalf("errors: %v", errs)
			}
			if len(frames) != 2 {
				t.Fatalf("got %d frames, want 2", len(frames))
			}
			a, b := frames[0], frames[1]
			if a.Command != "MESSAGE" || a.Header.Get("destination") != "/user/commands" ||
				a.Header.Get("messageId") != "7" || string(a.Body) != `{"a": 1}` {
				t.Errorf("first frame wrong: %s %v %q", a.Command, a.Header, a.Body)
			}
			if string(b.Body) != "ab\x00cd" || b.Header.Get("correlationId") != "3" {
				t.Errorf("content-length frame wrong: %v %q", b.Header, b.Body)
			}
		})
	}
}

func TestDecoderHeaderRules(t *testing.T) {
	in := "MESSAGE\r\n" +
		"destination:/events/x\\cy\r\n" +
		"k:a\\nb\\\\c\\rd\n" +
		"k:second\n" +
		"empty:\n" +
		"\n\x00" +
		"CONNECTED\nversion:1.2\nodd:a\\qb\n\n\x00" +
		"MESSAGE\nnote:content-length\ncontent-length:3\ncontent-length:1\n\na\x00b\x00"
	frames, errs := feed(t, newDecoder(0), in)
	if len(errs) > 0 || len(frames) != 3 {
		t.Fatalf("frames %d errs %v", len(frames), errs)
	}
	h := frames[0].Header
	if got := h.Get("destination"); got != "/events/x:y" {
		t.Errorf("\\c not unescaped: %q", got)
	}
	if got := h.Get("k"); got != "a\nb\\c\rd" {
		t.Errorf("first occurrence must win, unescaped: %q", got)
	}
	if v, ok := h.Contains("empty"); !ok || v != "" {
		t.Errorf("empty value: %q %v", v, ok)
	}
	if len(frames[0].Body) != 0 {
		t.Errorf("body %q", frames[0].Body)
	}
	// STOMP 1.2: CONNECTED headers are taken literally.
	if got := frames[1].Header.Get("odd"); got != `a\qb` {
		t.Errorf("CONNECTED header was unescaped: %q", got)
	}
	// The first content-length counts, and only as a header name.
	if got := string(frames[2].Body); got != "a\x00b" {
		t.Errorf("content-length body %q", got)
	}
}

func TestDecoderSkipsMalformedFramesAndGoesOn(t *testing.T) {
	cases := map[string]string{
		"header line without colon": "MESSAGE\ndestination /x\n\nbody\x00",
		"header with empty name":    "MESSAGE\n:value\n\n\x00",
		"undefined escape":          "MESSAGE\ndestination:/a\\tb\n\n\x00",
		"escape at end of value":    "MESSAGE\ndestination:/a\\\n\n\x00",
		"bad content-length":        "MESSAGE\ncontent-length:12x\n\nbody\x00",
		"negative content-length":   "MESSAGE\ncontent-length:-1\n\n\x00",
		"NUL inside the head":       "MESSAGE\ndestination:/x\x00",
		"NUL after the command":     "GARBAGE\x00",
	}
	for name, bad := range cases {
		t.Run(name, func(t *testing.T) {
			frames, errs := feed(t, newDecoder(0), bad+msgA)
			if len(errs) != 1 {
				t.Fatalf("want one error, got %v", errs)
			}
			var fe *FrameError
			if !errors.As(errs[0], &fe) || !fe.Skipped {
				t.Fatalf("want a skipped-frame error, got %v", errs[0])
			}
			if len(frames) != 1 || frames[0].Header.Get("messageId") != "7" {
				t.Fatalf("the good frame after the bad one was not delivered: %v", frames)
			}
		})
	}
}

func TestDecoderFatalErrors(t *testing.T) {
	cases := []struct {
		name     string
		in       string
		max      int
		tooLarge bool
	}{
		{"content-length over the limit", "MESSAGE\ncontent-length:1001\n\n", 1000, true},
		{"body over the limit without NUL", "MESSAGE\n\n" + strings.Repeat("x", 1001), 1000, true},
		{"header section over the limit", "MESSAGE\n" + strings.Repeat("h:v\n", maxHeadBytes/4+1), 0, true},
		{"no NUL where content-length says", "MESSAGE\ncontent-length:2\n\nabc\x00", 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newDecoder(tc.max)
			_, errs := feed(t, d, tc.in)
			if len(errs) != 1 {
				t.Fatalf("want one error, got %v", errs)
			}
			var fe *FrameError
			if !errors.As(errs[0], &fe) || fe.Skipped {
				t.Fatalf("want a fatal FrameError, got %v", errs[0])
			}
			if errors.Is(errs[0], ErrFrameTooLarge) != tc.tooLarge {
				t.Errorf("errors.Is(ErrFrameTooLarge) = %v, want %v (%v)", !tc.tooLarge, tc.tooLarge, errs[0])
			}
			// The decoder stays broken: the stream cannot be resynchronised.
			if _, err := d.next(); err == nil {
				t.Error("decoder recovered from a fatal error")
			}
		})
	}
}

func TestDecoderRefusesHugeContentLengthWithoutAllocating(t *testing.T) {
	d := newDecoder(DefaultMaxFrameSize)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, errs := feed(t, d, "MESSAGE\ncontent-length:4000000000\n\n", "x")
	runtime.ReadMemStats(&after)
	if len(errs) != 1 || !errors.Is(errs[0], ErrFrameTooLarge) {
		t.Fatalf("want ErrFrameTooLarge, got %v", errs)
	}
	if !strings.Contains(errs[0].Error(), "content-length 4000000000 exceeds") {
		t.Errorf("error does not say why: %v", errs[0])
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("refusing the frame allocated %d bytes", grew)
	}
}

func TestDecoderReleasesBigBuffer(t *testing.T) {
	d := newDecoder(0)
	big := "MESSAGE\n\n" + strings.Repeat("x", 2<<20) + "\x00"
	if frames, errs := feed(t, d, big); len(frames) != 1 || len(errs) != 0 {
		t.Fatalf("frames %d errs %v", len(frames), errs)
	}
	feed(t, d, msgA)
	if cap(d.buf) > keepBufCap {
		t.Errorf("decoder keeps a %d-byte buffer after a big frame", cap(d.buf))
	}
}

func TestEncoderWritesAmbariFrames(t *testing.T) {
	e := newEncoder()
	f := frame.New(frame.SEND, "content-length", "9", "correlationId", "4", "destination", "/heartbeat")
	f.Body = []byte(`{"id": 3}`)
	buf, err := e.encode(f)
	if err != nil {
		t.Fatal(err)
	}
	want := "SEND\ncontent-length:9\ncorrelationId:4\ndestination:/heartbeat\n\n{\"id\": 3}\x00"
	if got := string(buf[wsMaxHeader:]); got != want {
		t.Errorf("encoded\n%q\nwant\n%q", got, want)
	}
	// Header values are escaped per STOMP 1.2 and decode back unchanged.
	f = frame.New(frame.MESSAGE, "destination", "/a:b\nc\\d\re")
	buf, _ = e.encode(f)
	if !bytes.Contains(buf, []byte(`destination:/a\cb\nc\\d\re`)) {
		t.Errorf("value not escaped: %q", buf[wsMaxHeader:])
	}
	frames, errs := feed(t, newDecoder(0), string(buf[wsMaxHeader:]))
	if len(errs) > 0 || frames[0].Header.Get("destination") != "/a:b\nc\\d\re" {
		t.Errorf("round trip: %v %v", frames, errs)
	}
}

func TestMaskedFrameIsOneFinalFrame(t *testing.T) {
	for _, n := range []int{0, 125, 126, 5 << 10, 65535, 65536, 1_900_000} {
		payload := bytes.Repeat([]byte("0123456789abcdef"), n/16+1)[:n]
		buf := append(make([]byte, wsMaxHeader), payload...)
		key := [4]byte{1, 2, 3, 4}
		wire := maskedFrame(buf, opText, key)
		if wire[0] != 0x81 {
			t.Fatalf("n=%d: first byte %#x, want FIN|text", n, wire[0])
		}
		if wire[1]&0x80 == 0 {
			t.Fatalf("n=%d: mask bit not set", n)
		}
		length, pos := int(wire[1]&0x7f), 2
		switch length {
		case 126:
			length, pos = int(binary.BigEndian.Uint16(wire[2:])), 4
		case 127:
			length, pos = int(binary.BigEndian.Uint64(wire[2:])), 10
		}
		if length != n || len(wire) != pos+4+n {
			t.Fatalf("n=%d: header says %d, frame is %d bytes", n, length, len(wire))
		}
		got := bytes.Clone(wire[pos+4:])
		for i := range got {
			got[i] ^= wire[pos+i%4]
		}
		if !bytes.Equal(got, payload) {
			t.Fatalf("n=%d: unmasked payload differs", n)
		}
	}
}
