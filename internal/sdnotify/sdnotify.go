// Package sdnotify speaks systemd's service notification protocol: one
// datagram of "KEY=VALUE" lines to the unix socket named by NOTIFY_SOCKET
// (a path, or an abstract socket when it starts with '@'). With
// Type=notify, READY=1 ends "activating"; WATCHDOG=1 resets the
// WatchdogSec= timer; STATUS= is what `systemctl status` shows. Outside
// systemd NOTIFY_SOCKET is unset and every call does nothing.
package sdnotify

import (
	"errors"
	"net"
	"os"
	"strconv"
	"time"
)

// Notification states.
const (
	Ready     = "READY=1"
	Stopping  = "STOPPING=1"
	Watchdog  = "WATCHDOG=1"
	Reloading = "RELOADING=1"
)

// Status returns the STATUS= line showing s (one line: newlines would end
// the assignment).
func Status(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '\n' {
			b[i] = ' '
		}
	}
	return "STATUS=" + string(b)
}

// Notifier sends notifications to one socket.
type Notifier struct {
	addr *net.UnixAddr
}

// FromEnv returns a notifier for $NOTIFY_SOCKET, or nil when it is unset
// (not started by systemd with Type=notify). A nil *Notifier is valid and
// sends nothing.
func FromEnv() *Notifier {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	return New(path)
}

// New returns a notifier for the socket at path ('@' for abstract).
func New(path string) *Notifier {
	// The net package maps a leading '@' to the abstract namespace's NUL
	// byte, which is systemd's own convention.
	return &Notifier{addr: &net.UnixAddr{Name: path, Net: "unixgram"}}
}

// Notify sends states, one per line, in one datagram. A nil notifier
// returns nil.
func (n *Notifier) Notify(states ...string) error {
	if n == nil {
		return nil
	}
	if len(states) == 0 {
		return errors.New("sdnotify: nothing to send")
	}
	msg := ""
	for i, s := range states {
		if i > 0 {
			msg += "\n"
		}
		msg += s
	}
	// A fresh socket per message: notifications are rare (seconds apart)
	// and systemd may be restarted meanwhile.
	c, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetWriteDeadline(time.Now().Add(time.Second))
	_, err = c.Write([]byte(msg))
	return err
}

// WatchdogInterval returns systemd's WatchdogSec= for this process
// (WATCHDOG_USEC, when WATCHDOG_PID is unset or names this process); ok is
// false when no watchdog is armed.
func WatchdogInterval() (d time.Duration, ok bool) {
	usec, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || usec <= 0 {
		return 0, false
	}
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return 0, false
	}
	return time.Duration(usec) * time.Microsecond, true
}
