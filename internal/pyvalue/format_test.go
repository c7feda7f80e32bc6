package pyvalue

import (
	"bytes"
	"encoding/json"
	"math"
	"os/exec"
	"testing"
)

// formatCase is one template applied to one argument list. Arguments are
// written in the JSON dialect ParseJSON reads, so Go and Python receive
// exactly the same values (ints stay ints, dict order is kept).
type formatCase struct {
	Template string `json:"t"`
	Args     string `json:"a"`
}

var formatCases = []formatCase{
	// Shipped definitions and default texts.
	{"TCP OK - {0:.3f}s response on port {1}", `[0.0012345, 2181]`},
	{"TCP OK - {0:.4f} response on port {1}", `[0.00049, 8080]`},
	{"Connection failed: {0} to {1}:{2}", `["[Errno 111] Connection refused", "h1", 2181]`},
	{"HTTP {0} response in {2:.4f} seconds", `[200, "http://h1:50070", 0.0123]`},
	{"Connection failed to {1}", `[0, "http://h1:50070", 0, "timed out"]`},
	{"Capacity Used:[{2:.0f}%, {0}], Capacity Remaining:[{1}]", `[1024, 2048, 33.3333]`},
	{"Used: {0:.1%}", `[0.1234]`},
	{"Used: {0:.1%}", `[1]`},
	{"Count {1:d} of {0}", `["x", 7]`},
	{"Count {1:d} of {0}", `["x", 7.5]`},
	{"{0:d}", `[true]`},
	{"{0:s}", `["text"]`},
	{"{0:s}", `[5]`},
	{"{0}", `[null]`},
	{"{0} and {1}", `[[1, "a", null, true, 1.0, {"k": "v", "a": [2]}], {"z": 1, "b": 2}]`},
	{"{0}", `[1e16]`},
	{"{0}", `[1e-5]`},
	{"{0}", `[0.30000000000000004]`},
	{"{0}", `[123456789.0]`},
	{"{0}", `[-0.0]`},
	{"{0}", `[NaN]`},
	{"{0} {1}", `[Infinity, -Infinity]`},
	{"{0}", `["it's \"quoted\"\n\ttab"]`},
	{"{0!r} {0!s} {0!a}", `["caf\u00e9 'x'"]`},
	// Float presentation types.
	{"{0:.0f} {1:.0f} {2:.0f} {3:.0f}", `[0.5, 1.5, 2.5, -0.4]`},
	{"{0:f} {0:e} {0:g} {0:%}", `[1234.5678]`},
	{"{0:.3} {1:.3} {2:.3} {3:.1}", `[123.0, 12.0, 0.0001234, 0.0]`},
	{"{0:g} {1:g} {2:g} {3:g}", `[100000.0, 1000000.0, 0.0001, 0.00001]`},
	{"{0:#g} {0:#.0f} {0:#.0e} {0:E} {1:G}", `[1.0, 1e-7]`},
	{"{0:,.2f} {1:_} {2:,}", `[1234567.891, 1234567.5, 1234567]`},
	{"{0:010.3f} {0:+.2f} {0: .2f} {1:z.1f} {1:.1f}", `[-3.14159, -0.04]`},
	{"{0:*^12.3f}|{0:<10.2f}|{0:>10.2f}|{0:=+10.2f}", `[3.14159]`},
	{"{0:.2%} {0:+} {1:010} {2:F}", `[NaN, -Infinity, Infinity]`},
	{"{0:.17g} {1:.0e} {2:f}", `[0.1, 12345.0, 1e22]`},
	{"{0:n} {1:n}", `[1234567, 1.5]`},
	// Integer presentation types.
	{"{0:x} {0:#x} {0:#X} {0:#o} {0:b} {0:_b} {0:#_x}", `[255]`},
	{"{0:#b} {0:+d} {0: d} {0:c}", `[-5, 65]`},
	{"{1:c} {1:5c}", `[0, 65]`},
	{"{0:,} {0:010,} {0:09,} {0:08,} {0:_d}", `[1234]`},
	{"{0:x<6d}|{0:^7}|{0:=8}|{0:08}", `[-42]`},
	{"{0:>5}|{0:.1f}|{0:%}", `[true]`},
	// Strings.
	{"{0:^9}|{0:<6}|{0:>6}|{0:.2s}|{0:05}|{0:x^8.3}", `["abcdef"]`},
	// Field syntax.
	{"{} and {}", `["a", "b"]`},
	{"{0[1]} {1[k]} {2[0]}", `[[1, 2], {"k": "v"}, "xyz"]`},
	{"{0:{1}}", `[3.14159, ".2f"]`},
	{"{{literal}} {0}", `[1]`},
	{"a}}b{{c", `[]`},
	// Errors (class and message must match Python's).
	{"{0:.4f}", `["text"]`},
	{"{0:d}", `[1.5]`},
	{"{0:.3fx}", `[1.5]`},
	{"{0:.}", `[1.5]`},
	{"{1}", `[1.5]`},
	{"{}{0}", `[1]`},
	{"{0}{}", `[1]`},
	{"{name}", `[1]`},
	{"{", `[1]`},
	{"}", `[1]`},
	{"{0", `[1]`},
	{"{0!x}", `[1]`},
	{"{0:,x}", `[1]`},
	{"{0:,s}", `["a"]`},
	{"{0:,n}", `[1]`},
	{"{0:,_}", `[1]`},
	{"{0:.2d}", `[5]`},
	{"{0:+s}", `["a"]`},
	{"{0:#s}", `["a"]`},
	{"{0:=5}", `["a"]`},
	{"{0:z}", `[5]`},
	{"{0:+c}", `[65]`},
	{"{0:c}", `[1114112]`},
	{"{0:.4f}", `[null]`},
	{"{0:>3}", `[[1]]`},
	{"{0.x}", `[1]`},
	{"{0[5]}", `[[1]]`},
	{"{0[k]}", `[[1]]`},
	{"{0[0]}", `[{"0": 1}]`},
	{"{0[1]}", `[5]`},
}

