package agent

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
)

// PingListener answers every TCP connection on the ping port with "OK"
// (Python: PingPortListener.py). The server learns the port at registration.
// Binding it doubles as the one-agent-per-port lock on the host.
//
// Unlike the Python 3 listener, which raises on its first connection and
// leaves the port bound but unserved, it keeps serving.
type PingListener struct {
	ln  net.Listener
	log *logrus.Entry
}

// ListenPing binds 0.0.0.0:port (0 = any free port). When the port is taken
// the error names the process holding it, when that can be found.
func ListenPing(port int, log *logrus.Entry) (*PingListener, error) {
	ln, err := net.Listen("tcp", fmt.Sprintf("0.0.0.0:%d", port))
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			msg := fmt.Sprintf("Could not open port %d because port already used by another process", port)
			if who := portOwner(port); who != "" {
				msg += ": " + who
			}
			return nil, errors.New(msg)
		}
		return nil, fmt.Errorf("open ping port %d: %w", port, err)
	}
	return &PingListener{ln: ln, log: log}, nil
}

// Port is the bound port.
func (p *PingListener) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// Run serves until ctx is done, then closes the port.
func (p *PingListener) Run(ctx context.Context) error {
	go func() {
		<-ctx.Done()
		p.ln.Close()
	}()
	p.log.Infof("Ping port listener started on port %d", p.Port())
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			p.log.WithError(err).Warn("ping port accept failed")
			// Back off briefly so a persistent error (e.g. EMFILE) does
			// not spin.
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
			continue
		}
		// Served inline: a two-byte reply with a short deadline never
		// holds the loop for long, and no goroutine is spawned per peer.
		c.SetWriteDeadline(time.Now().Add(2 * time.Second))
		c.Write([]byte("OK"))
		c.Close()
	}
}

// Close releases the port without serving.
func (p *PingListener) Close() error { return p.ln.Close() }

// portOwner finds the process listening on a TCP port through /proc, the
// way `fuser <port>/tcp` does, and describes it as "pid N (cmdline)".
func portOwner(port int) string {
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			// local_address is HEXIP:HEXPORT, st 0A is LISTEN
			if len(fields) < 10 || fields[3] != "0A" {
				continue
			}
			i := strings.LastIndexByte(fields[1], ':')
			if i < 0 {
				continue
			}
			if p, err := strconv.ParseInt(fields[1][i+1:], 16, 32); err == nil && int(p) == port {
				inodes["socket:["+fields[9]+"]"] = true
			}
		}
		fh.Close()
	}
	if len(inodes) == 0 {
		return ""
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range procs {
		target, err := os.Readlink(fd)
		if err != nil || !inodes[target] {
			continue
		}
		pid := strings.Split(fd, "/")[2]
		cmd, _ := os.ReadFile("/proc/" + pid + "/cmdline")
		return fmt.Sprintf("pid %s (%s)", pid, strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " ")))
	}
	return ""
}
