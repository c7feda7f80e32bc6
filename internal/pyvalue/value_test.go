package pyvalue

import (
	"encoding/json"
	"reflect"
	"testing"
)

// valueCase is one JSON value and what Python makes of it after
// json.loads: str(v), int(v) (noInt when int() raises) and bool(v).
type valueCase struct {
	JSON  string
	Str   string
	Int   int64
	NoInt bool
	Truth bool
}

const noInt = true

var valueCases = []valueCase{
	{`42`, "42", 42, false, true},
	{`-0`, "0", 0, false, false},
	{`42.0`, "42.0", 42, false, true},
	{`1e5`, "100000.0", 100000, false, true},
	{`1.50`, "1.5", 1, false, true},
	{`-2.5`, "-2.5", -2, false, true},
	{`-0.0`, "-0.0", 0, false, false},
	{`0.1`, "0.1", 0, false, true},
	{`1e16`, "1e+16", 10000000000000000, false, true},
	{`1E400`, "inf", 0, noInt, true},
	{`12345678901234567890123`, "12345678901234567890123", 0, noInt, true},
	{`true`, "True", 1, false, true},
	{`false`, "False", 0, false, false},
	{`null`, "None", 0, noInt, false},
	{`"x"`, "x", 0, noInt, true},
	{`""`, "", 0, noInt, false},
	{`"false"`, "false", 0, noInt, true},
	{`"0"`, "0", 0, false, true},
	{`" 7\n"`, " 7\n", 7, false, true},
	{`"+5"`, "+5", 5, false, true},
	{`"-5"`, "-5", -5, false, true},
	{`"007"`, "007", 7, false, true},
	{`"1_000"`, "1_000", 1000, false, true},
	{`"1__0"`, "1__0", 0, noInt, true},
	{`"_1"`, "_1", 0, noInt, true},
	{`"1_"`, "1_", 0, noInt, true},
	{`"+-1"`, "+-1", 0, noInt, true},
	{`"--3"`, "--3", 0, noInt, true},
	{`"5 5"`, "5 5", 0, noInt, true},
	{`"0x10"`, "0x10", 0, noInt, true},
	{`"1.5"`, "1.5", 0, noInt, true},
	{`" "`, " ", 0, noInt, true},
	{`"\u00a012\u2003"`, "\u00a012\u2003", 12, false, true},
	{`"it's"`, "it's", 0, noInt, true},
	{`[]`, "[]", 0, noInt, false},
	{`[1, "a", null, true, 1.0, "it's", [2]]`, `[1, 'a', None, True, 1.0, "it's", [2]]`, 0, noInt, true},
	{`{}`, "{}", 0, noInt, false},
	{`{"a": [2], "b": {"c": "d\n"}}`, `{'a': [2], 'b': {'c': 'd\n'}}`, 0, noInt, true},
}

// TestValueTable checks the table against python3 itself, then the Go
// functions against the table, for the value as encoding/json decodes it
// (with UseNumber, as the agent does) and as ParseJSON does.
func TestValueTable(t *testing.T) {
	texts := make([]string, len(valueCases))
	for i, c := range valueCases {
		texts[i] = c.JSON
	}
	const prog = `
import json, sys
out = []
for text in json.loads(sys.stdin.read()):
    v = json.loads(text)
    try:
        n = int(v)
    except Exception:
        n = None
    out.append([str(v), n, bool(v)])
print(json.dumps(out))
`
	var py [][3]any
	runPython(t, prog, texts, &py)
	for i, c := range valueCases {
		p := py[i]
		if p[0] != c.Str || p[2] != c.Truth {
			t.Errorf("table %s: str %q bool %v, Python gives %q %v", c.JSON, c.Str, c.Truth, p[0], p[2])
		}
		// Python's int has no limit; int64 has.
		if p[1] == nil != c.NoInt && c.JSON != `12345678901234567890123` {
			t.Errorf("table %s: int() raises %v, Python: %v", c.JSON, c.NoInt, p[1])
		} else if n, ok := p[1].(json.Number); ok && !c.NoInt && n.String() != json.Number(itoa(c.Int)).String() {
			t.Errorf("table %s: int() %d, Python gives %s", c.JSON, c.Int, n)
		}
	}
	for _, c := range valueCases {
		decoded := decodeJSON(t, c.JSON)
		ordered, err := ParseJSON([]byte(c.JSON))
		if err != nil {
			t.Fatalf("ParseJSON %s: %v", c.JSON, err)
		}
		values := []any{decoded, ordered}
		if _, big := ordered.(float64); big && c.JSON == `12345678901234567890123` {
			// ParseJSON (alert data) reads an int beyond int64 as a float.
			values = values[:1]
		}
		for _, v := range values {
			if got := Str(v); got != c.Str {
				t.Errorf("Str(%s as %T) = %q, want %q", c.JSON, v, got, c.Str)
			}
			if got := Truthy(v); got != c.Truth {
				t.Errorf("Truthy(%s as %T) = %v, want %v", c.JSON, v, got, c.Truth)
			}
			n, ok := Int(v)
			if ok == c.NoInt || (ok && n != c.Int) {
				t.Errorf("Int(%s as %T) = %d %v, want %d %v", c.JSON, v, n, ok, c.Int, !c.NoInt)
			}
		}
	}
}

