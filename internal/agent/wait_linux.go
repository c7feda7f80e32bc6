package agent

import (
	"time"

	"golang.org/x/sys/unix"
)

// waitGone waits until pid has exited or d has passed and reports whether
// it is gone. It sleeps in poll(2) on a pidfd (Linux 5.3+), which wakes
// when the process exits, and falls back to checking every 100 ms.
func waitGone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	if fd, err := unix.PidfdOpen(pid, 0); err == nil {
		defer unix.Close(fd)
		for {
			left := time.Until(deadline)
			if left <= 0 {
				return !Alive(pid)
			}
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			n, err := unix.Poll(fds, int(left/time.Millisecond)+1)
			if err == unix.EINTR {
				continue
			}
			if err != nil || n > 0 {
				break
			}
		}
		// Readable pidfd: the process exited (it may linger as a zombie of
		// its parent, which Alive treats as gone).
		if !Alive(pid) {
			return true
		}
	}
	for time.Now().Before(deadline) {
		if !Alive(pid) {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return !Alive(pid)
}
