package pyvalue

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Dict is a Python dict with string keys in insertion order.
type Dict struct {
	keys []string
	vals map[string]any
}

// NewDict returns an empty dict.
func NewDict() *Dict { return &Dict{vals: map[string]any{}} }

// Set stores v under k; a new key goes last.
func (d *Dict) Set(k string, v any) {
	if _, ok := d.vals[k]; !ok {
		d.keys = append(d.keys, k)
	}
	d.vals[k] = v
}

// Get returns the value under k and whether k is present.
func (d *Dict) Get(k string) (any, bool) {
	v, ok := d.vals[k]
	return v, ok
}

// Keys returns the keys in insertion order; the caller must not change it.
func (d *Dict) Keys() []string { return d.keys }

// Len is len(d).
func (d *Dict) Len() int { return len(d.keys) }

// From converts what encoding/json (with or without UseNumber) or Go code
// produces into the Python value model. Maps without an order get their keys
// sorted so texts are at least stable.
func From(v any) any {
	switch t := v.(type) {
	case nil, bool, int64, float64, string, *Dict:
		return t
	case int:
		return int64(t)
	case int32:
		return int64(t)
	case float32:
		return float64(t)
	case json.Number:
		return numberFromText(string(t))
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = From(e)
		}
		return out
	case []string, map[string]string:
		return From(DeepCopy(t))
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		d := &Dict{keys: keys, vals: make(map[string]any, len(t))}
		for _, k := range keys {
			d.vals[k] = From(t[k])
		}
		return d
	default:
		return fmt.Sprint(t)
	}
}

// numberFromText turns a JSON number literal into int64 (Python int) when it
// has no fraction or exponent, float64 otherwise. Integers beyond int64 fall
// back to float64 (Python would keep an exact int; such counters do not
// occur in practice).
func numberFromText(s string) any {
	if isIntLiteral(s) {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		// ParseFloat saturates to ±Inf with ErrRange, like Python's float().
		return f
	}
	return f
}

// TypeName is type(v).__name__.
func TypeName(v any) string {
	switch v.(type) {
	case nil:
		return "NoneType"
	case bool:
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []any:
		return "list"
	case *Dict:
		return "dict"
	}
	return fmt.Sprintf("%T", v)
}

// Str is str(v) for a Python value or a decoded JSON value: strings as
// they are, None/True/False, ints without a fraction, floats as Python
// prints them, lists and dicts as their repr.
func Str(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return Repr(v)
}

// Repr is repr(v).
func Repr(v any) string {
	var b strings.Builder
	writeRepr(&b, v)
	return b.String()
}

func writeRepr(b *strings.Builder, v any) {
	switch t := v.(type) {
	case nil:
		b.WriteString("None")
	case bool:
		if t {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case int64:
		b.WriteString(strconv.FormatInt(t, 10))
	case float64:
		b.WriteString(FloatRepr(t))
	case json.Number:
		// An integer literal prints as its digits, however long: Python's
		// int has no limit. Anything else is a float.
		if isIntLiteral(string(t)) {
			if i, err := strconv.ParseInt(string(t), 10, 64); err == nil {
				b.WriteString(strconv.FormatInt(i, 10))
			} else {
				b.WriteString(string(t))
			}
			return
		}
		writeRepr(b, From(t))
	case string:
		b.WriteString(StrRepr(t))
	case []any:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, e)
		}
		b.WriteByte(']')
	case *Dict:
		b.WriteByte('{')
		for i, k := range t.keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(StrRepr(k))
			b.WriteString(": ")
			writeRepr(b, t.vals[k])
		}
		b.WriteByte('}')
	case int, int32, float32, map[string]any, map[string]string, []string:
		writeRepr(b, From(t))
	default:
		fmt.Fprint(b, t)
	}
}

// isIntLiteral reports whether a JSON number literal has no fraction and no
// exponent.
func isIntLiteral(s string) bool { return !strings.ContainsAny(s, ".eE") }

