// Package stompws carries STOMP 1.2 frames over a WebSocket, the way the Ambari
// agent and server talk (docs/protocol.md §1.4–1.9, §3).
//
// It owns both ends of the link:
//
//   - the client side used by the agent: [Dial] makes the TLS WebSocket
//     connection to /agent/stomp/v1, sends the STOMP connect frame and waits
//     for CONNECTED; [Conn.Subscribe], [Conn.Send] and [Conn.Request] carry
//     the traffic; replies on /user/ are matched to requests by their
//     correlationId header;
//   - minimal server-side primitives for the simulator: [Upgrade] and
//     [ServerConn] read and write whole frames and nothing more.
//
// It replaces the Python agent's ambari_stomp WsConnection/WsTransport, the
// ambari_ws4py client under it, AmbariStompConnection's correlation counter
// (security.py) and ServerResponsesListener's reply matching.
//
// A session, in the order of docs/protocol.md §2.1:
//
//	c, err := stompws.Dial(ctx, stompws.Config{URL: url, TLS: tlsCfg, Log: log})
//	c.Subscribe("/user/", 0, nil) // replies, consumed by Request
//	c.Subscribe("/user/agent_actions", 10, onAction)
//	reply, err := c.Request(ctx, "/register", body)
//	c.Send(ctx, "/reports/responses", ack) // fire and forget
//	<-c.Done() // the link died; c.Err() says why
//
// # Why not go-stomp's Conn
//
// We use go-stomp v3's frame package (frame.Frame, frame.Header,
// frame.Writer and the command/header constants) but not its stomp.Conn:
//
//   - the Ambari agent subscribes every destination with the same id "sub";
//     stomp.Conn routes MESSAGE frames by subscription id through a map, so a
//     second subscription with the same id silently replaces the first. We
//     route by the destination header instead, as the Python agent does;
//   - its subscription channels are bounded in messages only, so a flood
//     of large pushes is held in memory whole. Here each subscription has a
//     bounded queue drained by its own goroutine, and all queues share one
//     byte budget (see Flow control).
//
// Inbound frames are decoded by our own small decoder: go-stomp's
// frame.Reader trusts content-length and allocates that much before reading,
// and grows header lines without limit, so a broken or hostile server could
// make us allocate gigabytes. Our decoder refuses a content-length above the
// configured limit before allocating, bounds the header section, and treats
// the incoming WebSocket messages as one byte stream cut at NUL bytes
// (honouring content-length), so frames split across messages or packed
// several to a message are all delivered. Binary WebSocket messages are
// decoded exactly like text ones (as bytes); the Python agent cannot decode
// them, but nothing is gained by refusing them.
//
// Outbound frames are encoded with frame.Writer into a buffer and leave as
// exactly one WebSocket text message per frame, trailing NUL included
// (go-stomp would flush a frame larger than its 4 KiB buffer in several
// writes). On the client side the message is also a single unfragmented
// WebSocket frame, as the Python agent sends it: we frame and mask it
// ourselves and hand it to the TLS connection in one Write, because
// gorilla/websocket's client writer fragments messages larger than its write
// buffer.
//
// # Flow control
//
// A message waits in its subscription's queue, and counts against
// Config.MaxBufferedBytes (64 MiB by default, all subscriptions together)
// from the moment it is read until its handler returns. When its queue is
// full or the budget has no room for it, the reader holds it and stops
// reading: the socket's buffers fill and TCP slows the server down. Nothing
// is dropped and memory stays bounded (the budget, plus the one message in
// hand and one undecoded WebSocket message). The Python agent, like
// go-stomp, bounds its queues in messages only, so twenty 15 MiB
// configuration pushes are held at once.
//
// Replies travel on the same stream, so a paused reader delays them too.
// Handlers may Send while the reader is paused (writing needs only the
// write lock), and the pause ends as soon as they make room. A request
// whose reply is held up that way is not failed: time during which the
// reader was held back while handlers made progress does not count against
// its deadline. The agent's handlers (internal/heartbeat) apply a cache
// update, queue commands and acknowledge, so a heartbeat reply behind a
// flood of pushes is late by the time they take to drain the budget, and
// the session survives it.
//
// Only a handler that waits for something the reader must bring could hold
// the reader for good. The agent has one: a cache push that arrives while
// that cache is being requested at registration waits for the request's
// reply. Should such pushes fill the whole budget first, the handlers make
// no progress, the request times out, the session ends and the agent
// registers again, requesting every cache by hash: the stall lasts one
// request timeout and loses nothing.
//
// # Where we differ from the Python agent
//
//   - The connect frame carries heart-beat:0,0 explicitly (the Python client
//     omits the header, which means the same). There is no STOMP heart-beating
//     and no WebSocket ping from our side; a quiet link lives until either
//     peer closes it. Incoming heart-beats (a lone EOL) are tolerated.
//   - Request waits have a hard deadline, extended only while our own flow
//     control keeps the reply unread. The Python agent restarts its wait
//     whenever any reply arrives (docs/protocol.md §3.4).
//   - Pending requests fail at once when the connection dies instead of
//     waiting for their timeout, and sends on a dead connection fail fast.
package stompws
