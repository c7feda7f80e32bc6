package hostinfo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// ErrProbeTimeout means a probe did not finish within its limit; the probe
// keeps running in the background until the kernel lets it go.
var ErrProbeTimeout = errors.New("probe timed out")

// ErrProbeBusy means the previous run of the same probe is still stuck, so no
// new one was started.
var ErrProbeBusy = errors.New("previous probe still running")

// probeGrace is how long past its limit a probe may take to wind down (kill,
// pipe close) before the caller stops waiting for it.
const probeGrace = time.Second

// probes bounds every host probe in time. A probe on a dead NFS mount or a hung
// name server sits in the kernel where no signal reaches it; the caller must
// not wait for it. At most one run per key is ever in flight, so a probe that
// hangs for hours costs one goroutine, not one per report.
type probes struct {
	mu   sync.Mutex
	busy map[string]struct{}
	// last holds the most recent good value of probes that asked for it, so a
	// hung probe makes its field stale rather than flapping to empty. Keys are a
	// fixed set, so the map stays small.
	last map[string]any
}

func newProbes() *probes {
	return &probes{busy: map[string]struct{}{}, last: map[string]any{}}
}

// runProbe runs f with a context that expires after limit and waits at most
// limit+probeGrace for it. With keep set, a successful value is remembered and
// returned (with the error) when a later run times out or is skipped.
func runProbe[T any](ctx context.Context, p *probes, key string, limit time.Duration, keep bool, f func(context.Context) (T, error)) (T, error) {
	var zero T
	p.mu.Lock()
	if _, stuck := p.busy[key]; stuck {
		v := staleValue(p, key, keep, zero)
		p.mu.Unlock()
		return v, fmt.Errorf("%s: %w", key, ErrProbeBusy)
	}
	p.busy[key] = struct{}{}
	p.mu.Unlock()

	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), limit)
	go func() {
		defer cancel()
		var r result
		defer func() {
			if rec := recover(); rec != nil {
				r = result{err: fmt.Errorf("%s: panic: %v", key, rec)}
			}
			p.mu.Lock()
			delete(p.busy, key)
			if keep && r.err == nil {
				p.last[key] = r.v
			}
			p.mu.Unlock()
			done <- r
		}()
		r.v, r.err = f(pctx)
	}()

	t := time.NewTimer(limit + probeGrace)
	defer t.Stop()
	select {
	case r := <-done:
		if r.err != nil {
			p.mu.Lock()
			v := staleValue(p, key, keep, r.v)
			p.mu.Unlock()
			return v, r.err
		}
		return r.v, nil
	case <-t.C:
		p.mu.Lock()
		v := staleValue(p, key, keep, zero)
		p.mu.Unlock()
		return v, fmt.Errorf("%s after %s: %w", key, limit, ErrProbeTimeout)
	case <-ctx.Done():
		return zero, fmt.Errorf("%s: %w", key, ctx.Err())
	}
}

// staleValue returns the remembered value for key, or def. p.mu must be held.
func staleValue[T any](p *probes, key string, keep bool, def T) T {
	if keep {
		if v, ok := p.last[key].(T); ok {
			return v
		}
	}
	return def
}

// cmdResult is what a finished command printed and how it ended.
type cmdResult struct {
	stdout, stderr string
	code           int // exit code; -1 if killed by a signal
}

// waitDelay bounds how long a command's pipes may stay open after the command
// exited or was killed (a grandchild that inherited stdout).
const waitDelay = 500 * time.Millisecond

// runCommand runs argv (no shell) until ctx expires, then kills its whole
// process group. An exit status other than 0 is not an error: the caller reads
// code. err is set only when the command could not run or was killed.
func runCommand(ctx context.Context, argv ...string) (cmdResult, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var out, errb bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errb
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// Kill the group: `service foo status` and `timeout df` fork children
		// that would otherwise keep running (and keep our pipes open).
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = waitDelay
	err := cmd.Run()
	res := cmdResult{stdout: out.String(), stderr: errb.String()}
	if cmd.ProcessState != nil {
		res.code = cmd.ProcessState.ExitCode()
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil, errors.Is(err, exec.ErrWaitDelay):
		// ErrWaitDelay: the command exited but a child kept the pipes open;
		// what it printed so far is its answer.
		return res, nil
	case ctx.Err() != nil:
		return res, fmt.Errorf("run %s: %w", argv[0], ctx.Err())
	case errors.As(err, &exitErr):
		return res, nil
	default:
		return res, fmt.Errorf("run %s: %w", argv[0], err)
	}
}

// cannotRun reports whether err means the program could not be started at
// all (missing or not executable), which checks treat like the shell's exit
// 127 in the Python agent rather than as a failure worth a warning.
func cannotRun(err error) bool {
	var execErr *exec.Error
	return errors.As(err, &execErr) || errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission)
}

// commandProbe runs argv as a bounded probe under key.
func (h *HostInfo) commandProbe(ctx context.Context, key string, limit time.Duration, argv ...string) (cmdResult, error) {
	return runProbe(ctx, h.probes, key, limit, false, func(ctx context.Context) (cmdResult, error) {
		return runCommand(ctx, argv...)
	})
}
