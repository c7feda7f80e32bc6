package e2e

import (
	"io"
	"sync/atomic"
	"testing"

	"github.com/sirupsen/logrus"
)

// testLog sends a component's log lines to the test log when -v is given.
// Lines logged after the test ended are dropped.
func testLog(t testing.TB, name string) *logrus.Entry {
	l := logrus.New()
	l.SetOutput(io.Discard)
	if testing.Verbose() {
		w := &testWriter{t: t}
		t.Cleanup(func() { w.done.Store(true) })
		l.SetOutput(w)
	}
	return l.WithField("component", name)
}

type testWriter struct {
	t    testing.TB
	done atomic.Bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	if !w.done.Load() {
		w.t.Log(string(p))
	}
	return len(p), nil
}
