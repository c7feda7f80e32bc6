package cache

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrInvalidEvent is wrapped by every error Apply returns for an event it
// rejects. The cache is unchanged after such an error; the caller acks a
// pushed event with status ERROR or, during registration, starts over.
var ErrInvalidEvent = errors.New("invalid cache event")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidEvent}, args...)...)
}

// Event types of topology, metadata and alert-definition events.
const (
	EventCreate = "CREATE"
	EventUpdate = "UPDATE"
	EventDelete = "DELETE"
)

// clusterSet is the content of a cache or of an event's "clusters": cluster
// id -> cluster object, plus the ids in document order. The order matters
// because the Python agent hands "the first cluster" of configurations and
// host-level params to its recovery manager.
type clusterSet struct {
	ids []string
	m   map[string]map[string]any
}

func (s clusterSet) clone() clusterSet {
	out := clusterSet{ids: make([]string, len(s.ids), len(s.ids)+1), m: make(map[string]map[string]any, len(s.m)+1)}
	copy(out.ids, s.ids)
	for k, v := range s.m {
		out.m[k] = v
	}
	return out
}

// put sets a cluster, keeping the position of an existing id.
func (s *clusterSet) put(id string, v map[string]any) {
	if _, ok := s.m[id]; !ok {
		s.ids = append(s.ids, id)
	}
	s.m[id] = v
}

func (s *clusterSet) remove(id string) {
	if _, ok := s.m[id]; !ok {
		return
	}
	delete(s.m, id)
	for i, e := range s.ids {
		if e == id {
			s.ids = append(s.ids[:i:i], s.ids[i+1:]...)
			break
		}
	}
}

// message is a decoded event body. Only the top level is decoded eagerly;
// "clusters" is decoded in document order when needed.
type message struct {
	top map[string]json.RawMessage
}

func decodeMessage(body []byte) (*message, error) {
	if !json.Valid(body) {
		return nil, invalid("body is not valid JSON")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil || top == nil {
		return nil, invalid("body is not a JSON object")
	}
	return &message{top: top}, nil
}

func (m *message) empty() bool { return len(m.top) == 0 }

// field decodes a top-level key; missing is the error when it is absent.
func (m *message) field(key, missing string) (any, error) {
	raw, ok := m.top[key]
	if !ok {
		return nil, invalid("%s", missing)
	}
	v, err := decodeValue(raw)
	if err != nil {
		return nil, invalid("%s: %v", key, err)
	}
	return v, nil
}

// takeTimestamp removes the configs "timestamp" field, which the server
// always sends (also in the unchanged reply {"timestamp": N}).
func (m *message) takeTimestamp() (int64, error) {
	v, err := m.field("timestamp", "configurations event without timestamp")
	if err != nil {
		return 0, err
	}
	raw := m.top["timestamp"]
	delete(m.top, "timestamp")
	ts, ok := asInt64(v)
	if !ok {
		return 0, invalid("timestamp %s is not an integer", raw)
	}
	return ts, nil
}

// eventType returns the event type. A missing key is an error; a non-string
// value comes back as "" and is then ignored like any unknown type.
func (m *message) eventType() (string, error) {
	v, err := m.field("eventType", "event without eventType")
	s, _ := v.(string)
	return s, err
}

func (m *message) hash() (string, error) {
	v, err := m.field("hash", "event carries data but no hash")
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", invalid("hash %s is not a string", m.top["hash"])
	}
	return s, nil
}

func (m *message) clusters() (clusterSet, error) {
	raw, ok := m.top["clusters"]
	if !ok {
		return clusterSet{}, invalid("event carries no clusters")
	}
	s, err := decodeClusters(raw)
	if err != nil {
		return clusterSet{}, invalid("clusters: %v", err)
	}
	return s, nil
}

func decodeValue(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// decodeClusters decodes a JSON object of cluster objects keeping the key
// order. A duplicate key keeps its first position and its last value, as
// Python's json module does.
func decodeClusters(raw []byte) (clusterSet, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return clusterSet{}, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return clusterSet{}, errors.New("not a JSON object")
	}
	s := clusterSet{m: map[string]map[string]any{}}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return clusterSet{}, err
		}
		id, _ := tok.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return clusterSet{}, err
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return clusterSet{}, fmt.Errorf("cluster %q is not a JSON object", id)
		}
		s.put(id, obj)
	}
	if _, err := dec.Token(); err != nil {
		return clusterSet{}, err
	}
	return s, nil
}
