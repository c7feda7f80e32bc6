package stompws

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
)

// Bytes the server sends reach the log quoted: an unknown command name
// and an ERROR body carrying terminal escape sequences cannot recolour or
// rewrite the operator's terminal, nor forge a log line.
func TestNetworkBytesAreQuotedInTheLog(t *testing.T) {
	logger, _ := test.NewNullLogger()
	lines := make(chan string, 64)
	logger.AddHook(lineHook(lines))
	sent := make(chan struct{})
	srv := startServer(t, func(sc *ServerConn) {
		if !accept(t, sc) {
			return
		}
		_ = sc.WriteMessage([]byte("\x1b[2J\x1b[31mEVIL\nx:y\n\n\x00"))
		_ = sc.WriteMessage([]byte("ERROR\nmessage:m\n\nboom\x1b[0m\nINFO forged line\x00"))
		close(sent)
		_, _ = sc.ReadFrame() // until the client goes away
	})
	dial(t, srv, func(c *Config) { c.Log = logrus.NewEntry(logger) })
	recv(t, sent, "frames sent")
	var msgs []string
	for len(msgs) < 2 {
		m := recv(t, lines, "the log lines about the two frames")
		if strings.Contains(m, "EVIL") || strings.Contains(m, "boom") {
			msgs = append(msgs, m)
		}
	}
	for _, m := range msgs {
		if strings.ContainsAny(m, "\x1b\n") {
			t.Errorf("raw network bytes in the log: %q", m)
		}
	}
	if !strings.Contains(msgs[0], `"\x1b[2J\x1b[31mEVIL"`) {
		t.Errorf("command name not quoted: %q", msgs[0])
	}
	if !bytes.Contains([]byte(msgs[1]), []byte(`"boom\x1b[0m\nINFO forged line"`)) {
		t.Errorf("ERROR body not quoted: %q", msgs[1])
	}
}

// lineHook passes every log message to a channel (without blocking).
type lineHook chan string

func (h lineHook) Levels() []logrus.Level { return logrus.AllLevels }

func (h lineHook) Fire(e *logrus.Entry) error {
	select {
	case h <- e.Message:
	default:
	}
	return nil
}
