package stompws

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/go-stomp/stomp/v3/frame"
)

// Ambari's application headers (docs/protocol.md §3, §7).
const (
	// HeaderCorrelationID is on every SEND and echoed on its reply.
	HeaderCorrelationID = "correlationId"
	// HeaderMessageID marks a pushed message the agent must acknowledge.
	// Not to be confused with STOMP's own "message-id".
	HeaderMessageID = "messageId"
)

const (
	// DefaultMaxFrameSize bounds the body of one inbound frame unless a
	// Config says otherwise. The server itself refuses frames above 2 MiB
	// (stomp.max_incoming.message.size) and the agent splits its largest
	// report below 1.95 MB, so 16 MiB leaves room without trusting the peer.
	DefaultMaxFrameSize = 16 << 20

	// maxHeadBytes bounds the command line plus the header lines of one
	// inbound frame. Ambari frames carry half a dozen short headers.
	maxHeadBytes = 64 << 10

	// wsMaxHeader is the largest client-side WebSocket frame header:
	// 2 bytes, 8 bytes of extended length and a 4-byte mask key. The encoder
	// keeps this much room in front of every frame so that the WebSocket
	// header can be put in place without copying the payload.
	wsMaxHeader = 14

	// keepBufCap is the largest buffer a codec keeps between frames; a
	// larger one, grown for a big frame, is released after use so that a
	// months-long connection does not hold on to its biggest message.
	keepBufCap = 256 << 10
)

// ErrFrameTooLarge is wrapped by a FrameError when an inbound frame's body
// or header section is larger than the configured limit.
var ErrFrameTooLarge = errors.New("frame too large")

// FrameError describes an inbound frame that could not be decoded.
type FrameError struct {
	// Reason says what was wrong, for the log.
	Reason string
	// Skipped means the bad frame could still be delimited (its NUL was
	// found) and was dropped; the stream can go on. When false the stream
	// cannot be resynchronised and the connection has to be closed.
	Skipped bool
	// Err is ErrFrameTooLarge when a limit was hit, else nil.
	Err error
}

func (e *FrameError) Error() string {
	if e.Skipped {
		return "malformed STOMP frame dropped: " + e.Reason
	}
	return "undecodable STOMP stream: " + e.Reason
}

func (e *FrameError) Unwrap() error { return e.Err }

// decoder cuts the byte stream made of the concatenated WebSocket messages
// into STOMP frames. It is not safe for concurrent use.
type decoder struct {
	buf     []byte // stream bytes; the current frame starts at off
	off     int
	maxBody int

	// Progress on the frame starting at off, kept so that a frame arriving
	// in many small messages is scanned once rather than once per message.
	// All positions are relative to off.
	scan    int          // where the next search for a delimiter resumes
	headEnd int          // start of the body; 0 while the head is incomplete
	head    *frame.Frame // the parsed command and headers
	bodyLen int          // content-length, or -1 when absent or unusable
	bad     string       // why the head is malformed; the frame is skipped at its NUL
	pairs   []string     // scratch for header names and values

	err error // a fatal error poisons the decoder for good
}

func newDecoder(maxBody int) *decoder {
	if maxBody <= 0 {
		maxBody = DefaultMaxFrameSize
	}
	return &decoder{maxBody: maxBody, bodyLen: -1}
}

// maxMessage is the WebSocket read limit that goes with this decoder: one
// maximal frame plus a little room for EOLs around it.
func (d *decoder) maxMessage() int64 {
	return int64(d.maxBody) + maxHeadBytes + 64
}

