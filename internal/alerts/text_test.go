package alerts

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"testing"

	"github.com/ambari-go/ambari-agent/internal/pyvalue"
)

// TestAlertTextMatchesPython runs the whole text step of an alert (format,
// ValueError retry with "d}" -> "s}" and stringified args, the UNKNOWN
// "problem with the alert definition" fallback, NUL removal) against the
// same steps executed by Python.
func TestAlertTextMatchesPython(t *testing.T) {
	cases := []textCase{
		{"OK {0:d} items", `[3]`},
		{"OK {0:d} items", `[3.5]`},
		{"{0:d} of {1:d}", `[1.5, "x"]`},
		{"{0:.2f} used", `["12"]`},
		{"{0} {1} {2}", `[1, 2]`},
		{"bad {", `[1]`},
		{"{0:.4f}", `[null]`},
		{"nul\u0000in {0}", `["te\u0000xt"]`},
		{"{0:.1%} of {1}", `[0.5, "disk"]`},
	}
	in, _ := json.Marshal(cases)
	const prog = `
import json, sys
out = []
for c in json.loads(sys.stdin.read()):
    args = json.loads(c["a"])
    tmpl = c["t"]
    state = "OK"
    try:
        try:
            text = tmpl.format(*args)
        except ValueError:
            tmpl = tmpl.replace("d}", "s}")
            text = tmpl.format(*list(map(str, args)))
    except Exception as e:
        state = "UNKNOWN"
        text = "There is a problem with the alert definition: {0}".format(str(e))
    out.append([state, text.replace("\x00", "")])
print(json.dumps(out))
`
	cmd := exec.Command("python3", "-c", prog)
	cmd.Stdin = bytes.NewReader(in)
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	var want [][2]string
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		state, text := renderText("OK", c.Template, pyArgs(t, c.Args))
		if state != want[i][0] || text != want[i][1] {
			t.Errorf("%q %% %s: got (%s, %q), Python gives (%s, %q)", c.Template, c.Args, state, text, want[i][0], want[i][1])
		}
	}
}

// textCase is one template and its arguments in Python's JSON dialect.
type textCase struct {
	Template string `json:"t"`
	Args     string `json:"a"`
}

func pyArgs(t testing.TB, s string) []any {
	t.Helper()
	v, err := pyvalue.ParseJSON([]byte(s))
	l, ok := v.([]any)
	if err != nil || !ok {
		t.Fatalf("args %s: not a list (%v)", s, err)
	}
	return l
}
