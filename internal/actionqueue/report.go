package actionqueue

import (
	"bytes"
	"encoding/json"
	"io"
	"os"

	"github.com/ambari-go/ambari-agent/internal/orchestrator"
	"github.com/ambari-go/ambari-agent/internal/protocol"
)

// template is the part every report of a command carries (docs/protocol.md §6.1,
// docs/behaviour.md §5.3).
func template(c *command) protocol.CommandReport {
	return protocol.CommandReport{
		Role:        c.Role,
		ActionID:    c.CommandID,
		TaskID:      c.TaskID,
		ClusterID:   c.ClusterID,
		ServiceName: c.ServiceName,
		RoleCommand: c.RoleCommand,
	}
}

// formA is the IN_PROGRESS report sent when a command starts: the three
// file paths (docs/protocol.md §6.1 form A).
func formA(c *command, f orchestrator.TaskFiles) protocol.CommandReport {
	r := template(c)
	r.TmpOut = f.Out
	r.TmpErr = f.Err
	r.StructuredOut = ptr(f.ReportedStructuredOut)
	r.Status = protocol.StatusInProgress
	return r
}

// formB is the periodic IN_PROGRESS report: the tails of the output files
// and the raw structured output (form B).
func formB(t protocol.CommandReport, outFile, errFile, structuredFile string, maxSymbols int) protocol.CommandReport {
	t.TmpOut, t.TmpErr = "", ""
	t.Stdout = ptr(orchestrator.TailOutputFile(outFile, maxSymbols))
	t.Stderr = ptr(orchestrator.TailOutputFile(errFile, maxSymbols))
	t.StructuredOut = ptr(rawStructuredOut(structuredFile))
	t.ExitCode = ptr(protocol.ExitCodeInProgress)
	t.Status = protocol.StatusInProgress
	return t
}

// formC is a final report (form C) from an orchestrator result whose texts
// carry the agent's suffixes already.
func formC(c *command, res orchestrator.Result, status string) protocol.CommandReport {
	r := template(c)
	r.Stdout = ptr(orNone(res.Stdout))
	r.Stderr = ptr(orNone(res.Stderr))
	r.ExitCode = ptr(res.ExitCode)
	r.Status = status
	r.StructuredOut = ptr(structuredOutText(res.StructuredOut))
	r.CustomCommand = c.CustomCommand
	return r
}

func ptr[T any](v T) *T { return &v }

func orNone(s string) string {
	if s == "" {
		return noneText
	}
	return s
}

// structuredOutText is the JSON text of a structured output. Python's
// quirk of quoting the "{}" of an early failure is not copied: that result
// is an empty object here.
func structuredOutText(m map[string]any) string {
	if m == nil {
		return "{}"
	}
	b, err := marshal(m)
	if err != nil {
		return "{}"
	}
	return string(b)
}

// rawStructuredOut is a structured-output file's text as a periodic report
// carries it: "{}" when missing, and also when larger than a report may be
// (the Python agent would send any size, which the server refuses).
func rawStructuredOut(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "{}"
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxReportSize+1))
	if err != nil || len(b) > MaxReportSize {
		return "{}"
	}
	return string(b)
}

// marshal is json.Marshal without HTML escaping (reports carry script
// output full of '<' and '&') and without the trailing newline.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