// readMessage appends one WebSocket message to the stream.
func (d *decoder) readMessage(r io.Reader) error {
	if d.off > 0 {
		n := copy(d.buf, d.buf[d.off:])
		d.buf = d.buf[:n]
		d.off = 0
	}
	if len(d.buf) == 0 && cap(d.buf) > keepBufCap {
		d.buf = nil
	}
	for {
		if len(d.buf) == cap(d.buf) {
			d.buf = slices.Grow(d.buf, 4096)
		}
		n, err := r.Read(d.buf[len(d.buf):cap(d.buf)])
		d.buf = d.buf[:len(d.buf)+n]
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// partial reports whether the stream holds the beginning of a frame that
// needs more bytes.
func (d *decoder) partial() bool { return len(d.buf) > d.off }

// next returns the next complete frame of the stream, or (nil, nil) when
// more bytes are needed. Heart-beats (EOLs between frames) are consumed
// silently. A *FrameError with Skipped set reports a dropped frame; any
// other error is final.
func (d *decoder) next() (*frame.Frame, error) {
	if d.err != nil {
		return nil, d.err
	}
	if d.headEnd == 0 {
		if !d.skipEOLs() {
			return nil, nil
		}
		end, err := d.findHeadEnd()
		if err != nil || end == 0 {
			return nil, err
		}
		if err := d.parseHead(end); err != nil {
			return nil, err
		}
	}
	return d.takeBody()
}

// skipEOLs drops the line ends STOMP allows between frames and reports
// whether a frame's first byte is in the buffer.
func (d *decoder) skipEOLs() bool {
	for d.off < len(d.buf) {
		switch d.buf[d.off] {
		case '\n':
			d.off++
		case '\r':
			if d.off+1 == len(d.buf) {
				return false // cannot tell a CRLF heart-beat yet
			}
			if d.buf[d.off+1] != '\n' {
				return true
			}
			d.off += 2
		default:
			return true
		}
	}
	return false
}

// findHeadEnd looks for the blank line that ends the header section and
// returns the offset just past it, or 0 when it is not in the buffer yet.
func (d *decoder) findHeadEnd() (int, error) {
	s := d.buf[d.off:]
	limit := min(len(s), maxHeadBytes+3)
	for i := d.scan; i < limit; i++ {
		switch s[i] {
		case 0:
			// A NUL before the end of the headers: the frame is delimited
			// but has no header section. Drop it and resynchronise.
			reason := fmt.Sprintf("frame %q ends before its header section", truncate(s[:i], 40))
			d.consume(i + 1)
			return 0, &FrameError{Reason: reason, Skipped: true}
		case '\n':
			if i+1 == len(s) {
				d.scan = i
				return 0, nil
			}
			if s[i+1] == '\n' {
				return i + 2, nil
			}
			if s[i+1] == '\r' {
				if i+2 == len(s) {
					d.scan = i
					return 0, nil
				}
				if s[i+2] == '\n' {
					return i + 3, nil
				}
			}
		}
	}
	if len(s) > maxHeadBytes {
		return 0, d.fail(fmt.Sprintf("header section longer than %d bytes", maxHeadBytes), ErrFrameTooLarge)
	}
	d.scan = len(s)
	return 0, nil
}

// parseHead decodes the command line and headers of the frame whose header
// section ends at end.
func (d *decoder) parseHead(end int) error {
	s := d.buf[d.off : d.off+end]
	nl := bytes.IndexByte(s, '\n')
	command := string(trimCR(s[:nl]))
	s = s[nl+1:]

	pairs := d.pairs[:0]
	// STOMP 1.2: CONNECT and CONNECTED headers are not escaped.
	escaped := command != frame.CONNECT && command != frame.CONNECTED
	bodyLen := -1
	bad := ""
	if command == "" {
		bad = "empty command line"
	}
	for bad == "" {
		nl = bytes.IndexByte(s, '\n')
		line := trimCR(s[:nl])
		s = s[nl+1:]
		if len(line) == 0 {
			break
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			bad = fmt.Sprintf("%q frame: header line %q has no name or no ':'", command, truncate(line, 40))
			break
		}
		name, ok1 := headerString(line[:colon], escaped, true)
		value, ok2 := headerString(line[colon+1:], escaped, false)
		if !ok1 || !ok2 {
			bad = fmt.Sprintf("%q frame: header line %q has an invalid escape sequence", command, truncate(line, 40))
			break
		}
		if name == frame.ContentLength {
			if !hasName(pairs, frame.ContentLength) {
				n, ok := parseContentLength(value)
				switch {
				case !ok:
					bad = fmt.Sprintf("%q frame: invalid content-length %q", command, truncate([]byte(value), 40))
				case n > d.maxBody:
					return d.fail(fmt.Sprintf("%q frame: content-length %d exceeds the limit of %d bytes", command, n, d.maxBody), ErrFrameTooLarge)
				default:
					bodyLen = n
				}
			}
		}
		pairs = append(pairs, name, value)
	}
	// NewHeader copies pairs into a slice of exactly the right size; the
	// scratch slice is kept for the next frame.
	f := &frame.Frame{Command: command, Header: frame.NewHeader(pairs...)}
	clear(pairs)
	d.pairs = pairs[:0]
	d.head, d.headEnd, d.scan, d.bad = f, end, end, bad
	if bad != "" {
		bodyLen = -1 // find the end of the bad frame by its NUL
	}
	d.bodyLen = bodyLen
	return nil
}

// takeBody completes the frame whose head has been parsed.
func (d *decoder) takeBody() (*frame.Frame, error) {
	s := d.buf[d.off:]
	var body []byte
	var next int
	if d.bodyLen >= 0 {
		need := d.headEnd + d.bodyLen + 1
		if len(s) < need {
			return nil, nil
		}
		if s[need-1] != 0 {
			return nil, d.fail(fmt.Sprintf("%q frame: no NUL after the %d-byte body announced by content-length", d.head.Command, d.bodyLen), nil)
		}
		body, next = s[d.headEnd:need-1], need
	} else {
		i := bytes.IndexByte(s[d.scan:], 0)
		if i < 0 {
			d.scan = len(s)
			if len(s)-d.headEnd > d.maxBody {
				return nil, d.fail(fmt.Sprintf("%q frame: body longer than %d bytes without a NUL", d.head.Command, d.maxBody), ErrFrameTooLarge)
			}
			return nil, nil
		}
		body, next = s[d.headEnd:d.scan+i], d.scan+i+1
	}
	f, bad := d.head, d.bad
	if len(body) > 0 && bad == "" {
		f.Body = bytes.Clone(body)
	}
	d.consume(next)
	if bad != "" {
		return nil, &FrameError{Reason: bad, Skipped: true}
	}
	return f, nil
}

// consume drops n bytes of the current frame and resets the per-frame state.
func (d *decoder) consume(n int) {
	d.off += n
	d.scan, d.headEnd, d.head, d.bodyLen, d.bad = 0, 0, nil, -1, ""
	if d.off == len(d.buf) {
		d.buf, d.off = d.buf[:0], 0
	}
}

func (d *decoder) fail(reason string, err error) error {
	d.err = &FrameError{Reason: reason, Err: err}
	d.buf, d.off = nil, 0
	return d.err
}

// hasName reports whether name is among the names of pairs (name, value, ...).
func hasName(pairs []string, name string) bool {
	for i := 0; i < len(pairs); i += 2 {
		if pairs[i] == name {
			return true
		}
	}
	return false
}

func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// parseContentLength accepts only plain decimal digits, as STOMP does.
func parseContentLength(s string) (int, bool) {
	if s == "" || len(s) > 10 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// headerString decodes a header name or value. Well-known names come back
// as constants so that decoding a frame does not allocate them again.
func headerString(b []byte, escaped, isName bool) (string, bool) {
	if isName {
		switch string(b) {
		case frame.Destination:
			return frame.Destination, true
		case frame.ContentLength:
			return frame.ContentLength, true
		case frame.ContentType:
			return frame.ContentType, true
		case frame.Subscription:
			return frame.Subscription, true
		case frame.MessageId:
			return frame.MessageId, true
		case HeaderCorrelationID:
			return HeaderCorrelationID, true
		case HeaderMessageID:
			return HeaderMessageID, true
		}
	}
	if !escaped || bytes.IndexByte(b, '\\') < 0 {
		return string(b), true
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i == len(b) {
			return "", false
		}
		switch b[i] {
		case 'r':
			out = append(out, '\r')
		case 'n':
			out = append(out, '\n')
		case 'c':
			out = append(out, ':')
		case '\\':
			out = append(out, '\\')
		default:
			// STOMP 1.2 makes undefined escapes a protocol error.
			return "", false
		}
	}
	return string(out), true
}

// encoder turns frames into the payload of one WebSocket message. The bytes
// are built in buf after wsMaxHeader bytes of headroom for the client-side
// WebSocket frame header. It is not safe for concurrent use.
type encoder struct {
	buf []byte
	w   *frame.Writer
}

func newEncoder() *encoder {
	e := &encoder{}
	// frame.Writer flushes its buffer at the end of every frame, so the
	// size only decides how often it calls appendTo.Write within one frame;
	// bodies larger than this bypass it.
	e.w = frame.NewWriterSize((*appendTo)(e), 512)
	return e
}

// appendTo lets frame.Writer append to the encoder's buffer.
type appendTo encoder

func (a *appendTo) Write(p []byte) (int, error) {
	a.buf = append(a.buf, p...)
	return len(p), nil
}

// encode returns the buffer holding wsMaxHeader bytes of headroom followed
// by the encoded frame including its trailing NUL. Headers are written in
// the order the frame holds them (Ambari clients send them sorted by key).
// The result is valid until the next call.
func (e *encoder) encode(f *frame.Frame) ([]byte, error) {
	if cap(e.buf) > keepBufCap {
		e.buf = nil
	}
	if e.buf == nil {
		e.buf = make([]byte, wsMaxHeader, 1024)
	}
	e.buf = e.buf[:wsMaxHeader]
	if err := e.w.Write(f); err != nil {
		return nil, fmt.Errorf("encode %s frame: %w", f.Command, err)
	}
	return e.buf, nil
}

// WebSocket opcodes we write ourselves.
const (
	opText  = 0x1
	opClose = 0x8
	opPong  = 0xA
)

// maskedFrame turns buf, as returned by encode, into one final (unfragmented)
// masked WebSocket frame: it writes the frame header into the headroom,
// masks the payload in place, and returns the bytes to put on the wire.
func maskedFrame(buf []byte, opcode byte, key [4]byte) []byte {
	payload := buf[wsMaxHeader:]
	n := len(payload)
	var h [wsMaxHeader]byte
	h[0] = 0x80 | opcode // FIN
	hl := 2
	switch {
	case n <= 125:
		h[1] = 0x80 | byte(n)
	case n <= 0xFFFF:
		h[1] = 0x80 | 126
		binary.BigEndian.PutUint16(h[2:], uint16(n))
		hl = 4
	default:
		h[1] = 0x80 | 127
		binary.BigEndian.PutUint64(h[2:], uint64(n))
		hl = 10
	}
	copy(h[hl:], key[:])
	hl += 4
	start := wsMaxHeader - hl
	copy(buf[start:], h[:hl])
	maskBytes(payload, key)
	return buf[start:]
}

// maskBytes applies the RFC 6455 mask, eight bytes at a time.
func maskBytes(b []byte, key [4]byte) {
	k := binary.LittleEndian.Uint32(key[:])
	k8 := uint64(k) | uint64(k)<<32
	i := 0
	for ; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], binary.LittleEndian.Uint64(b[i:])^k8)
	}
	for ; i < len(b); i++ {
		b[i] ^= key[i&3]
	}
}
