package actionqueue

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/ambari-go/ambari-agent/internal/protocol"
)

// nullValue replaces a missing clusterId or serviceName, as the Python
// agent's put() does.
const nullValue = "null"

// command is a queued command: the decoded JSON handed to the orchestrator
// plus the fields the queue itself needs, extracted once.
type command struct {
	// raw is the command as received (numbers as json.Number). The queue
	// owns it; only the retry loop writes to it, between attempts.
	raw map[string]any
	typ string
	// taskID identifies the task; taskKey is its decimal text (file names,
	// orchestrator bookkeeping).
	taskID  int64
	taskKey string
	// actionID is commandId as received: a string from the server, a
	// number from the recovery manager.
	actionID    any
	clusterID   string
	serviceName string
	role        string
	roleCommand string
	// parallel is commandParams.command_retry_enabled == "true", which
	// decides whether parallel mode runs the command on its own goroutine.
	parallel bool
}

// isExecutionType reports whether a command type is run by the queue.
func isExecutionType(t string) bool {
	switch t {
	case protocol.ExecutionCommand, protocol.AutoExecutionCommand, protocol.BackgroundExecutionCommand:
		return true
	}
	return false
}

// newCommand normalises a decoded command (docs/behaviour.md §5.1) and extracts
// its identity. The map becomes the command's.
func newCommand(raw map[string]any) (*command, error) {
	if raw == nil {
		return nil, errors.New("command is not a JSON object")
	}
	c := &command{raw: raw}
	c.typ, _ = raw["commandType"].(string)
	id, ok := intOf(raw["taskId"])
	if !ok {
		return nil, fmt.Errorf("%s command has no integer taskId", c.typ)
	}
	c.taskID = id
	c.taskKey = strconv.FormatInt(id, 10)
	// One spelling of the task id from here on, whatever the source used.
	raw["taskId"] = json.Number(c.taskKey)

	// Python substitutes "null" only for a missing key; a JSON null is
	// substituted too here, because reports carry these as strings.
	if s, ok := scalarText(raw["clusterId"]); ok {
		c.clusterID = s
	} else {
		c.clusterID = nullValue
	}
	raw["clusterId"] = c.clusterID
	if s, ok := raw["serviceName"].(string); ok {
		c.serviceName = s
	} else {
		c.serviceName = nullValue
		raw["serviceName"] = nullValue
	}
	c.role, _ = raw["role"].(string)
	c.roleCommand, _ = raw["roleCommand"].(string)
	c.actionID = raw["commandId"]
	c.parallel = commandParam(raw, "command_retry_enabled") == "true"
	return c, nil
}

// commandParam returns commandParams[key] when it is a string.
func commandParam(raw map[string]any, key string) string {
	p, _ := raw["commandParams"].(map[string]any)
	s, _ := p[key].(string)
	return s
}

// hasCommandParam reports whether commandParams has key.
func hasCommandParam(raw map[string]any, key string) bool {
	p, _ := raw["commandParams"].(map[string]any)
	_, ok := p[key]
	return ok
}

// scalarText renders a string or number the way Python's str() would.
func scalarText(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case json.Number:
		return t.String(), true
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1<<53 {
			return strconv.FormatInt(int64(t), 10), true
		}
		return strconv.FormatFloat(t, 'g', -1, 64), true
	case int:
		return strconv.Itoa(t), true
	case int64:
		return strconv.FormatInt(t, 10), true
	}
	return "", false
}

// intOf parses an integer given as a JSON number or a decimal string, like
// Python's int().
func intOf(v any) (int64, bool) {
	switch t := v.(type) {
	case json.Number:
		i, err := t.Int64()
		return i, err == nil
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1<<62 {
			return int64(t), true
		}
	case int:
		return int64(t), true
	case int64:
		return t, true
	case string:
		i, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
		return i, err == nil
	}
	return 0, false
}

// commandsEvent is a decoded /user/commands push: the cancels and commands
// of all clusters in message order.
type commandsEvent struct {
	cancels  []protocol.CancelCommand
	commands []map[string]any
}

// decodeCommandsEvent decodes a commands push (docs/protocol.md §5.1). The
// clusters are walked in message order, as Python's dict iteration does, so
// the commands of one message run in the order the server sent them.
// requiredConfigTimestamp is copied into every command.
func decodeCommandsEvent(body []byte) (*commandsEvent, error) {
	var top struct {
		RequiredConfigTimestamp json.RawMessage `json:"requiredConfigTimestamp"`
		Clusters                json.RawMessage `json:"clusters"`
	}
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, fmt.Errorf("decode commands event: %w", err)
	}
	var ts any
	if len(top.RequiredConfigTimestamp) > 0 && !bytes.Equal(top.RequiredConfigTimestamp, []byte("null")) {
		var n json.Number
		if err := json.Unmarshal(top.RequiredConfigTimestamp, &n); err != nil {
			return nil, fmt.Errorf("decode commands event: requiredConfigTimestamp: %w", err)
		}
		ts = n
	}
	ev := &commandsEvent{}
	if len(top.Clusters) == 0 || bytes.Equal(top.Clusters, []byte("null")) {
		return ev, nil
	}
	dec := json.NewDecoder(bytes.NewReader(top.Clusters))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("decode commands event: clusters is not an object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("decode commands event: %w", err)
		}
		clusterID, _ := tok.(string)
		var cl struct {
			Commands       []json.RawMessage        `json:"commands"`
			CancelCommands []protocol.CancelCommand `json:"cancelCommands"`
		}
		if err := dec.Decode(&cl); err != nil {
			return nil, fmt.Errorf("decode commands event: cluster %s: %w", clusterID, err)
		}
		ev.cancels = append(ev.cancels, cl.CancelCommands...)
		for _, rc := range cl.Commands {
			cd := json.NewDecoder(bytes.NewReader(rc))
			cd.UseNumber()
			var m map[string]any
			if err := cd.Decode(&m); err != nil {
				return nil, fmt.Errorf("decode commands event: cluster %s: command: %w", clusterID, err)
			}
			if m == nil {
				return nil, fmt.Errorf("decode commands event: cluster %s: command is null", clusterID)
			}
			if ts != nil {
				m["requiredConfigTimestamp"] = ts
			}
			ev.commands = append(ev.commands, m)
		}
	}
	return ev, nil
}
