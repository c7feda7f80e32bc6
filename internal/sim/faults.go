package sim

import (
	"fmt"
	"maps"

	"github.com/go-stomp/stomp/v3/frame"
	"github.com/sirupsen/logrus"
)

// Faults are switches that make the simulator misbehave the way a real
// server can, to test the agent's reactions (docs/protocol.md §9, §11.4).
// Counts say how many times a fault applies and go down as it does; -1
// applies it until cleared.
type Faults struct {
	// Host limits the per-host faults (heartbeat, registration, replies)
	// to one host name; "" applies them to every host.
	Host string `json:"host,omitempty"`
	// HeartbeatIDZero answers heartbeats with {"status":"OK","id":0}, the
	// server's "please register" reply; the agent restarts.
	HeartbeatIDZero int `json:"heartbeatIdZero,omitempty"`
	// RegistrationFailure answers /register with exitstatus 1 and
	// RegistrationFailureLog (or a default text).
	RegistrationFailure    int    `json:"registrationFailure,omitempty"`
	RegistrationFailureLog string `json:"registrationFailureLog,omitempty"`
	// RefuseConnections answers the STOMP connect frame with ERROR
	// "Connection not allowed", as a full registration queue does.
	RefuseConnections int `json:"refuseConnections,omitempty"`
	// RegistrationQueueSize, when > 0, overrides the scenario's
	// registration queue size (the throttle).
	RegistrationQueueSize int `json:"registrationQueueSize,omitempty"`
	// ErrorReplies answers requests to a destination with the server's
	// error wrapper (no status, no id); DropReplies sends no reply at all
	// (the agent's request times out). Keyed by destination, e.g.
	// {"/agents/configs": 1}.
	ErrorReplies map[string]int `json:"errorReplies,omitempty"`
	DropReplies  map[string]int `json:"dropReplies,omitempty"`
}

func (f *Faults) appliesTo(host string) bool { return f.Host == "" || f.Host == host }

// SetFaults replaces the fault switches.
func (s *Server) SetFaults(f Faults) {
	f.ErrorReplies = maps.Clone(f.ErrorReplies)
	f.DropReplies = maps.Clone(f.DropReplies)
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
	s.log.WithFields(logrus.Fields{"faults": f}).Warn("fault switches set")
}

// Faults returns the current switches with their remaining counts.
func (s *Server) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.faults
	f.ErrorReplies = maps.Clone(f.ErrorReplies)
	f.DropReplies = maps.Clone(f.DropReplies)
	return f
}

type replyFault int

const (
	faultNone replyFault = iota
	faultDrop
	faultError
)

// replyFault consumes a reply fault for a request; mu held.
func (s *Server) replyFault(dest, host string) replyFault {
	f := &s.faults
	if !f.appliesTo(host) {
		return faultNone
	}
	if take(f.DropReplies, dest) {
		return faultDrop
	}
	if take(f.ErrorReplies, dest) {
		return faultError
	}
	return faultNone
}

func take(counts map[string]int, dest string) bool {
	n := counts[dest]
	switch {
	case n == 0:
		return false
	case n > 0:
		if n == 1 {
			delete(counts, dest)
		} else {
			counts[dest] = n - 1
		}
	}
	return true
}

// rawMessage marks a queued frame whose body is written as it is, as one
// WebSocket message without STOMP framing (SendRaw).
const rawMessage = "\x00raw"

// SendRaw writes message to the host's session as one WebSocket text
// message, exactly as given: a way to send malformed frames, bodies that
// are not JSON, or anything else a broken server might send. It is queued
// behind the frames already waiting for the session.
func (s *Server) SendRaw(hostName string, message []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.m.hosts[hostName]
	if h == nil {
		return fmt.Errorf("send raw to %s: %w", hostName, ErrUnknownHost)
	}
	if h.session == nil {
		return fmt.Errorf("send raw to %s: %w", hostName, ErrNotConnected)
	}
	f := frame.New(rawMessage)
	f.Body = append([]byte(nil), message...)
	if !h.session.enqueue(f) {
		return fmt.Errorf("send raw to %s: session closed", hostName)
	}
	return nil
}
