package monitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ambari-go/ambari-agent/internal/liveness"
)

// State is what the daemon tells `ambari-agent status` through the state
// file. It holds no secret: it is world-readable like the pid file.
type State struct {
	Pid     int    `json:"pid"`
	Version string `json:"version"`
	Build   string `json:"build,omitempty"`
	// Started is when the daemon started; Updated when it wrote this.
	Started time.Time `json:"started"`
	Updated time.Time `json:"updated"`
	// Server is the Ambari server the link talks (or tries to talk) to.
	Server     string `json:"server,omitempty"`
	Registered bool   `json:"registered"`
	// LastHeartbeat is the last heartbeat the server acknowledged.
	LastHeartbeat time.Time `json:"lastHeartbeat,omitzero"`
	// LinkError says why the link is down, while it is.
	LinkError string `json:"linkError,omitempty"`
	// DownSince is when the link went down (zero while registered).
	DownSince      time.Time `json:"downSince,omitzero"`
	Components     int       `json:"components"`
	PendingReports int       `json:"pendingReports"`
	// Degraded says why the agent cannot write its data dir, while it
	// cannot: it runs and heartbeats, but commands and reports may fail.
	Degraded string            `json:"degraded,omitempty"`
	Parts    []liveness.Health `json:"parts"`
}

// StateFile is where the daemon writes its state: next to its pid file.
func StateFile(pidFile string) string {
	return strings.TrimSuffix(pidFile, ".pid") + ".state.json"
}

// WriteState replaces the state file atomically (a reader sees the old
// or the new state, never half of one). It is not flushed to disk: it is
// rewritten every heartbeat by every agent of a host, and a state lost in
// a power cut is rewritten at the next heartbeat.
func WriteState(path string, st *State) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, werr := f.Write(append(b, '\n'))
	cerr := f.Close()
	if err := errors.Join(werr, cerr, os.Chmod(f.Name(), 0o644)); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// ReadState reads a state file.
func ReadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	return &st, nil
}

// Summary is the one-line STATUS= text systemd shows: "registered with
// HOST, 12 components, 0 pending reports".
func (st *State) Summary() string {
	var b strings.Builder
	switch {
	case st.Registered:
		fmt.Fprintf(&b, "registered with %s", st.Server)
	case st.Server != "":
		fmt.Fprintf(&b, "not registered, trying %s", st.Server)
	default:
		b.WriteString("starting")
	}
	fmt.Fprintf(&b, ", %d components, %d pending reports", st.Components, st.PendingReports)
	if st := liveness.Stalled(st.Parts); len(st) > 0 {
		names := make([]string, len(st))
		for i, h := range st {
			names[i] = h.Name + " (" + h.Reason + ")"
		}
		fmt.Fprintf(&b, "; STALLED: %s", strings.Join(names, ", "))
	}
	if st.Degraded != "" {
		fmt.Fprintf(&b, "; DEGRADED: %s", st.Degraded)
	}
	return b.String()
}

// staleAfter: a state file older than this was not rewritten by a live
// daemon's timer (it is rewritten at every heartbeat and every
// stateRefresh at least).
const staleAfter = 3 * stateRefresh

// PrintStatus writes what `ambari-agent status` shows of a running
// daemon, as of now; verbose adds the per-part table.
func PrintStatus(w io.Writer, st *State, now time.Time, verbose bool) {
	ago := func(t time.Time) string { return age(now.Sub(t)) + " ago" }
	build := ""
	if st.Build != "" {
		build = " (build " + st.Build + ")"
	}
	fmt.Fprintf(w, "Version: %s%s\n", st.Version, build)
	fmt.Fprintf(w, "Uptime: %s\n", age(now.Sub(st.Started)))
	switch {
	case st.Registered:
		fmt.Fprintf(w, "Server: registered with %s\n", st.Server)
	case st.Server == "":
		fmt.Fprintf(w, "Server: not registered yet\n")
	default:
		since := ""
		if !st.DownSince.IsZero() {
			since = " for " + age(now.Sub(st.DownSince))
		}
		fmt.Fprintf(w, "Server: NOT registered; %s unreachable%s", st.Server, since)
		if st.LinkError != "" {
			fmt.Fprintf(w, " (%s)", st.LinkError)
		}
		fmt.Fprintln(w)
	}
	if st.LastHeartbeat.IsZero() {
		fmt.Fprintf(w, "Last acknowledged heartbeat: none\n")
	} else {
		fmt.Fprintf(w, "Last acknowledged heartbeat: %s\n", ago(st.LastHeartbeat))
	}
	fmt.Fprintf(w, "Components: %d\n", st.Components)
	fmt.Fprintf(w, "Pending reports: %d\n", st.PendingReports)
	if st.Degraded != "" {
		fmt.Fprintf(w, "DEGRADED: %s\n", st.Degraded)
	}
	stalled := liveness.Stalled(st.Parts)
	if len(stalled) == 0 {
		fmt.Fprintf(w, "Stalled parts: none\n")
	}
	for _, h := range stalled {
		fmt.Fprintf(w, "STALLED: %s: %s\n", h.Name, h.Reason)
	}
	if d := now.Sub(st.Updated); d > staleAfter {
		fmt.Fprintf(w, "WARNING: this state was written %s; the agent may be hung\n", ago(st.Updated))
	}
	if !verbose {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "PART\tSTATE\tLAST PROGRESS\tBOUND\tNOTE")
	for _, h := range st.Parts {
		state := "ok"
		switch {
		case h.Stalled:
			state = "STALLED"
		case h.Busy > 0:
			state = fmt.Sprintf("busy (%d)", h.Busy)
		case h.Idle:
			state = "idle"
		}
		note := h.Note
		if h.Stalled {
			note = h.Reason
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", h.Name, state, ago(h.LastProgress), time.Duration(h.Bound), note)
	}
	tw.Flush()
}

// age renders a duration for people: whole seconds, minutes, hours, days.
func age(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	default:
		return fmt.Sprintf("%dd%02dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
	}
}
