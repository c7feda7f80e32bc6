package alerts

import (
	"net"
	"regexp"
	"strconv"
	"sync"
	"testing"

	"github.com/ambari-go/ambari-agent/internal/pyvalue"
)

// listen opens a loopback listener that accepts and optionally answers.
func listen(t *testing.T, addr string, answer func(req string) string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1) // the accept loop, so handler Adds never race with Wait
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				if answer == nil {
					return
				}
				buf := make([]byte, 64)
				n, _ := c.Read(buf)
				c.Write([]byte(answer(string(buf[:n]))))
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln
}

func portOf(ln net.Listener) string { return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port) }

var portOKText = regexp.MustCompile(`^TCP OK - 0\.\d{4} response on port \d+$`)

func TestPortListenerCloseReopen(t *testing.T) {
	e := newEnv(t, nil)
	ln := listen(t, "127.0.0.1:0", nil)
	port := portOf(ln)
	e.cfgs.setTypes("2", map[string]map[string]any{"zoo.cfg": {"clientPort": port}})
	d := def(1, "zookeeper_server_process", 1, map[string]any{
		"type": "PORT", "uri": "{{zoo.cfg/clientPort}}", "default_port": 2181,
		"reporting": map[string]any{
			"ok":       map[string]any{"text": "TCP OK - {0:.3f}s response on port {1}"},
			"warning":  map[string]any{"text": "TCP OK - {0:.3f}s response on port {1}", "value": 1.5},
			"critical": map[string]any{"text": "Connection failed: {0} to {1}:{2}", "value": 5.0},
		},
	})

	r := e.evalDef("127.0.0.1", d)
	if r.State != StateOK || !regexp.MustCompile(`^TCP OK - 0\.\d{3}s response on port `+port+`$`).MatchString(r.Text) {
		t.Fatalf("open port: %+v", r)
	}
	if r.ClusterID != "2" || r.DefinitionID != 1 || r.Name != "zookeeper_server_process" || r.Timestamp == 0 {
		t.Fatalf("result record: %+v", r)
	}

	ln.Close()
	r = e.evalDef("127.0.0.1", d)
	if r.State != StateCritical || r.Text != "Connection failed: [Errno 111] Connection refused to 127.0.0.1:"+port {
		t.Fatalf("closed port: %+v", r)
	}

	listen(t, "127.0.0.1:"+port, nil)
	r = e.evalDef("127.0.0.1", d)
	if r.State != StateOK {
		t.Fatalf("reopened port: %+v", r)
	}
}

func TestPortDefaultTextsAndHostSelection(t *testing.T) {
	e := newEnv(t, nil)
	ln := listen(t, "127.0.0.1:0", nil)
	port := portOf(ln)
	e.cfgs.setTypes("2", map[string]map[string]any{"site": {
		"list":      "otherhost:1,127.0.0.1:" + port + ",third:3",
		"localhost": "localhost:" + port,
		"zeros":     "0.0.0.0:" + port,
		"noport":    "127.0.0.1",
	}})
	cases := []struct {
		uri       any
		defPort   any
		wantState string
		wantText  *regexp.Regexp
	}{
		{"{{site/list}}", nil, StateOK, portOKText},
		{"{{site/localhost}}", nil, StateOK, portOKText},
		{"{{site/zeros}}", nil, StateOK, portOKText},
		{"http://127.0.0.1:" + port + "/path", nil, StateOK, portOKText},
		{port, nil, StateOK, portOKText},
		{"{{site/missing}}", port, StateOK, portOKText},
		// Python quirk kept: the UNKNOWN result has one argument, but PORT's
		// default text for non-OK states needs three.
		{"{{site/noport}}", nil, StateUnknown, regexp.MustCompile(`^There is a problem with the alert definition: Replacement index 1 out of range for positional args tuple$`)},
		{"{{site/noport}}", port, StateOK, portOKText},
	}
	for _, c := range cases {
		src := map[string]any{"type": "PORT", "uri": c.uri}
		if c.defPort != nil {
			src["default_port"] = c.defPort
		}
		r := e.evalDef("127.0.0.1", def(1, "p", 1, src))
		if r.State != c.wantState || !c.wantText.MatchString(r.Text) {
			t.Errorf("uri %v default %v: got %s %q", c.uri, c.defPort, r.State, r.Text)
		}
	}
}

func TestPortSocketCommand(t *testing.T) {
	e := newEnv(t, nil)
	ln := listen(t, "127.0.0.1:0", func(req string) string {
		if req == "ruok" {
			return "imok"
		}
		return "what?"
	})
	port := portOf(ln)
	mk := func(cmd, resp string) map[string]any {
		return def(1, "zk", 1, map[string]any{"type": "PORT", "uri": "127.0.0.1:" + port,
			"parameters": []any{
				map[string]any{"name": "socket.command", "value": cmd},
				map[string]any{"name": "socket.command.response", "value": resp},
			}})
	}
	if r := e.evalDef("127.0.0.1", mk("ruok", "imok")); r.State != StateOK {
		t.Fatalf("ruok: %+v", r)
	}
	r := e.evalDef("127.0.0.1", mk("stat", "imok"))
	if r.State != StateCritical || r.Text != "Connection failed: Expected response imok, Actual response what? to 127.0.0.1:"+port {
		t.Fatalf("wrong answer: %+v", r)
	}
}

func TestPortThresholds(t *testing.T) {
	mk := func(warn, crit any) *portCheck {
		t.Helper()
		src, _ := pyvalue.ParseJSON([]byte(`{"type":"PORT","reporting":{"warning":{"value":` + pyJSONText(warn) +
			`},"critical":{"value":` + pyJSONText(crit) + `}}}`))
		c, err := newPortCheck(src.(*pyvalue.Dict))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cases := []struct {
		warn, crit         any
		wantWarn, wantCrit float64
	}{
		{1.5, 5.0, 1.5, 5.0},
		{int64(2), int64(10), 2, 10},
		{30.0, 29.9, 1.5, 29.9},
		{int64(45), int64(60), 1.5, 5.0},
	}
	for _, c := range cases {
		pc := mk(c.warn, c.crit)
		if pc.warning != c.wantWarn || pc.critical != c.wantCrit {
			t.Errorf("warning %v critical %v: got %v/%v, want %v/%v", c.warn, c.crit, pc.warning, pc.critical, c.wantWarn, c.wantCrit)
		}
	}
}

func pyJSONText(v any) string { return string(pyvalue.AppendJSON(nil, v)) }

func TestPortTimeoutIsCritical(t *testing.T) {
	// The server accepts but never answers the command: the read hits the
	// critical timeout.
	e := newEnv(t, nil)
	block := make(chan struct{})
	ln := listen(t, "127.0.0.1:0", func(string) string { <-block; return "" })
	t.Cleanup(func() { close(block) }) // runs before the listener's cleanup
	port := portOf(ln)
	r := e.evalDef("127.0.0.1", def(1, "p", 1, map[string]any{"type": "PORT", "uri": "127.0.0.1:" + port,
		"parameters": []any{map[string]any{"name": "socket.command", "value": "ruok"}},
		"reporting":  map[string]any{"critical": map[string]any{"value": 0.3}}}))
	if r.State != StateCritical || r.Text != "Connection failed: timed out to 127.0.0.1:"+port {
		t.Fatalf("got %+v", r)
	}
}
