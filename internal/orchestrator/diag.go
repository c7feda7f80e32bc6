package orchestrator

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/pyvalue"
)

const (
	diagTimeout   = 10 * time.Second
	diagMaxOutput = 1 << 20
	// maxSymbolsPerLogMessage keeps each copied output chunk under what
	// syslog accepts.
	maxSymbolsPerLogMessage = 7900
	passwordReplacement     = "[PROTECTED]"
)

// Secret masking for output copied to the agent log. The Python agent
// masks only Python dict reprs of keys ending in "password"
// ('\S*password':\s*u?'(\S+)'), so a JSON "db_password": "..." or a
// -Dkeystore.password=... printed by a script reached its log. Here a key
// is secret when its name contains password, passwd, secret or credential
// (any case, so *.secret* too), and its value is masked in the three forms
// scripts print: Python repr ('k': u'v'), JSON ("k": "v", "k": 12) and
// k=v (also -Dk=v, k = "v", ?k=v&).
var (
	// secretKeyword is what makes a key name secret.
	secretKeyword = `(?i:passw(?:or)?d|secret|credential)`
	// secretValue is a quoted string (with escapes, Python's u prefix) or
	// a bare token; a bare token never starts with a bracket, so nested
	// objects and an already masked value are left alone.
	secretValue = `u?'(?:[^'\\\n]|\\.)*'|u?"(?:[^"\\\n]|\\.)*"|[^\s,;&}\]{\[][^\s,;&}\]]*`
	// quotedSecretPair is 'key': value or "key": value.
	quotedSecretPair = regexp.MustCompile(`(u?['"][^'"\s]*` + secretKeyword + `[^'"\s]*['"]\s*:\s*)(` + secretValue + `)`)
	// assignedSecret is key=value.
	assignedSecret = regexp.MustCompile(`([\w.\-]*` + secretKeyword + `[\w.\-]*\s*=\s*)(` + secretValue + `)`)
)

// secretKeywords are secretKeyword's words in lower case, to find the
// lines worth running the expressions on: script output runs to megabytes,
// and few of its lines name a secret.
var secretKeywords = []string{"passw", "secret", "credential"}

// HidePasswords replaces the values of secret keys with [PROTECTED]
// before script output is copied to the agent log. A key and its value
// are expected on one line, as every form above prints them.
func HidePasswords(text string) string {
	lower := asciiLower(text)
	next := make([]int, len(secretKeywords)) // next hit of each keyword, -1: none left
	for i, kw := range secretKeywords {
		next[i] = strings.Index(lower, kw)
	}
	var b strings.Builder
	last := 0 // text[:last] is written (or unchanged when nothing was)
	for {
		hit := -1
		for i, kw := range secretKeywords {
			if next[i] >= 0 && next[i] < last {
				if j := strings.Index(lower[last:], kw); j >= 0 {
					next[i] = last + j
				} else {
					next[i] = -1
				}
			}
			if next[i] >= 0 && (hit < 0 || next[i] < hit) {
				hit = next[i]
			}
		}
		if hit < 0 {
			break
		}
		start := strings.LastIndexByte(text[:hit], '\n') + 1
		end := len(text)
		if j := strings.IndexByte(text[hit:], '\n'); j >= 0 {
			end = hit + j
		}
		if b.Cap() == 0 {
			b.Grow(len(text))
		}
		b.WriteString(text[last:start])
		b.WriteString(maskPairs(assignedSecret, maskPairs(quotedSecretPair, text[start:end])))
		last = end
	}
	if last == 0 {
		return text
	}
	b.WriteString(text[last:])
	return b.String()
}

// asciiLower lowers ASCII letters only, so that byte offsets in the result
// are offsets in s.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// maskPairs masks the value (group 2) of every match of re.
func maskPairs(re *regexp.Regexp, text string) string {
	idx := re.FindAllStringSubmatchIndex(text, -1)
	if idx == nil {
		return text
	}
	var b strings.Builder
	b.Grow(len(text))
	last := 0
	for _, m := range idx {
		b.WriteString(text[last:m[4]])
		b.WriteString(maskedValue(text[m[4]:m[5]]))
		last = m[5]
	}
	b.WriteString(text[last:])
	return b.String()
}

// maskedValue keeps a quoted value's quotes (and u prefix) so the masked
// text still reads as the form it was printed in.
func maskedValue(v string) string {
	q := 0
	if strings.HasPrefix(v, "u") {
		q = 1
	}
	if len(v) >= q+2 && (v[q] == '\'' || v[q] == '"') && v[len(v)-1] == v[q] {
		return v[:q+1] + passwordReplacement + v[len(v)-1:]
	}
	return passwordReplacement
}

