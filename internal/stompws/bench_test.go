package stompws

import (
	"context"
	"io"
	"testing"

	"github.com/go-stomp/stomp/v3/frame"
)

// A small report, the size of a heartbeat or an ack.
var benchBody = []byte(`{"messageId": "17", "status": "OK"}`)

// BenchmarkRequest measures request/response round trips on one link:
// SEND, the server's reply on /user/, and the match by correlationId.
func BenchmarkRequest(b *testing.B) {
	c := dial(b, startServer(b, echoBroker(b, nil)), nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Request(ctx, "/heartbeat", benchBody); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkRequestParallel has several goroutines waiting for replies at
// once, as the agent's reporters do.
func BenchmarkRequestParallel(b *testing.B) {
	c := dial(b, startServer(b, echoBroker(b, nil)), nil)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Request(ctx, "/reports/host_status", benchBody); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkSend measures fire-and-forget SENDs. The server only discards
// what it reads, so the allocations reported are the client's own.
func BenchmarkSend(b *testing.B) {
	rs := startRawServer(b)
	conns, rc := dialRaw(b, rs)
	rc.acceptRaw(b)
	c := recv(b, conns, "Dial")
	go func() { _, _ = io.Copy(io.Discard, rc.br) }()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Send(ctx, "/reports/responses", benchBody); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

// BenchmarkSendWithReplies is BenchmarkSend against a server that answers
// every SEND as Ambari does; the client reads and drops those replies.
// Allocations include the in-process server's.
func BenchmarkSendWithReplies(b *testing.B) {
	c := dial(b, startServer(b, echoBroker(b, nil)), nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Send(ctx, "/reports/responses", benchBody); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

// BenchmarkDecode measures the inbound decoder on a typical reply frame.
func BenchmarkDecode(b *testing.B) {
	e := newEncoder()
	msg, _ := e.encode(reply(frame.New(frame.SEND, "correlationId", "12345"), benchBody))
	raw := string(msg[wsMaxHeader:])
	d := newDecoder(0)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if err := d.readMessage(stringReader(raw)); err != nil {
			b.Fatal(err)
		}
		if f, err := d.next(); f == nil || err != nil {
			b.Fatal(f, err)
		}
	}
}

type stringReaderT struct {
	s string
	i int
}

func stringReader(s string) *stringReaderT { return &stringReaderT{s: s} }

func (r *stringReaderT) Read(p []byte) (int, error) {
	if r.i == len(r.s) {
		return 0, io.EOF
	}
	n := copy(p, r.s[r.i:])
	r.i += n
	return n, nil
}
