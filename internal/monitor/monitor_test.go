package monitor

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/liveness"
	"github.com/ambari-go/ambari-agent/internal/sdnotify"
	"github.com/ambari-go/ambari-agent/internal/testutil"
)

// systemd is a fake NOTIFY_SOCKET.
type systemd struct {
	t    *testing.T
	conn *net.UnixConn
	path string
}

func newSystemd(t *testing.T) *systemd {
	path := filepath.Join(t.TempDir(), "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &systemd{t: t, conn: c, path: path}
}

// next returns the next datagram.
func (s *systemd) next() string {
	s.t.Helper()
	buf := make([]byte, 4096)
	s.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	n, err := s.conn.Read(buf)
	if err != nil {
		s.t.Fatalf("no notification: %v", err)
	}
	return string(buf[:n])
}

// queued returns the datagrams already delivered, without waiting: a
// notification is in the socket's buffer once Notify has returned.
func (s *systemd) queued() []string {
	var out []string
	buf := make([]byte, 4096)
	for {
		s.conn.SetReadDeadline(time.Now())
		n, err := s.conn.Read(buf)
		if err != nil {
			return out
		}
		out = append(out, string(buf[:n]))
	}
}

// expect reads datagrams until one contains want; it fails on one
// containing any of forbidden first.
func (s *systemd) expect(want string, forbidden ...string) string {
	s.t.Helper()
	for {
		msg := s.next()
		for _, f := range forbidden {
			if strings.Contains(msg, f) {
				s.t.Fatalf("got %q before %q", msg, want)
			}
		}
		if strings.Contains(msg, want) {
			return msg
		}
	}
}

func getHealth(t *testing.T, url string) (int, Health) {
	t.Helper()
	resp, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h Health
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, h
}

// TestStalledPartStopsWatchdogAndFailsHealthz: a part that stops making
// progress past its bound turns /healthz 503 (naming it and why) and stops
// the WATCHDOG=1 pings; once it beats again both recover. Time is a fake
// clock; the refresh ticks are sent by the test.
func TestStalledPartStopsWatchdogAndFailsHealthz(t *testing.T) {
	clock := testutil.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	reg := liveness.New(clock.Now)
	link, hb := reg.Part("server link", time.Minute), reg.Part("heartbeat sending", 30*time.Second)
	loop := reg.Part("status loop", 10*time.Second)
	loop.Beat()
	sd := newSystemd(t)
	m := New(Config{
		Liveness:  reg,
		Notifier:  sdnotify.New(sd.path),
		Watchdog:  20 * time.Second,
		StateFile: filepath.Join(t.TempDir(), "agent.state.json"),
		Base:      State{Pid: 1, Version: "1.0"},
		Now:       clock.Now,
	}, link, hb)
	ticks := make(chan time.Time)
	m.ticks = ticks
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx, l); close(done) }()
	defer func() { cancel(); <-done }()

	sd.expect("WATCHDOG=1")
	m.Registered("c6401.ambari.apache.org")
	if msg := sd.expect("READY=1"); !strings.Contains(msg, "STATUS=registered with c6401.ambari.apache.org") {
		t.Errorf("READY without the summary: %q", msg)
	}
	if code, h := getHealth(t, url); code != 200 || !h.Healthy || len(h.Parts) != 3 {
		t.Fatalf("healthy agent: %d %+v", code, h)
	}

	// The status loop makes no progress for longer than its bound.
	clock.Add(11 * time.Second)
	hb.Beat() // the other parts are fine
	link.Idle()
	ticks <- clock.Now()
	sd.expect("STALLED: status loop", "WATCHDOG=1")
	code, h := getHealth(t, url)
	if code != http.StatusServiceUnavailable || h.Healthy {
		t.Fatalf("stalled agent answered %d healthy=%v", code, h.Healthy)
	}
	for _, p := range h.Parts {
		if (p.Name == "status loop") != p.Stalled {
			t.Errorf("part %s stalled=%v", p.Name, p.Stalled)
		}
		if p.Name == "status loop" && !strings.Contains(p.Reason, "no progress for 11s (bound 10s)") {
			t.Errorf("reason %q", p.Reason)
		}
	}
	// More ticks while stalled: no ping. The unbuffered channel makes each
	// send wait until the previous tick was handled.
	ticks <- clock.Now()
	ticks <- clock.Now()
	ticks <- clock.Now()
	for _, msg := range sd.queued() {
		if strings.Contains(msg, "WATCHDOG") {
			t.Fatalf("watchdog fed while stalled: %q", msg)
		}
	}
	st, err := ReadState(m.cfg.StateFile)
	if err != nil || len(liveness.Stalled(st.Parts)) != 1 {
		t.Fatalf("state file while stalled: %v %+v", err, st)
	}

	// It recovers.
	loop.Beat()
	ticks <- clock.Now()
	sd.expect("WATCHDOG=1")
	if code, _ := getHealth(t, url); code != 200 {
		t.Fatalf("recovered agent answered %d", code)
	}

	cancel()
	<-done
	sd.expect("STOPPING=1")
}