func itoa(i int64) string { return Str(i) }

func decodeJSON(t testing.TB, s string) any {
	var v any
	decodeNumbers(t, []byte(s), &v)
	return v
}

// TestGoValues covers what Go code (not a decoder) hands over: a float64 is
// a Python float even when it is whole, typed maps print as dicts.
func TestGoValues(t *testing.T) {
	for _, c := range []struct {
		v    any
		want string
	}{
		{float64(42), "42.0"},
		{1.5, "1.5"},
		{int(7), "7"},
		{int64(-7), "-7"},
		{[]string{"a", "b"}, "['a', 'b']"},
		{map[string]string{"b": "2", "a": "1"}, "{'a': '1', 'b': '2'}"},
		{map[string]any{"k": json.Number("1.0")}, "{'k': 1.0}"},
	} {
		if got := Str(c.v); got != c.want {
			t.Errorf("Str(%#v) = %q, want %q", c.v, got, c.want)
		}
	}
}

// TestIntegral: ids, counts and timeouts take whole numbers and decimal
// strings, never a fraction or a bool (Python's int() would truncate).
func TestIntegral(t *testing.T) {
	for v, want := range map[any]int64{"1200": 1200, " 7\n": 7, json.Number("900"): 900, json.Number("3.0"): 3, float64(3): 3, int(4): 4} {
		if got, ok := Integral(v); !ok || got != want {
			t.Errorf("Integral(%#v) = %d %v, want %d", v, got, ok, want)
		}
	}
	for _, v := range []any{"1.5", "", "x", nil, 2.5, json.Number("2.5"), true, []any{}} {
		if got, ok := Integral(v); ok {
			t.Errorf("Integral(%#v) = %d, want refused", v, got)
		}
	}
}

