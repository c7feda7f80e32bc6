package orchestrator

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTailBySymbols(t *testing.T) {
	cases := []struct {
		text string
		n    int
		want string
	}{
		{"a\nbb\nccc", 6, "bb\nccc"},
		{"a\nbb\nccc", 8, "a\nbb\nccc"},
		{"a\nbb\nccc", 3, "ccc"},
		{"a\nbb\nccc", 2, ""}, // a last line longer than n gives nothing
		{"", 5, ""},
		{"é\néé", 3, "éé"}, // characters, not bytes
	}
	for _, c := range cases {
		if got := tailBySymbols(c.text, c.n); got != c.want {
			t.Errorf("tailBySymbols(%q, %d) = %q, want %q", c.text, c.n, got, c.want)
		}
	}
}

func TestLastLines(t *testing.T) {
	for _, c := range []struct {
		text string
		n    int
		want string
	}{
		{"l1\nl2\nl3", 2, "l2\nl3"}, {"l1\nl2\nl3", 3, "l1\nl2\nl3"}, {"l1", 10, "l1"}, {"  x\ny\nz", 2, "y\nz"},
	} {
		if got := lastLines(c.text, c.n); got != c.want {
			t.Errorf("lastLines(%q, %d) = %q, want %q", c.text, c.n, got, c.want)
		}
	}
}

// pyReference computes the Python agent's results on the whole text, to
// compare with the partial reads.
func pyTailBySymbols(s string, n int) string { return tailBySymbols(strings.TrimSpace(s), n) }

func TestReadOutputMatchesWholeFileSemantics(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("x", 300000)
	texts := map[string]string{
		"short":            "\n\n  hello\n  world  \n\n",
		"crlf":             "one\r\ntwo\rthree\r\n",
		"many lines":       strings.Repeat("some line of text\n", 50000),
		"indented tail":    strings.Repeat("y", 200000) + "\n   indented\nlast\n\n\n",
		"huge last line":   "first\n" + long,
		"trailing spaces":  "a\nb" + strings.Repeat(" \n", 100000),
		"utf8 across read": strings.Repeat("é", 100000) + "\nend",
	}
	for name, text := range texts {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		os.WriteFile(path, []byte(text), 0o644)
		norm := strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\r", "\n")
		for _, n := range []int{0, 10, 1000, 100000} {
			want := strings.TrimSpace(norm)
			if n > 0 {
				want = pyTailBySymbols(norm, n)
			}
			if got := readOutput(path, n, ""); got != want {
				t.Errorf("%s, n=%d: got %d chars %q..., want %d chars %q...", name, n, len(got), head(got), len(want), head(want))
			}
		}
		// In-progress: strip, last 10 lines, strip, cut.
		for _, n := range []int{0, 30, 1000} {
			want := strings.TrimSpace(lastLines(strings.TrimSpace(norm), 10))
			if n > 0 {
				want = tailBySymbols(want, n)
			}
			if got := TailOutputFile(path, n); got != want {
				t.Errorf("in-progress %s, n=%d: got %q, want %q", name, n, head(got), head(want))
			}
		}
	}
	// The timeout message goes after the file's raw end, then everything is
	// stripped.
	path := filepath.Join(dir, "err")
	os.WriteFile(path, []byte("boom\n\n"), 0o644)
	if got := readOutput(path, 0, "\nkilled"); got != "boom\n\n\nkilled" {
		t.Errorf("suffix: %q", got)
	}
	if got := readOutput(filepath.Join(dir, "missing"), 0, "\nkilled"); got != "killed" {
		t.Errorf("suffix on a missing file: %q", got)
	}
}

func head(s string) string {
	if len(s) > 30 {
		return s[:30]
	}
	return s
}

func TestReadStructuredOut(t *testing.T) {
	dir := t.TempDir()
	for content, ok := range map[string]bool{`{"a": 1}`: true, ` {"a":1} `: true, `{"a":1}}`: false, `[1]`: false, ``: false, `null`: false} {
		path := filepath.Join(dir, "s.json")
		os.WriteFile(path, []byte(content), 0o644)
		got := readStructuredOut(path)
		if ok != (got["a"] != nil) || (!ok && got["msg"] != "Unable to read structured output from "+path) {
			t.Errorf("%q: %v", content, got)
		}
	}
	if got := readStructuredOut(filepath.Join(dir, "none")); len(got) != 0 || got == nil {
		t.Errorf("missing: %v", got)
	}
}
