package actionqueue

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/ambari-go/ambari-agent/internal/protocol"
	"github.com/ambari-go/ambari-agent/internal/pyvalue"
)

// nullValue replaces a missing clusterId or serviceName, as the Python
// agent's put() does.
const nullValue = protocol.NullValue

// command is a queued command: the decoded JSON handed to the orchestrator
// plus its header, decoded once.
type command struct {
	// raw is the command as received (numbers as json.Number). The queue
	// owns it; only the retry loop writes to it, between attempts.
	raw map[string]any
	protocol.CommandHeader
	// taskKey is TaskID's decimal text (file names, orchestrator
	// bookkeeping).
	taskKey string
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
	h := &c.CommandHeader
	h.CommandType, _ = raw["commandType"].(string)
	id, ok := pyvalue.Integral(raw["taskId"])
	if !ok {
		return nil, fmt.Errorf("%s command has no integer taskId", h.CommandType)
	}
	h.TaskID = id
	c.taskKey = strconv.FormatInt(id, 10)
	// One spelling of the task id from here on, whatever the source used.
	raw["taskId"] = json.Number(c.taskKey)

	// Python substitutes "null" only for a missing key; a JSON null is
	// substituted too here, because reports carry these as strings.
	if s, ok := scalarText(raw["clusterId"]); ok {
		h.ClusterID = s
	} else {
		h.ClusterID = nullValue
	}
	raw["clusterId"] = h.ClusterID
	if s, ok := raw["serviceName"].(string); ok {
		h.ServiceName = s
	} else {
		h.ServiceName = nullValue
		raw["serviceName"] = nullValue
	}
	h.Role, _ = raw["role"].(string)
	h.RoleCommand, _ = raw["roleCommand"].(string)
	h.CommandID = raw["commandId"]
	h.RequestID, _ = pyvalue.Integral(raw["requestId"])
	h.TopLevelCustomCommand, _ = raw["custom_command"].(string)
	params, _ := raw["commandParams"].(map[string]any)
	h.CustomCommand, _ = params["custom_command"].(string)
	retry, _ := params["command_retry_enabled"].(string)
	h.RetryEnabled = retry == "true"
	// Python's int() would raise and the command would never report; an
	// unreadable budget means one attempt.
	h.MaxDurationForRetries, _ = pyvalue.Integral(params["max_duration_for_retries"])
	return c, nil
}

// scalarText is str(v) for a string or a number, the types a clusterId
// comes in.
func scalarText(v any) (string, bool) {
	switch v.(type) {
	case string, json.Number, float64, int, int64:
		return pyvalue.Str(v), true
	}
	return "", false
}

// commandsEvent is a decoded /user/commands push: the cancels and commands
// of all clusters in message order.
type commandsEvent struct {
	cancels  []protocol.CancelCommand
	commands []map[string]any
	// rejected are the entries that cannot run, in message order.
	rejected []rejectedEntry
}

// rejectedEntry is one entry of a commands message that the agent cannot
// run. The rest of the message runs regardless: a server defect that hits
// one entry must not stall the valid ones (the Python agent queues the
// entries before a bad one and loses those after it).
type rejectedEntry struct {
	clusterID string
	// raw is the entry when it is an object (its identity feeds the FAILED
	// report), nil otherwise.
	raw map[string]any
	err error
}

// objectFields are the command fields the agent and the scripts read as
// objects; stringFields those read as strings. A command with one of them
// of another JSON type cannot be run faithfully, so it is refused whole.
var (
	objectFields = []string{"commandParams", "roleParams", "hostLevelParams", "clusterLevelParams",
		"agentLevelParams", "configurations", "configurationAttributes"}
	stringFields = []string{"role", "roleCommand", "serviceName"}
)

// checkEntry decodes one entry of a commands message and says why it
// cannot run, if it cannot. m is the entry when it is a JSON object.
func checkEntry(raw json.RawMessage) (m map[string]any, err error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("command is not valid JSON: %w", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("command is %s, not a JSON object", jsonKind(v))
	}
	if _, ok := pyvalue.Integral(m["taskId"]); !ok {
		return m, fmt.Errorf("command has no integer taskId (taskId is %s)", jsonKind(m["taskId"]))
	}
	v, present := m["commandType"]
	typ, ok := v.(string)
	switch {
	case !present:
		return m, errors.New("command has no commandType")
	case !ok:
		return m, fmt.Errorf("commandType is %s, not a string", jsonKind(v))
	case typ == protocol.StatusCommand:
		// Status checks are the agent's own work, scheduled from the
		// topology; the server does not push them to this agent version.
		return m, fmt.Errorf("command type %s is not run when pushed on %s", typ, protocol.UserCommands)
	case !isExecutionType(typ):
		return m, fmt.Errorf("unknown command type %q", typ)
	}
	for _, k := range objectFields {
		if v, present := m[k]; present && v != nil {
			if _, ok := v.(map[string]any); !ok {
				return m, fmt.Errorf("%s is %s, not an object", k, jsonKind(v))
			}
		}
	}
	for _, k := range stringFields {
		if v, present := m[k]; present && v != nil {
			if _, ok := v.(string); !ok {
				return m, fmt.Errorf("%s is %s, not a string", k, jsonKind(v))
			}
		}
	}
	return m, nil
}

// jsonKind names the JSON type of a decoded value, for error texts that
// must not carry the value itself.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return "a string"
	case json.Number, float64:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}

// decodeCommandsEvent decodes a commands push (docs/protocol.md §5.1). The
// clusters are walked in message order, as Python's dict iteration does, so
// the commands of one message run in the order the server sent them.
// requiredConfigTimestamp is copied into every command. An error means the
// message as a whole is unreadable (not an object, clusters or a cluster's
// commands of the wrong type); a single bad entry is only rejected.
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
			return nil, fmt.Errorf("decode commands event: cluster %q: %w", clusterID, err)
		}
		ev.cancels = append(ev.cancels, cl.CancelCommands...)
		for _, rc := range cl.Commands {
			m, err := checkEntry(rc)
			if err != nil {
				ev.rejected = append(ev.rejected, rejectedEntry{clusterID: clusterID, raw: m, err: err})
				continue
			}
			if ts != nil {
				m["requiredConfigTimestamp"] = ts
			}
			ev.commands = append(ev.commands, m)
		}
	}
	return ev, nil
}
