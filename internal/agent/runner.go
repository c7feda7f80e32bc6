package agent

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// Component is a long-running part of the agent.
type Component interface {
	Run(ctx context.Context) error
}

// ComponentFunc adapts a function to Component.
type ComponentFunc func(ctx context.Context) error

// Run implements Component.
func (f ComponentFunc) Run(ctx context.Context) error { return f(ctx) }

type namedComponent struct {
	name string
	c    Component
}

// group runs components concurrently, each under its own context, and
// stops them in the reverse of the order they were added: producers added
// last stop first, the server link (added first) stops last so what the
// others flush on their way out can still be sent.
type group struct {
	log   *logrus.Entry
	comps []namedComponent
}

func (g *group) add(name string, c Component) {
	g.comps = append(g.comps, namedComponent{name, c})
}

// run starts every component and returns when ctx is done or a component
// fails (returns an error or panics), after stopping all of them. Stopping
// takes at most stopBudget() in all (asked once the stop begins); components still running then are
// abandoned (they hold nothing that outlives the process).
func (g *group) run(ctx context.Context, stopBudget func() time.Duration) error {
	type running struct {
		cancel context.CancelFunc
		done   chan struct{}
	}
	failed := make(chan error, len(g.comps))
	rs := make([]running, len(g.comps))
	for i, nc := range g.comps {
		cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		rs[i] = running{cancel, make(chan struct{})}
		go func(nc namedComponent, done chan struct{}) {
			defer close(done)
			err := safeRun(cctx, nc)
			if err != nil && cctx.Err() == nil {
				failed <- fmt.Errorf("%s: %w", nc.name, err)
			} else if err != nil {
				g.log.WithError(err).Warnf("%s stopped with an error", nc.name)
			}
		}(nc, rs[i].done)
	}

	var cause error
	select {
	case <-ctx.Done():
	case cause = <-failed:
		g.log.WithError(cause).Error("component failed; stopping the agent")
	}

	deadline := time.Now().Add(stopBudget())
	for i := len(rs) - 1; i >= 0; i-- {
		rs[i].cancel()
		select {
		case <-rs[i].done:
		case <-time.After(time.Until(deadline)):
			g.log.Warnf("%s did not stop in time; leaving it", g.comps[i].name)
		}
	}
	return cause
}

func safeRun(ctx context.Context, nc namedComponent) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	return nc.c.Run(ctx)
}

// ErrRestart is returned by Agent.Run when a restart was requested (the
// Python agent's exit code 77).
var ErrRestart = errors.New("agent restart requested")

// restartRequest carries the first restart request; later ones are
// ignored.
type restartRequest struct {
	once   sync.Once
	ch     chan struct{}
	reason string
}

func newRestartRequest() *restartRequest { return &restartRequest{ch: make(chan struct{})} }

func (r *restartRequest) request(reason string) {
	r.once.Do(func() {
		r.reason = reason
		close(r.ch)
	})
}
