package orchestrator

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ambari-go/ambari-agent/internal/protocol"
)

// commandFilePath names the JSON file a command is handed to scripts in.
func (o *Orchestrator) commandFilePath(commandType, taskID string, status bool) string {
	switch {
	case status:
		// Status checks may run in parallel: each gets its own file.
		return filepath.Join(o.cfg.Prefix, "status_command_"+newUUID()+".json")
	case commandType == protocol.AutoExecutionCommand:
		return filepath.Join(o.cfg.Prefix, "auto_command-"+taskID+".json")
	default:
		return filepath.Join(o.cfg.Prefix, "command-"+taskID+".json")
	}
}

// writeCommandFile writes the command as indented JSON readable by the
// agent's user only: it holds passwords. An existing file is removed first
// and the new one created exclusively, so a planted file or link cannot
// redirect the write. Deliberate difference: keys are sorted, where the
// Python agent keeps insertion order; scripts load the file into a dict.
func writeCommandFile(path string, cmd map[string]any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "    ")
	if err := enc.Encode(cmd); err != nil {
		return fmt.Errorf("encode command: %w", err)
	}
	data := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove old command file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create command file: %w", err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("write command file: %w", err)
	}
	return nil
}

// dropCommandFile applies the retention policy once a command is over;
// status command files always go.
func (o *Orchestrator) dropCommandFile(path string, status bool, exitCode int) {
	if path == "" {
		return
	}
	remove := status
	if !status {
		switch o.cfg.RetentionPolicy {
		case RetentionRemove:
			remove = true
		case RetentionRemoveOnSuccess:
			remove = exitCode == 0
		}
	}
	if !remove {
		return
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		o.log.WithError(err).WithField("file", path).Error("Failed to remove command file")
	}
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
