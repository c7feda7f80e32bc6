package orchestrator

import (
	"encoding/json"
	"math"
	"strconv"
)

// Commands are JSON objects decoded into map[string]any. Numbers may arrive
// as json.Number (decoder with UseNumber, as the caches do) or float64; both
// are accepted everywhere.

// copyValue returns a private, JSON-shaped copy of v: nested maps and slices
// are copied, typed string maps and lists (from the cache's typed views)
// become map[string]any and []any.
func copyValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		if t == nil {
			return map[string]any(nil)
		}
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = copyValue(e)
		}
		return out
	case []any:
		if t == nil {
			return []any(nil)
		}
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = copyValue(e)
		}
		return out
	case map[string]string:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = e
		}
		return out
	case []string:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = e
		}
		return out
	default:
		return v
	}
}

func copyMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	return copyValue(m).(map[string]any)
}

// asMap returns v as an object, nil when it is not one.
func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// child returns m[key] as an object, nil when absent or not an object.
func child(m map[string]any, key string) map[string]any {
	if m == nil {
		return nil
	}
	return asMap(m[key])
}

// pyStr renders a scalar the way Python's str() would for the values the
// agent formats into names and messages (task ids, cluster ids).
func pyStr(v any) string {
	switch t := v.(type) {
	case nil:
		return "None"
	case string:
		return t
	case json.Number:
		return t.String()
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1<<53 {
			return strconv.FormatInt(int64(t), 10)
		}
		return strconv.FormatFloat(t, 'g', -1, 64)
	case int:
		return strconv.Itoa(t)
	case int64:
		return strconv.FormatInt(t, 10)
	case bool:
		if t {
			return "True"
		}
		return "False"
	default:
		b, _ := json.Marshal(t)
		return string(b)
	}
}

// stringOf returns v when it is a string.
func stringOf(v any) (string, bool) {
	s, ok := v.(string)
	return s, ok
}

// intOf parses an integer given as a JSON number or a decimal string (the
// server sends command_timeout as a string), like Python's int().
func intOf(v any) (int64, bool) {
	switch t := v.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i, true
		}
		return 0, false
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1<<63 {
			return int64(t), true
		}
		return 0, false
	case int:
		return int64(t), true
	case int64:
		return t, true
	case string:
		i, err := strconv.ParseInt(trimPySpace(t), 10, 64)
		return i, err == nil
	default:
		return 0, false
	}
}

func trimPySpace(s string) string {
	start, end := 0, len(s)
	for start < end && isPySpace(s[start]) {
		start++
	}
	for end > start && isPySpace(s[end-1]) {
		end--
	}
	return s[start:end]
}

func isPySpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\v' || b == '\f'
}

// truthy is Python's truth value of a JSON value. The credential store flag
// is tested this way, so the string "false" counts as true, as in the Python
// agent.
func truthy(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case bool:
		return t
	case string:
		return t != ""
	case json.Number:
		f, err := t.Float64()
		return err != nil || f != 0
	case float64:
		return t != 0
	case map[string]any:
		return len(t) > 0
	case []any:
		return len(t) > 0
	default:
		return true
	}
}
