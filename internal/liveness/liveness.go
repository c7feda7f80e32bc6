package liveness

import (
	"fmt"
	"sync"
	"time"
)

// Registry holds the parts of one agent. Its clock is injectable so tests
// can move time without sleeping.
type Registry struct {
	now func() time.Time

	mu    sync.Mutex
	parts []*Part
	// onUnit, when set, learns how long each finished unit of work took
	// (the metrics' duration histograms).
	onUnit func(part, what string, d time.Duration)
}

// New returns an empty registry; now nil means the wall clock.
func New(now func() time.Time) *Registry {
	if now == nil {
		now = time.Now
	}
	return &Registry{now: now}
}

// OnUnit sets a function told the duration of every unit of work that
// ends (what is BeginFor's, "" for Begin). Set it before the parts run.
func (r *Registry) OnUnit(f func(part, what string, d time.Duration)) {
	r.mu.Lock()
	r.onUnit = f
	r.mu.Unlock()
}

// Part registers a part named name that counts as stalled when it makes no
// progress within bound. It starts idle. Asking twice for one name returns
// the same part (a self-restart builds the agent once; tests may build it
// again).
func (r *Registry) Part(name string, bound time.Duration) *Part {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.parts {
		if p.name == name {
			p.SetBound(bound)
			return p
		}
	}
	p := &Part{r: r, name: name, bound: bound, last: r.now(), units: map[uint64]unit{}}
	r.parts = append(r.parts, p)
	return p
}

// Part is one long-running part's liveness handle. The methods are safe
// for concurrent use and do nothing on a nil *Part, so a component built
// without liveness can call them unconditionally.
type Part struct {
	r    *Registry
	name string

	mu    sync.Mutex
	bound time.Duration
	// last is the last progress: a beat, going idle, or a unit ending.
	last time.Time
	// active: the part promised another beat within bound (it beat and
	// has not gone idle since).
	active bool
	// units are the units of work in flight, by id; each has its own
	// bound (a status check's is derived from its script timeout).
	units  map[uint64]unit
	nextID uint64
	// note is a short word on what the part is doing, shown with its
	// health ("registered with c6401", "reconnecting").
	note string
}

type unit struct {
	since time.Time
	bound time.Duration
	what  string
}

// Name is the part's name.
func (p *Part) Name() string {
	if p == nil {
		return ""
	}
	return p.name
}

// SetBound changes the bound (an interval learnt after start).
func (p *Part) SetBound(d time.Duration) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.bound = d
	p.mu.Unlock()
}

// Beat records progress and promises the next beat within the bound.
func (p *Part) Beat() {
	if p == nil {
		return
	}
	now := p.r.now()
	p.mu.Lock()
	p.last, p.active = now, true
	p.mu.Unlock()
}

// Idle records that the part now waits for work by design; it is not
// stalled until it beats again (units already in flight still count).
func (p *Part) Idle() {
	if p == nil {
		return
	}
	now := p.r.now()
	p.mu.Lock()
	p.last, p.active = now, false
	p.mu.Unlock()
}

// Note sets the short word on what the part is doing.
func (p *Part) Note(s string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.note = s
	p.mu.Unlock()
}

// Begin opens a unit of work bounded by the part's bound; the returned
// function ends it (call it exactly once; later calls do nothing).
func (p *Part) Begin() (end func()) { return p.BeginFor("", 0) }

// BeginFor opens a unit of work described by what (shown when it stalls)
// with its own bound; bound <= 0 means the part's bound.
func (p *Part) BeginFor(what string, bound time.Duration) (end func()) {
	if p == nil {
		return func() {}
	}
	now := p.r.now()
	p.mu.Lock()
	p.nextID++
	id := p.nextID
	p.units[id] = unit{since: now, bound: bound, what: what}
	p.mu.Unlock()
	return func() { p.end(id) }
}

func (p *Part) end(id uint64) {
	now := p.r.now()
	p.mu.Lock()
	u, ok := p.units[id]
	if ok {
		delete(p.units, id)
		p.last = now
	}
	p.mu.Unlock()
	if !ok {
		return
	}
	p.r.mu.Lock()
	f := p.r.onUnit
	p.r.mu.Unlock()
	if f != nil {
		f(p.name, u.what, now.Sub(u.since))
	}
}

// Health is one part's state at one moment.
type Health struct {
	Name string `json:"name"`
	// LastProgress is the last beat, idle or unit end.
	LastProgress time.Time `json:"lastProgress"`
	// Idle: waiting for work by design.
	Idle bool `json:"idle"`
	// Busy counts units of work in flight; BusySince is the oldest one's
	// start.
	Busy      int       `json:"busy,omitempty"`
	BusySince time.Time `json:"busySince,omitzero"`
	Bound     Duration  `json:"bound"`
	Note      string    `json:"note,omitempty"`
	Stalled   bool      `json:"stalled"`
	// Reason says why the part counts as stalled.
	Reason string `json:"reason,omitempty"`
}

// Duration marshals as text ("1m30s") for people reading JSON.
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = Duration(v)
	return err
}

func (p *Part) health(now time.Time) Health {
	p.mu.Lock()
	defer p.mu.Unlock()
	h := Health{Name: p.name, LastProgress: p.last, Idle: !p.active, Bound: Duration(p.bound), Note: p.note, Busy: len(p.units)}
	var worst time.Duration
	for _, u := range p.units {
		if h.BusySince.IsZero() || u.since.Before(h.BusySince) {
			h.BusySince = u.since
		}
		bound := u.bound
		if bound <= 0 {
			bound = p.bound
		}
		if age := now.Sub(u.since); age > bound && age-bound > worst {
			worst = age - bound
			what := u.what
			if what == "" {
				what = "one unit of work"
			}
			h.Stalled = true
			h.Reason = fmt.Sprintf("%s running for %s (bound %s)", what, round(age), bound)
		}
	}
	if h.Stalled {
		return h
	}
	if age := now.Sub(p.last); p.active && age > p.bound {
		h.Stalled = true
		h.Reason = fmt.Sprintf("no progress for %s (bound %s)", round(age), p.bound)
	}
	return h
}

// round keeps reasons readable: whole seconds above a second.
func round(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(time.Second)
	}
	return d.Round(time.Millisecond)
}

// Check returns every part's health, in the order the parts were
// registered. Health is a function: nothing runs in the background.
func (r *Registry) Check() []Health {
	now := r.now()
	r.mu.Lock()
	parts := append([]*Part(nil), r.parts...)
	r.mu.Unlock()
	hs := make([]Health, len(parts))
	for i, p := range parts {
		hs[i] = p.health(now)
	}
	return hs
}

// Stalled returns the stalled parts of hs.
func Stalled(hs []Health) []Health {
	var out []Health
	for _, h := range hs {
		if h.Stalled {
			out = append(out, h)
		}
	}
	return out
}

// Err is nil while no part is stalled, else an error naming the stalled
// parts and why.
func (r *Registry) Err() error {
	st := Stalled(r.Check())
	if len(st) == 0 {
		return nil
	}
	msg := ""
	for i, h := range st {
		if i > 0 {
			msg += "; "
		}
		msg += h.Name + ": " + h.Reason
	}
	return fmt.Errorf("stalled: %s", msg)
}
