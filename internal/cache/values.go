package cache

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/ambari-go/ambari-agent/internal/pyvalue"
)

// Values inside the caches are what encoding/json produces with UseNumber:
// map[string]any, []any, string, bool, nil and json.Number. json.Number keeps
// the server's digits, so large ids and timestamps survive a round trip
// through the files exactly.

// shallowCopy copies one level of a map; the copy-on-write merges use it so
// that untouched sub-trees stay shared with the previous snapshot.
func shallowCopy(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+2)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// asInt64 accepts a JSON number with an integral value.
func asInt64(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	if i, err := n.Int64(); err == nil {
		return i, true
	}
	f, err := n.Float64()
	if err != nil || f != math.Trunc(f) || math.Abs(f) >= 1<<63 {
		return 0, false
	}
	return int64(f), true
}

// idKey normalises an id (hostId, definitionId, an element of hostIds) for
// equality the way Python compares them: 1 and 1.0 are the same id, the
// number 1 and the string "1" are not. Ids beyond int64 compare by their text.
func idKey(v any) (string, bool) {
	switch t := v.(type) {
	case json.Number:
		if canonicalInt(string(t)) {
			return string(t), true // the common case, without parsing or allocating
		}
		if i, ok := asInt64(t); ok {
			return strconv.FormatInt(i, 10), true
		}
		return "n" + string(t), true
	case string:
		return "s" + t, true
	}
	return "", false
}

// canonicalInt reports whether s is an integer written the one way
// strconv.FormatInt would write it.
func canonicalInt(s string) bool {
	digits := strings.TrimPrefix(s, "-")
	return pyvalue.IsDigits(digits) && (digits[0] != '0' || s == "0")
}

// viewText is the string a typed view holds for a JSON value: strings as
// is, numbers by their JSON text, booleans as true/false, null as "",
// objects and arrays as compact JSON. It is deliberately not Python's str()
// (internal/pyvalue): the Python agent keeps the JSON value itself, and the
// readers of these views compare with the JSON spelling ("true").
func viewText(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case json.Number:
		return string(t)
	case bool:
		return strconv.FormatBool(t)
	default:
		b, err := marshal(t, "")
		if err != nil {
			return ""
		}
		return string(b)
	}
}

// stringMap converts a JSON object of (normally) strings to map[string]string
// with viewText; null values are left out. A non-object gives nil.
func stringMap(v any) map[string]string {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, e := range m {
		if e == nil {
			continue
		}
		out[k] = viewText(e)
	}
	return out
}

// stringList keeps the string elements of a JSON array.
func stringList(v any) []string {
	l, _ := v.([]any)
	if l == nil {
		return nil
	}
	out := make([]string, 0, len(l))
	for _, e := range l {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// asBool accepts JSON true and, leniently, the string "true" in any case.
func asBool(v any) bool {
	switch t := v.(type) {
	case bool:
		return t
	case string:
		return strings.EqualFold(t, "true")
	}
	return false
}

// listOf returns a JSON array; absent or null counts as empty, anything else
// is an error the caller words.
func listOf(v any) ([]any, bool) {
	switch t := v.(type) {
	case nil:
		return nil, true
	case []any:
		return t, true
	}
	return nil, false
}

// marshal encodes without HTML escaping (config values are full of '<' and
// '&'), optionally indented, without the encoder's trailing newline.
func marshal(v any, indent string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if indent != "" {
		enc.SetIndent(indent, "  ")
	}
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
