package logging

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sirupsen/logrus"
)

// Rotation limits of the Python agent's log handlers.
const (
	MaxFileSize = 10_000_000
	MaxBackups  = 25
)

// Options selects where and how to log.
type Options struct {
	// File is the log file; "" logs to stderr only.
	File string
	// Level is the initial level.
	Level logrus.Level
	// JSON selects logrus' JSON formatter instead of the Python layout.
	JSON bool
	// AlsoStderr copies every line to stderr (foreground runs).
	AlsoStderr bool
	// Journal copies every line to Stderr in the form journald reads
	// (JournalFormatter): see UnderJournal.
	Journal bool
	// Stderr receives the AlsoStderr and Journal copies; nil: os.Stderr.
	Stderr io.Writer
}

// New returns a logger writing per opts, and a function closing its file.
func New(opts Options) (*logrus.Logger, func() error, error) {
	l := logrus.New()
	l.SetLevel(opts.Level)
	if opts.JSON {
		l.SetFormatter(&logrus.JSONFormatter{TimestampFormat: "2006-01-02T15:04:05.000Z07:00"})
	} else {
		l.SetFormatter(&TextFormatter{})
	}
	closeFn := func() error { return nil }
	stderr := opts.Stderr
	if stderr == nil {
		stderr = os.Stderr
	}
	var out io.Writer = stderr
	if opts.File != "" {
		rf, err := OpenRotating(opts.File, MaxFileSize, MaxBackups)
		if err != nil {
			return nil, nil, fmt.Errorf("open log %s: %w", opts.File, err)
		}
		closeFn = rf.Close
		out = rf
		switch {
		case opts.Journal:
			l.AddHook(&copyHook{w: stderr, f: JournalFormatter{}})
		case opts.AlsoStderr:
			l.AddHook(&copyHook{w: stderr, f: l.Formatter})
		}
	}
	l.SetOutput(out)
	return l, closeFn, nil
}

// Reopen reopens the log file of a logger New made (SIGHUP after
// logrotate moved it away); a logger without a file is left alone.
func Reopen(l *logrus.Logger) error {
	if rf, ok := l.Out.(*RotatingFile); ok {
		return rf.Reopen()
	}
	return nil
}

// copyHook writes every entry to a second writer in its own format.
type copyHook struct {
	mu sync.Mutex
	w  io.Writer
	f  logrus.Formatter
}

func (h *copyHook) Levels() []logrus.Level { return logrus.AllLevels }

func (h *copyHook) Fire(e *logrus.Entry) error {
	b, err := h.f.Format(e)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err = h.w.Write(b)
	return err
}

