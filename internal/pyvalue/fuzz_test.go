package pyvalue

import (
	"testing"
	"unicode/utf8"
)

// FuzzFormat runs str.format as alert texts use it with arbitrary
// templates and arguments (a JSON list, Python literals allowed; anything
// else gives a string, an int and a float). It must never panic, and the
// widths and precisions it accepts keep the text bounded.
func FuzzFormat(f *testing.F) {
	for _, c := range formatCases {
		f.Add(c.Template, c.Args)
	}
	f.Add("{0:>65536}{0:.4096f}", `[1.5]`)
	f.Add("{:,}{:_x}{!r:^9}{0[1]}{a}", `[123456789, [1, 2], "x"]`)
	f.Add("{{}}{", `[]`)
	f.Fuzz(func(t *testing.T, template, args string) {
		var list []any
		if v, err := ParseJSON([]byte(args)); err == nil {
			list, _ = v.([]any)
		}
		if list == nil {
			list = []any{args, int64(len(args)), float64(len(args)) / 3}
		}
		out, err := Format(template, list)
		if err != nil {
			return
		}
		// Each field adds at most its width or precision and the longest
		// argument's text; the template's own bytes at most once.
		fields := len(template)/2 + 1
		limit := len(template) + fields*(MaxFormatWidth+MaxFormatPrecision+64+4*len(args))
		if len(out) > limit {
			t.Fatalf("%d bytes from a %d-byte template", len(out), len(template))
		}
		if utf8.ValidString(template) && utf8.ValidString(args) && !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 from valid input: %q", out)
		}
	})
}
