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
)

const (
	diagTimeout   = 10 * time.Second
	diagMaxOutput = 1 << 20
	// maxSymbolsPerLogMessage keeps each copied output chunk under what
	// syslog accepts.
	maxSymbolsPerLogMessage = 7900
	passwordReplacement     = "[PROTECTED]"
)

// passwordPattern masks 'xxxpassword': 'value' pairs (Python dict reprs)
// in output copied to the agent log.
var passwordPattern = regexp.MustCompile(`('\S*password':\s*u?')(\S+)(')`)

// HidePasswords replaces the values of 'password'-like keys with
// [PROTECTED], as the agent does before copying script output to its log.
func HidePasswords(text string) string {
	return passwordPattern.ReplaceAllString(text, "${1}"+passwordReplacement+"${3}")
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
	taskID := pyStr(command["taskId"])
	ident := fmt.Sprintf("command with id = %s, role = %s, roleCommand = %s",
		taskID, pyStr(command["role"]), pyStr(command["roleCommand"]))
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
