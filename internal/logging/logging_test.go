package logging

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
)

func TestRotationKeepsNumberedBackups(t *testing.T) {
	p := filepath.Join(t.TempDir(), "logs", "ambari-agent.log")
	r, err := OpenRotating(p, 100, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		fmt.Fprintf(r, "line %02d %s\n", i, strings.Repeat("x", 30))
	}
	r.Close()
	for _, name := range []string{"ambari-agent.log", "ambari-agent.log.1", "ambari-agent.log.2", "ambari-agent.log.3"} {
		st, err := os.Stat(filepath.Join(filepath.Dir(p), name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if st.Size() > 100 {
			t.Errorf("%s is %d bytes, over the limit", name, st.Size())
		}
	}
	if _, err := os.Stat(p + ".4"); !os.IsNotExist(err) {
		t.Error("more backups than configured")
	}
	last, _ := os.ReadFile(p)
	if !strings.Contains(string(last), "line 19") {
		t.Errorf("newest line not in the current file: %q", last)
	}
	prev, _ := os.ReadFile(p + ".1")
	if !strings.Contains(string(prev), "line 17") {
		t.Errorf(".1 does not hold the lines just before: %q", prev)
	}
}

func TestTextFormatMatchesPythonLayout(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.log")
	l, closeFn, err := New(Options{File: p, Level: logrus.InfoLevel})
	if err != nil {
		t.Fatal(err)
	}
	Component(l, "ActionQueue").WithField("taskId", 42).Info("Adding EXECUTION_COMMAND")
	Component(l, "x").Debug("hidden")
	closeFn()
	b, _ := os.ReadFile(p)
	re := regexp.MustCompile(`^INFO \d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ActionQueue - Adding EXECUTION_COMMAND taskId=42\n$`)
	if !re.Match(b) {
		t.Fatalf("log line %q", b)
	}
}

// TestJournalCopyOnStderr: under journald the file keeps the Python
// layout and stderr gets "<priority>component - message" lines, one prefix
// per line of a multi-line message.
func TestJournalCopyOnStderr(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.log")
	var stderr strings.Builder
	l, closeFn, err := New(Options{File: p, Level: logrus.InfoLevel, Journal: true, Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	Component(l, "link").WithField("server", "c6401").Warn("Server unreachable")
	Component(l, "main").Error("two\nlines")
	Component(l, "main").Info("ok")
	closeFn()
	want := "<4>link - Server unreachable server=c6401\n<3>main - two\n<3>lines\n<6>main - ok\n"
	if stderr.String() != want {
		t.Errorf("stderr %q, want %q", stderr.String(), want)
	}
	b, _ := os.ReadFile(p)
	if !regexp.MustCompile(`^WARNING \d{4}-`).Match(b) {
		t.Errorf("file %q", b)
	}
}

// TestReopenAfterRotationByRename: logrotate renames the file and the
// agent, on SIGHUP, writes to a new file under the old name.
func TestReopenAfterRotationByRename(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.log")
	l, closeFn, err := New(Options{File: p, Level: logrus.InfoLevel})
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	l.Info("before")
	if err := os.Rename(p, p+".rotated"); err != nil {
		t.Fatal(err)
	}
	l.Info("still in the moved file")
	if err := Reopen(l); err != nil {
		t.Fatal(err)
	}
	l.Info("after")
	moved, _ := os.ReadFile(p + ".rotated")
	cur, _ := os.ReadFile(p)
	if !strings.Contains(string(moved), "still in the moved file") || strings.Contains(string(moved), "after") {
		t.Errorf("moved file %q", moved)
	}
	if !strings.Contains(string(cur), "after") || strings.Contains(string(cur), "before") {
		t.Errorf("new file %q", cur)
	}
}

// A field value with control bytes (a destination or an id taken from the
// network) is written quoted, never raw.
func TestTextFormatQuotesControlBytesInFields(t *testing.T) {
	e := logrus.NewEntry(logrus.New()).WithFields(logrus.Fields{"destination": "/user/\x1b[2Jx", "messageId": "7"})
	e.Message = "dropped"
	b, err := TextFormatter{}.Format(e)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(b), ` - dropped destination="/user/\x1b[2Jx" messageId=7`+"\n") {
		t.Errorf("line %q", b)
	}
}

// Control characters in a message (an escape sequence from a server or a
// script) are written escaped; line breaks and tabs stay.
func TestTextFormatEscapesControlCharactersInMessages(t *testing.T) {
	e := logrus.NewEntry(logrus.New())
	e.Message = "name \x1b[31mred\x1b[0m\tand\nnext line \x07\u009b\xff"
	b, err := TextFormatter{}.Format(e)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(b), ` - name \x1b[31mred\x1b[0m`+"\tand\nnext line "+`\x07\x9b`+"\xff\n") {
		t.Errorf("line %q", b)
	}
}