// logProcessInformation writes the process list and listening sockets to
// the log, to help explain a failed or cancelled command. Each tool gets a
// bounded time and output; a missing tool is skipped quietly.
func logProcessInformation(log *logrus.Entry) {
	for _, c := range []struct {
		label string
		argv  []string
		env   []string
	}{
		{"export COLUMNS=9999 ; ps faux", []string{"ps", "faux"}, []string{"COLUMNS=9999"}},
		{"netstat -tulpn", []string{"netstat", "-tulpn"}, nil},
	} {
		path, err := exec.LookPath(c.argv[0])
		if err != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), diagTimeout)
		cmd := exec.CommandContext(ctx, path, c.argv[1:]...)
		cmd.Env = append(os.Environ(), c.env...)
		var out, errOut limitedBuffer
		out.limit, errOut.limit = diagMaxOutput, diagMaxOutput
		cmd.Stdout, cmd.Stderr = &out, &errOut
		runErr := cmd.Run()
		cancel()
		code := 0
		if cmd.ProcessState != nil {
			code = cmd.ProcessState.ExitCode()
		} else if runErr != nil {
			code = -1
		}
		log.Infof("Command '%s' returned %d. %s%s", c.label, code, errOut.String(), out.String())
	}
}

// limitedBuffer keeps the first limit bytes written and drops the rest.
type limitedBuffer struct {
	bytes.Buffer
	limit int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.limit - b.Len(); room > 0 {
		if len(p) > room {
			b.Buffer.Write(p[:room])
		} else {
			b.Buffer.Write(p)
		}
	}
	return len(p), nil
}

// LogCommandOutput copies a command's final stdout and stderr into the
// agent log between begin/end lines, in chunks of at most 7900 characters,
// with passwords masked (docs/behaviour.md §5.9). It does nothing unless [logging]
// log_command_executes is on and the command's commandParams.log_output is
// not "false". Call it with the final texts (with the "Command completed"
// suffix), as the Python agent does.
func (o *Orchestrator) LogCommandOutput(command map[string]any, stdout, stderr string) {
	if !o.cfg.LogCommandExecutes {
		return
	}
	if v, ok := child(command, "commandParams")["log_output"].(string); ok && v == "false" {
		return
	}
	taskID := pyvalue.Str(command["taskId"])
	ident := fmt.Sprintf("command with id = %s, role = %s, roleCommand = %s",
		taskID, pyvalue.Str(command["role"]), pyvalue.Str(command["roleCommand"]))
	for _, part := range []struct{ name, text string }{{"output", stdout}, {"stderr", stderr}} {
		if part.text == "" {
			continue
		}
		o.log.Infof("Begin command %s log for %s", part.name, ident)
		chunks := splitOnChunks(HidePasswords(part.text), maxSymbolsPerLogMessage)
		if len(chunks) == 1 {
			o.log.Infof("Cmd log for taskId=%s: %s", taskID, chunks[0])
		} else {
			for i, c := range chunks {
				o.log.Infof("Cmd log for taskId=%s and chunk %d/%d of log for command: \n%s", taskID, i+1, len(chunks), c)
			}
		}
		o.log.Infof("End command %s log for %s", part.name, ident)
	}
}

// splitOnChunks splits text into chunks of at most max characters without
// splitting lines, except lines that are longer than max on their own.
func splitOnChunks(text string, max int) []string {
	lines := strings.Split(normalizeString(text), "\n")
	if strings.HasSuffix(text, "\n") {
		lines = lines[:len(lines)-1]
	}
	var chunks []string
	var chunk []rune
	for len(lines) > 0 {
		line := []rune(lines[0])
		if len(chunk)+len(line) > max {
			chunks = append(chunks, trimLastNewline(chunk))
			chunk = nil
			if len(line) > max {
				for x := 0; x < len(line); x += max {
					end := x + max
					if end > len(line) {
						end = len(line)
					}
					chunks = append(chunks, string(line[x:end]))
				}
				lines = lines[1:]
			}
			continue
		}
		chunk = append(append(chunk, line...), '\n')
		lines = lines[1:]
	}
	return append(chunks, trimLastNewline(chunk))
}

func trimLastNewline(r []rune) string {
	if len(r) > 0 {
		r = r[:len(r)-1]
	}
	return string(r)
}

func normalizeString(s string) string {
	if !strings.Contains(s, "\r") {
		return s
	}
	return string(normalizeNewlines([]byte(s)))
}