// pythonFormat runs the cases through the real interpreter. Each result is
// [text, null] or [null, "ExceptionClass", "message"].
func pythonFormat(t testing.TB, cases []formatCase) [][]any {
	t.Helper()
	const prog = `
import json, sys
out = []
for c in json.loads(sys.stdin.read()):
    args = json.loads(c["a"])
    try:
        out.append([c["t"].format(*args), None])
    except Exception as e:
        out.append([None, type(e).__name__, str(e)])
print(json.dumps(out))
`
	var res [][]any
	runPython(t, prog, cases, &res)
	return res
}

// runPython runs prog with in as JSON on its standard input and decodes
// what it prints into out (numbers as json.Number).
func runPython(t testing.TB, prog string, in, out any) {
	t.Helper()
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("python3", "-c", prog)
	cmd.Stdin = bytes.NewReader(data)
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	decodeNumbers(t, b, out)
}

// decodeNumbers decodes data into out as the agent decodes JSON: numbers as
// json.Number.
func decodeNumbers(t testing.TB, data []byte, out any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		t.Fatalf("decode %q: %v", data, err)
	}
}

func mustPyArgs(t testing.TB, s string) []any {
	t.Helper()
	v, err := ParseJSON([]byte(s))
	if err != nil {
		t.Fatalf("args %s: %v", s, err)
	}
	l, ok := v.([]any)
	if !ok {
		t.Fatalf("args %s: not a list", s)
	}
	return l
}

func TestFormatMatchesPython(t *testing.T) {
	want := pythonFormat(t, formatCases)
	for i, c := range formatCases {
		got, err := Format(c.Template, mustPyArgs(t, c.Args))
		w := want[i]
		if w[0] != nil {
			if err != nil {
				t.Errorf("%q %% %s: error %v, Python gives %q", c.Template, c.Args, err, w[0])
			} else if got != w[0].(string) {
				t.Errorf("%q %% %s: got %q, Python gives %q", c.Template, c.Args, got, w[0])
			}
			continue
		}
		pe, ok := err.(*Error)
		if !ok {
			t.Errorf("%q %% %s: got %q (err %v), Python raises %s: %s", c.Template, c.Args, got, err, w[1], w[2])
			continue
		}
		if pe.class != w[1] || pe.msg != w[2] {
			t.Errorf("%q %% %s: raised %s: %s, Python raises %s: %s", c.Template, c.Args, pe.class, pe.msg, w[1], w[2])
		}
	}
}

func TestFloatReprMatchesPython(t *testing.T) {
	vals := []float64{0, 1, -1, 0.1, 1.5, 100, 1e15, 1e16, 1.25e16, 123456789012345678, 1e-4, 1e-5, 0.000123,
		math.MaxFloat64, math.SmallestNonzeroFloat64, 2.0 / 3, 1e300, 5e-324, 9.999999999999999e15}
	cases := make([]formatCase, len(vals))
	for i, v := range vals {
		cases[i] = formatCase{Template: "{0} {0:g} {0:.3} {0:.10g} {0:e}", Args: string(AppendJSON([]byte{'['}, v)) + "]"}
	}
	want := pythonFormat(t, cases)
	for i, c := range cases {
		got, err := Format(c.Template, []any{vals[i]})
		if err != nil || want[i][0] == nil || got != want[i][0].(string) {
			t.Errorf("%v: got %q (%v), Python gives %v", vals[i], got, err, want[i])
		}
	}
}