// UnderJournal reports whether stderr is connected to journald: systemd
// sets JOURNAL_STREAM to the device and inode of the stream it gave the
// service, and a child whose stderr went elsewhere (ambari-agent.out) must
// not write the journal's form there.
func UnderJournal() bool {
	v := os.Getenv("JOURNAL_STREAM")
	if v == "" {
		return false
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(2, &st); err != nil {
		return false
	}
	return v == fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}

// JournalFormatter renders a line as journald wants it on stderr: a
// "<N>" syslog priority prefix (journald turns it into PRIORITY=), no
// timestamp (the journal keeps its own), "component - message" and the
// entry's fields. A multi-line message keeps its priority on every line.
type JournalFormatter struct{}

// Format implements logrus.Formatter.
func (JournalFormatter) Format(e *logrus.Entry) ([]byte, error) {
	var body bytes.Buffer
	writeBody(&body, e)
	prefix := fmt.Sprintf("<%d>", syslogPriority(e.Level))
	var b bytes.Buffer
	for _, l := range strings.Split(strings.TrimRight(body.String(), "\n"), "\n") {
		b.WriteString(prefix)
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

func syslogPriority(l logrus.Level) int {
	switch l {
	case logrus.PanicLevel:
		return 2 // crit
	case logrus.FatalLevel:
		return 2
	case logrus.ErrorLevel:
		return 3
	case logrus.WarnLevel:
		return 4
	case logrus.InfoLevel:
		return 6
	default:
		return 7
	}
}

// Discard returns an entry that logs nothing, for components built without
// a logger (mostly tests). At the lowest level, entries are not even
// formatted.
func Discard() *logrus.Entry {
	l := logrus.New()
	l.SetOutput(io.Discard)
	l.SetLevel(logrus.PanicLevel)
	return logrus.NewEntry(l)
}

// OrDiscard returns log, or a discarding entry when log is nil: what every
// component does with the optional logger of its Config.
func OrDiscard(log *logrus.Entry) *logrus.Entry {
	if log != nil {
		return log
	}
	return Discard()
}

// Component returns the entry a component logs through.
func Component(l *logrus.Logger, name string) *logrus.Entry {
	return l.WithField("component", name)
}

// TextFormatter renders the Python agent's layout,
// "INFO 2024-10-16 12:00:01,234 component - message", followed by the
// entry's other fields as key=value in a stable order.
type TextFormatter struct{}

// Format implements logrus.Formatter.
func (TextFormatter) Format(e *logrus.Entry) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(pythonLevel(e.Level))
	b.WriteByte(' ')
	b.WriteString(e.Time.Format("2006-01-02 15:04:05"))
	fmt.Fprintf(&b, ",%03d ", e.Time.Nanosecond()/int(time.Millisecond))
	writeBody(&b, e)
	return b.Bytes(), nil
}

// writeBody writes "component - message key=value…\n".
func writeBody(b *bytes.Buffer, e *logrus.Entry) {
	comp, _ := e.Data["component"].(string)
	if comp == "" {
		comp = "agent"
	}
	b.WriteString(comp)
	b.WriteString(" - ")
	writeMessage(b, strings.TrimRight(e.Message, "\n"))
	keys := make([]string, 0, len(e.Data))
	for k := range e.Data {
		if k != "component" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := e.Data[k]
		if err, ok := v.(error); ok {
			v = err.Error()
		}
		s := fmt.Sprint(v)
		// Field values often come from the network (destinations, ids,
		// errors quoting a reply): control bytes are never written raw.
		if strings.ContainsAny(s, " \"=\n") || strings.IndexFunc(s, unprintable) >= 0 {
			s = fmt.Sprintf("%q", s)
		}
		fmt.Fprintf(b, " %s=%s", k, s)
	}
	b.WriteByte('\n')
}

func unprintable(r rune) bool { return !unicode.IsPrint(r) }

// controlChar is a control character other than a line break or a tab:
// never wanted in a log file, and an escape sequence can rewrite the
// terminal of whoever reads it.
func controlChar(r rune) bool {
	return (r < 0x20 && r != '\n' && r != '\t' && r != '\r') || (r >= 0x7f && r <= 0x9f)
}

// writeMessage writes a message with its control characters escaped as
// \xNN. Messages may carry text from the network or from scripts; the
// places that log server bytes quote them, this is the net under them.
func writeMessage(b *bytes.Buffer, msg string) {
	if strings.IndexFunc(msg, controlChar) < 0 {
		b.WriteString(msg)
		return
	}
	for len(msg) > 0 {
		r, n := utf8.DecodeRuneInString(msg)
		if controlChar(r) {
			fmt.Fprintf(b, "\\x%02x", r)
		} else {
			b.WriteString(msg[:n]) // invalid UTF-8 passes as it is
		}
		msg = msg[n:]
	}
}

func pythonLevel(l logrus.Level) string {
	switch l {
	case logrus.PanicLevel, logrus.FatalLevel:
		return "CRITICAL"
	case logrus.ErrorLevel:
		return "ERROR"
	case logrus.WarnLevel:
		return "WARNING"
	case logrus.InfoLevel:
		return "INFO"
	default:
		return "DEBUG"
	}
}