// StrRepr follows Python 3's str.__repr__: single quotes unless the text
// holds a single quote and no double quote; printable non-ASCII kept.
func StrRepr(s string) string {
	quote := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		quote = '"'
	}
	var b strings.Builder
	b.WriteByte(quote)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			// Python strings never hold invalid UTF-8; show the byte.
			fmt.Fprintf(&b, "\\x%02x", s[i])
			i++
			continue
		}
		i += size
		switch {
		case r == rune(quote) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\x%02x", r)
		case r < 0x7f:
			b.WriteRune(r)
		case !unicode.IsPrint(r):
			writeEscape(&b, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(quote)
	return b.String()
}

// writeEscape writes r as Python escapes a character it does not print.
func writeEscape(b *strings.Builder, r rune) {
	switch {
	case r <= 0xff:
		fmt.Fprintf(b, "\\x%02x", r)
	case r <= 0xffff:
		fmt.Fprintf(b, "\\u%04x", r)
	default:
		fmt.Fprintf(b, "\\U%08x", r)
	}
}

// FloatRepr is repr(float): the shortest round-tripping digits, fixed
// notation for exponents in [-4, 16), at least one digit after the point.
func FloatRepr(f float64) string {
	return formatFloatPy(f, 'r', 0, true, false)
}

// Truthy is bool(v) for a Python value or a decoded JSON value. The string
// "false" is true, as in Python.
func Truthy(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case bool:
		return t
	case int64:
		return t != 0
	case int:
		return t != 0
	case float64:
		return t != 0
	case json.Number:
		return Truthy(From(t))
	case string:
		return t != ""
	case []any:
		return len(t) > 0
	case []string:
		return len(t) > 0
	case map[string]any:
		return len(t) > 0
	case map[string]string:
		return len(t) > 0
	case *Dict:
		return len(t.keys) > 0
	}
	return true
}

// Number returns v as a float64 when Python treats it as a number (bool,
// int, float).
func Number(v any) (float64, bool) {
	switch t := v.(type) {
	case bool:
		if t {
			return 1, true
		}
		return 0, true
	case int64:
		return float64(t), true
	case float64:
		return t, true
	}
	return 0, false
}

// TypeError is what Python raises for an ordering comparison between
// unrelated types (None included).
type TypeError struct{ msg string }

func (e *TypeError) Error() string { return e.msg }

// Compare evaluates `a op b` for op in <, <=, >, >= with Python 3 rules:
// numbers compare with numbers, strings with strings, anything else raises.
func Compare(a any, op string, b any) (bool, error) {
	if x, ok := Number(a); ok {
		if y, ok := Number(b); ok {
			// Exact comparison of two ints; float64 would lose precision.
			if ia, ok := a.(int64); ok {
				if ib, ok := b.(int64); ok {
					return cmpOrdered(ia, op, ib), nil
				}
			}
			return cmpOrdered(x, op, y), nil
		}
	}
	if x, ok := a.(string); ok {
		if y, ok := b.(string); ok {
			return cmpOrdered(x, op, y), nil
		}
	}
	return false, &TypeError{fmt.Sprintf("'%s' not supported between instances of '%s' and '%s'",
		op, TypeName(a), TypeName(b))}
}

func cmpOrdered[T int64 | float64 | string](a T, op string, b T) bool {
	switch op {
	case "<":
		return a < b
	case "<=":
		return a <= b
	case ">":
		return a > b
	default:
		return a >= b
	}
}

// Equal is Python ==: numbers by value across bool/int/float, otherwise
// same type and same content.
func Equal(a, b any) bool {
	if x, ok := Number(a); ok {
		if y, ok := Number(b); ok {
			return x == y
		}
		return false
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !Equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case *Dict:
		y, ok := b.(*Dict)
		if !ok || len(x.keys) != len(y.keys) {
			return false
		}
		for _, k := range x.keys {
			yv, ok := y.vals[k]
			if !ok || !Equal(x.vals[k], yv) {
				return false
			}
		}
		return true
	}
	return false
}

// AppendJSON encodes a Python value the way Python's json.dumps does,
// NaN and Infinity included (Python's json.loads accepts them). Dict order
// is kept.
func AppendJSON(buf []byte, v any) []byte {
	switch t := v.(type) {
	case nil:
		return append(buf, "null"...)
	case bool:
		return strconv.AppendBool(buf, t)
	case int64:
		return strconv.AppendInt(buf, t, 10)
	case float64:
		switch {
		case math.IsNaN(t):
			return append(buf, "NaN"...)
		case math.IsInf(t, 1):
			return append(buf, "Infinity"...)
		case math.IsInf(t, -1):
			return append(buf, "-Infinity"...)
		}
		return append(buf, FloatRepr(t)...)
	case string:
		b, _ := json.Marshal(t)
		return append(buf, b...)
	case []any:
		buf = append(buf, '[')
		for i, e := range t {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = AppendJSON(buf, e)
		}
		return append(buf, ']')
	case *Dict:
		buf = append(buf, '{')
		for i, k := range t.keys {
			if i > 0 {
				buf = append(buf, ',')
			}
			b, _ := json.Marshal(k)
			buf = append(buf, b...)
			buf = append(buf, ':')
			buf = AppendJSON(buf, t.vals[k])
		}
		return append(buf, '}')
	}
	return AppendJSON(buf, From(v))
}