func TestMergeNested(t *testing.T) {
	cases := []struct {
		name          string
		dst, src, out string
	}{
		{"src wins", `{"a":1,"b":2}`, `{"b":3}`, `{"a":1,"b":3}`},
		{"objects merge", `{"c":{"x":1,"y":{"p":1}}}`, `{"c":{"y":{"q":2},"z":3}}`, `{"c":{"x":1,"y":{"p":1,"q":2},"z":3}}`},
		{"lists replace", `{"l":[1,2,3]}`, `{"l":[4]}`, `{"l":[4]}`},
		{"object replaces scalar", `{"c":"s"}`, `{"c":{"x":1,"y":2}}`, `{"c":{"x":1,"y":2}}`},
		{"scalar replaces object", `{"c":{"x":1}}`, `{"c":null}`, `{"c":null}`},
		{"new keys", `{}`, `{"n":{"m":[1]}}`, `{"n":{"m":[1]}}`},
	}
	for _, c := range cases {
		want := decodeJSON(t, c.out)

		dst, src := decodeJSON(t, c.dst).(map[string]any), decodeJSON(t, c.src).(map[string]any)
		if got := MergeNested(dst, src); !reflect.DeepEqual(got, want) {
			t.Errorf("MergeNested %s: got %v want %v", c.name, got, want)
		}
		if !reflect.DeepEqual(dst, decodeJSON(t, c.dst)) || !reflect.DeepEqual(src, decodeJSON(t, c.src)) {
			t.Errorf("MergeNested %s: changed an argument", c.name)
		}

		got := MergeNestedInPlace(dst, src)
		if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(dst, want) {
			t.Errorf("MergeNestedInPlace %s: got %v, dst %v, want %v", c.name, got, dst, want)
		}
		if !reflect.DeepEqual(src, decodeJSON(t, c.src)) {
			t.Errorf("MergeNestedInPlace %s: changed src", c.name)
		}
	}
	// The in-place result never aliases src: changing it leaves src alone.
	src := decodeJSON(t, `{"configurations":{"t":{"password":"x"}},"l":[{"k":"v"}]}`).(map[string]any)
	got := MergeNestedInPlace(nil, src)
	delete(got["configurations"].(map[string]any)["t"].(map[string]any), "password")
	got["l"].([]any)[0].(map[string]any)["k"] = "changed"
	if !reflect.DeepEqual(src, decodeJSON(t, `{"configurations":{"t":{"password":"x"}},"l":[{"k":"v"}]}`)) {
		t.Errorf("merge result aliases src: %v", src)
	}
}

// TestDeepCopy: a copy shares nothing mutable, keeps nil nil and turns the
// typed views' maps and lists into JSON-shaped ones.
func TestDeepCopy(t *testing.T) {
	src := decodeJSON(t, `{"m":{"k":"v"},"l":[{"x":1}],"n":null}`).(map[string]any)
	cp := DeepCopy(src).(map[string]any)
	cp["m"].(map[string]any)["k"] = "changed"
	cp["l"].([]any)[0].(map[string]any)["x"] = 2
	if !reflect.DeepEqual(src, decodeJSON(t, `{"m":{"k":"v"},"l":[{"x":1}],"n":null}`)) {
		t.Errorf("copy shares with the original: %v", src)
	}
	if m := DeepCopy(map[string]any(nil)).(map[string]any); m != nil {
		t.Error("DeepCopy of a nil map is not nil")
	}
	typed := DeepCopy(map[string]any{"s": map[string]string{"a": "1"}, "l": []string{"x"}})
	if want := (map[string]any{"s": map[string]any{"a": "1"}, "l": []any{"x"}}); !reflect.DeepEqual(typed, want) {
		t.Errorf("typed values copied as %#v", typed)
	}
}

// TestJSONDialect: ParseJSON accepts what Python's json.loads accepts (NaN
// and Infinity included) and AppendJSON writes what json.dumps writes with
// compact separators and UTF-8 text (ensure_ascii=False: json.loads reads
// both spellings the same); both checked against python3.
func TestJSONDialect(t *testing.T) {
	texts := []string{
		`{"b": 1, "a": [1.0, -0.0, 1e16, 1E-5, NaN, Infinity, -Infinity]}`,
		`[true, false, null, "caf\u00e9", "\"q\"\n", 12345678901234567]`,
		` {"nested": {"x": [[], {}]}} `,
		`{"a": 1,}`, `[1,]`, `[1 2]`, `{"a" 1}`, `{1: 2}`, `[01]`, `"\x"`, `nan`, `[1] x`, ``, `-`, `1.`,
	}
	const prog = `
import json, sys
out = []
for text in json.loads(sys.stdin.read()):
    try:
        out.append(json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False))
    except ValueError:
        out.append(None)
print(json.dumps(out))
`
	var want []*string
	runPython(t, prog, texts, &want)
	for i, text := range texts {
		v, err := ParseJSON([]byte(text))
		switch {
		case want[i] == nil && err == nil:
			t.Errorf("ParseJSON(%s) accepted what Python refuses", text)
		case want[i] != nil && err != nil:
			t.Errorf("ParseJSON(%s): %v", text, err)
		case want[i] != nil:
			if got := string(AppendJSON(nil, v)); got != *want[i] {
				t.Errorf("AppendJSON(ParseJSON(%s)) = %s, Python gives %s", text, got, *want[i])
			}
		}
	}
}
