package config

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/ambari-go/ambari-agent/internal/atomicfile"
)

// SetServerHostname changes the value of `hostname` in the [server] section
// of the ini file at path, keeping every other line, comment and the file's
// mode as they are. It returns the previous value. Used by `ambari-agent
// reset`.
//
// The Python agent re-serialises the whole file (losing comments and
// lower-casing keys) and, in its Python 3 version, truncates the file to
// zero bytes instead (docs/behaviour.md §3.2); neither is copied.
func SetServerHostname(path, host string) (old string, err error) {
	if strings.ContainsAny(host, "\n\r") || strings.TrimSpace(host) == "" {
		return "", fmt.Errorf("invalid server host name %q", host)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	section, found := "", -1
	for i, l := range lines {
		t := strings.TrimSpace(string(l))
		if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
			section = t[1 : len(t)-1]
			continue
		}
		if section != "server" || t == "" || t[0] == '#' || t[0] == ';' {
			continue
		}
		if k, v, ok := cutKey(t); ok && strings.EqualFold(k, "hostname") {
			old, found = v, i
			break
		}
	}
	if found < 0 {
		return "", fmt.Errorf("%s: no hostname key in the [server] section", path)
	}
	eol := "\n"
	if bytes.HasSuffix(lines[found], []byte("\r\n")) {
		eol = "\r\n"
	} else if !bytes.HasSuffix(lines[found], []byte("\n")) {
		eol = ""
	}
	lines[found] = []byte("hostname=" + host + eol)
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	return old, atomicfile.Write(path, bytes.Join(lines, nil), st.Mode().Perm())
}

func cutKey(line string) (key, value string, ok bool) {
	i := strings.IndexAny(line, "=:")
	if i <= 0 {
		return "", "", false
	}
	return strings.TrimSpace(line[:i]), strings.TrimSpace(line[i+1:]), true
}
