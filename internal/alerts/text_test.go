package alerts

import (
	"testing"

	"github.com/ambari-go/ambari-agent/internal/pyvalue"
)

// TestAlertText runs the whole text step of an alert: format, the
// ValueError retry with "d}" -> "s}" and stringified args, the UNKNOWN
// "problem with the alert definition" fallback, NUL removal. The expected
// results are what the Python agent's steps give under python3
// (internal/pyvalue checks str.format itself against the interpreter).
func TestAlertText(t *testing.T) {
	const problem = "There is a problem with the alert definition: "
	for _, c := range []struct{ template, args, state, text string }{
		{"OK {0:d} items", `[3]`, "OK", "OK 3 items"},
		{"OK {0:d} items", `[3.5]`, "OK", "OK 3.5 items"},
		{"{0:d} of {1:d}", `[1.5, "x"]`, "OK", "1.5 of x"},
		{"{0:.2f} used", `["12"]`, "UNKNOWN", problem + "Unknown format code 'f' for object of type 'str'"},
		{"{0} {1} {2}", `[1, 2]`, "UNKNOWN", problem + "Replacement index 2 out of range for positional args tuple"},
		{"bad {", `[1]`, "UNKNOWN", problem + "Single '{' encountered in format string"},
		{"{0:.4f}", `[null]`, "UNKNOWN", problem + "unsupported format string passed to NoneType.__format__"},
		{"nul\u0000in {0}", `["te\u0000xt"]`, "OK", "nulin text"},
		{"{0:.1%} of {1}", `[0.5, "disk"]`, "OK", "50.0% of disk"},
	} {
		v, err := pyvalue.ParseJSON([]byte(c.args))
		args, ok := v.([]any)
		if err != nil || !ok {
			t.Fatalf("args %s: not a list (%v)", c.args, err)
		}
		state, text := renderText("OK", c.template, args)
		if state != c.state || text != c.text {
			t.Errorf("%q %% %s: got (%s, %q), Python gives (%s, %q)", c.template, c.args, state, text, c.state, c.text)
		}
	}
}
