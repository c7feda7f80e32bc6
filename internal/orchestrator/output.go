package orchestrator

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	// inProgressLines is how many lines of each output file go into a
	// periodic IN_PROGRESS report.
	inProgressLines = 10
	// maxUnboundedRead caps what is read of an output file when
	// log_max_symbols_size is 0 ("unlimited"): the agent runs for months and
	// a runaway script must not be able to take its memory.
	maxUnboundedRead = 32 << 20
	// maxStructuredOut caps the structured output file read after a run.
	maxStructuredOut = 64 << 20
	firstReadChunk   = 64 << 10
)

// TailOutputFile returns what a periodic IN_PROGRESS report carries for one
// output file (docs/behaviour.md §5.6): the text stripped, its last 10 lines, then cut
// to maxSymbols characters by whole lines (0 = no cut); "..." when the file
// does not exist. It reads only the end of the file.
//
// Deliberate difference: the Python agent sends an empty text when
// log_max_symbols_size is 0; here 0 means unlimited, as it does for final
// reports.
func TailOutputFile(path string, maxSymbols int) string {
	raw, fromStart, err := readTail(path, inProgressLines, maxSymbols)
	if err != nil {
		return "..."
	}
	whole := pyStrip(raw, fromStart)
	text := lastLines(whole, inProgressLines)
	// Python strips the last-10-lines text again; its left end is the start
	// of a line we hold only when the cut happened in our text or our text
	// starts the file.
	if fromStart || len(text) < len(whole) {
		text = strings.TrimLeftFunc(text, unicode.IsSpace)
	}
	if maxSymbols > 0 {
		text = tailBySymbols(text, maxSymbols)
	}
	return text
}

// readOutput returns an output file's text plus suffix as a final result
// carries it: stripped and cut to maxSymbols characters by whole lines
// (0 = whole file, up to maxUnboundedRead bytes). A missing file reads as
// "".
func readOutput(path string, maxSymbols int, suffix string) string {
	raw, fromStart, err := readTail(path, 0, maxSymbols)
	if err != nil {
		raw, fromStart = "", true
	}
	text := pyStrip(raw+suffix, fromStart)
	if maxSymbols > 0 {
		return tailBySymbols(text, maxSymbols)
	}
	return text
}

// pyStrip is Python's str.strip() on text that may be only the end of a
// file: the left side is stripped only when the text starts at the file's
// beginning, because otherwise its first line is a line in the middle.
func pyStrip(text string, fromStart bool) string {
	text = strings.TrimRightFunc(text, unicode.IsSpace)
	if fromStart {
		text = strings.TrimLeftFunc(text, unicode.IsSpace)
	}
	return text
}

// readTail reads as much of the end of a file as is needed to answer "the
// last maxLines lines" and "the last maxSymbols characters" (0 = no limit
// of that kind) and returns it with newlines normalised the way Python reads
// text files (\r\n and \r become \n). fromStart reports whether the text
// starts at the beginning of the file; when it does not, the first, partial
// line has been dropped: it could never be part of the answer.
func readTail(path string, maxLines, maxSymbols int) (text string, fromStart bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", false, err
	}
	var buf []byte
	off := st.Size()
	chunk := int64(firstReadChunk)
	for off > 0 {
		n := chunk
		if n > off {
			n = off
		}
		if int64(len(buf))+n > maxUnboundedRead {
			n = maxUnboundedRead - int64(len(buf))
		}
		if n <= 0 {
			break
		}
		off -= n
		next := make([]byte, int(n)+len(buf))
		if _, err := f.ReadAt(next[:n], off); err != nil && !errors.Is(err, io.EOF) {
			return "", false, err
		}
		copy(next[n:], buf)
		buf = next
		chunk *= 2
		trimmed := bytes.TrimRightFunc(buf, unicode.IsSpace)
		if maxSymbols > 0 && len(trimmed) > 4*maxSymbols+4 {
			// Enough bytes for maxSymbols characters whatever their encoding.
			break
		}
		if maxLines > 0 && countLineBreaks(trimmed) > maxLines {
			break
		}
	}
	fromStart = off == 0
	buf = normalizeNewlines(buf)
	if !fromStart {
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			buf = buf[i+1:]
		} else {
			buf = nil
		}
	}
	return string(buf), fromStart, nil
}

// countLineBreaks counts \n, \r\n and lone \r as one break each.
func countLineBreaks(b []byte) int {
	n := 0
	for i, c := range b {
		if c == '\n' || (c == '\r' && (i+1 >= len(b) || b[i+1] != '\n')) {
			n++
		}
	}
	return n
}

func normalizeNewlines(b []byte) []byte {
	if bytes.IndexByte(b, '\r') < 0 {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == '\r' {
			out = append(out, '\n')
			if i+1 < len(b) && b[i+1] == '\n' {
				i++
			}
			continue
		}
		out = append(out, b[i])
	}
	return out
}

// lastLines is Grep.tail: the last n lines of text (ends kept), or text
// itself when it has no more than n lines.
func lastLines(text string, n int) string {
	end := len(text)
	i := end
	for lines := 0; ; {
		j := strings.LastIndexByte(text[:i], '\n')
		if j < 0 {
			return text
		}
		// text[j+1:] now holds one more complete line.
		lines++
		if lines == n {
			return text[j+1:]
		}
		i = j
	}
}

// tailBySymbols is Grep.tail_by_symbols on already stripped text: the
// longest run of whole lines at the end whose length stays within n
// characters. A last line longer than n yields "".
func tailBySymbols(text string, n int) string {
	start := len(text)
	total := 0
	for start > 0 {
		// The line before start begins after the previous '\n' (line ends
		// stay with their line).
		j := strings.LastIndexByte(text[:start-1], '\n')
		lineStart := j + 1
		c := utf8.RuneCountInString(text[lineStart:start])
		if total+c > n {
			break
		}
		total += c
		start = lineStart
	}
	return text[start:]
}

// readStructuredOut reads a script's structured output: a missing or
// unreadable file gives {}, anything but a JSON object gives the "Unable to
// read" message. Deliberate difference: valid JSON that is not an object
// (which the Python agent would pass on) counts as unreadable, since every
// consumer expects an object.
func readStructuredOut(path string) map[string]any {
	f, err := os.Open(path)
	if err != nil {
		return map[string]any{}
	}
	defer f.Close()
	// The script created it with its own umask; it may repeat secrets.
	_ = f.Chmod(dataFileMode)
	data, err := io.ReadAll(io.LimitReader(f, maxStructuredOut+1))
	if err != nil {
		return map[string]any{}
	}
	var out map[string]any
	if len(data) <= maxStructuredOut {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&out); err == nil && out != nil && len(bytes.TrimSpace(data[dec.InputOffset():])) == 0 {
			return out
		}
	}
	return map[string]any{"msg": "Unable to read structured output from " + path}
}
