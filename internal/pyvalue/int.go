package pyvalue

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"unicode"
)

// Int is int(v): bools, ints, floats (truncated toward zero; NaN and the
// infinities fail) and decimal strings as ParseInt reads them.
func Int(v any) (int64, bool) {
	switch t := v.(type) {
	case int64:
		return t, true
	case int:
		return int64(t), true
	case json.Number:
		return Int(From(t))
	case string:
		return ParseInt(t)
	}
	f, ok := Number(v) // bool or float
	if !ok || math.IsNaN(f) || math.Abs(f) >= 1<<63 {
		return 0, false
	}
	return int64(f), true
}

// Integral is Int for the values that name an id, a count or a timeout in a
// command: a number without a fraction or a decimal string. Deliberate
// difference: Python's int() would truncate 2.5 and take True as 1, and a
// command carrying either is a server defect the agent reports rather than
// guesses at.
func Integral(v any) (int64, bool) {
	switch t := v.(type) {
	case bool:
		return 0, false
	case float64:
		if t != math.Trunc(t) {
			return 0, false
		}
	case json.Number:
		f, ok := From(t).(float64)
		if ok && f != math.Trunc(f) {
			return 0, false
		}
	}
	return Int(v)
}

// ParseInt is int(s) for a str: surrounding whitespace, an optional sign and
// single underscores between digits ("1_000"). Python also takes non-ASCII
// decimal digits; no server writes them.
func ParseInt(s string) (int64, bool) {
	s = strings.TrimFunc(s, unicode.IsSpace)
	body := strings.TrimLeft(s, "+-")
	if len(s)-len(body) > 1 || body == "" || body[0] == '_' || body[len(body)-1] == '_' ||
		strings.Contains(body, "__") {
		return 0, false
	}
	if !IsDigits(strings.ReplaceAll(body, "_", "")) {
		return 0, false
	}
	n, err := strconv.ParseInt(s[:len(s)-len(body)]+strings.ReplaceAll(body, "_", ""), 10, 64)
	return n, err == nil
}

// IsDigits is str.isdigit() for ASCII text: at least one character, all of
// them 0-9.
func IsDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
