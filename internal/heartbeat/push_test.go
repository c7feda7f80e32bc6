package heartbeat

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/ambari-go/ambari-agent/internal/protocol"
	"github.com/ambari-go/ambari-agent/internal/sim"
)

// A commands push reaches the queue with its messageId; an empty or null
// push on /user/commands or /events/encryption_key is acknowledged OK and
// logged, and never reaches the handlers.
func TestEmptyPushesAreLoggedAndCommandsGetTheMessageID(t *testing.T) {
	logger, hook := test.NewNullLogger()
	ids := make(chan string, 8)
	h := newHarness(t, func(c *Config) {
		c.Log = logrus.NewEntry(logger)
		c.Commands = func(id string, body []byte) error { ids <- id; return nil }
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := h.sim.WaitReady(ctx, "hb-host"); err != nil {
		t.Fatal(err)
	}
	since := h.sim.LastSeq()
	for _, m := range []string{
		"MESSAGE\ndestination:/user/commands\nsubscription:s\nmessage-id:a\nmessageId:501\n\nnull\x00",
		"MESSAGE\ndestination:/user/commands\nsubscription:s\nmessage-id:b\nmessageId:502\n\n \n\x00",
		"MESSAGE\ndestination:/events/encryption_key\nsubscription:s\nmessage-id:c\nmessageId:503\n\nnull\x00",
		"MESSAGE\ndestination:/user/commands\nsubscription:s\nmessage-id:d\nmessageId:504\n\n{\"clusters\":{}}\x00",
	} {
		if err := h.sim.SendRaw("hb-host", []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case id := <-ids:
		if id != "504" {
			t.Fatalf("Commands got message %q, want only 504", id)
		}
	case <-ctx.Done():
		t.Fatal("the commands message never reached Commands")
	}
	for _, id := range []string{"501", "502", "503", "504"} {
		r, err := h.sim.WaitRecord(ctx, sim.Query{Host: "hb-host", Destination: protocol.ReportsResponses, Since: since}, func(r sim.Record) bool {
			var ack protocol.MessageAck
			return r.Decode(&ack) == nil && ack.MessageID == id
		})
		if err != nil {
			t.Fatalf("message %s not acknowledged: %v", id, err)
		}
		var ack protocol.MessageAck
		r.Decode(&ack)
		if ack.Status != protocol.StatusOK {
			t.Errorf("message %s acknowledged %+v", id, ack)
		}
	}
	if len(ids) != 0 {
		t.Errorf("an empty message reached Commands")
	}
	var empty []string
	for _, e := range hook.AllEntries() {
		if strings.HasPrefix(e.Message, "Ignoring an empty message on ") {
			empty = append(empty, e.Message)
		}
	}
	if len(empty) != 3 {
		t.Errorf("log lines about empty messages: %q, want 3", empty)
	}
	// Only the key broadcast at registration.
	if n := h.count(func() int { return len(h.keys) }); n != 1 {
		t.Errorf("%d encryption keys received, want 1", n)
	}
}
