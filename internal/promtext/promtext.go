// Package promtext keeps counters, gauges and histograms and writes them in
// the Prometheus text exposition format (version 0.0.4), for the agent's
// and the simulator's /metrics.
//
// It is hand-written rather than prometheus/client_golang: that library
// cost the idle agent about 2.3 MB of resident memory (its init-time
// registrations and the pages of a 2.3 MB larger binary), more than all
// the agent's own private memory growth allows for a feature that is off
// by default. The format is small and stable; tests parse the output with
// the Prometheus project's own parser.
package promtext

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// ContentType is the text format's media type.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Registry holds metric families in the order they were added.
type Registry struct {
	mu       sync.Mutex
	families []family
}

type family interface {
	write(w *bufio.Writer)
}

func (r *Registry) add(f family) {
	r.mu.Lock()
	r.families = append(r.families, f)
	r.mu.Unlock()
}

// WriteTo writes every family.
func (r *Registry) WriteTo(out io.Writer) (int64, error) {
	r.mu.Lock()
	fams := append([]family(nil), r.families...)
	r.mu.Unlock()
	cw := &countWriter{w: out}
	w := bufio.NewWriter(cw)
	for _, f := range fams {
		f.write(w)
	}
	err := w.Flush()
	return cw.n, err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Handler serves the registry.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", ContentType)
		r.WriteTo(w)
	})
}

// desc is a family's name, help and label names.
type desc struct {
	name, help, typ string
	labels          []string
}

func (d *desc) header(w *bufio.Writer) {
	w.WriteString("# HELP ")
	w.WriteString(d.name)
	w.WriteByte(' ')
	w.WriteString(escapeHelp(d.help))
	w.WriteString("\n# TYPE ")
	w.WriteString(d.name)
	w.WriteByte(' ')
	w.WriteString(d.typ)
	w.WriteByte('\n')
}

// sample writes one line: name{labels,extra} value.
func sample(w *bufio.Writer, name string, labels, values []string, extraName, extraValue string, v float64) {
	w.WriteString(name)
	if len(labels) > 0 || extraName != "" {
		w.WriteByte('{')
		for i, l := range labels {
			if i > 0 {
				w.WriteByte(',')
			}
			w.WriteString(l)
			w.WriteString(`="`)
			w.WriteString(escapeLabel(values[i]))
			w.WriteByte('"')
		}
		if extraName != "" {
			if len(labels) > 0 {
				w.WriteByte(',')
			}
			w.WriteString(extraName)
			w.WriteString(`="`)
			w.WriteString(extraValue)
			w.WriteByte('"')
		}
		w.WriteByte('}')
	}
	w.WriteByte(' ')
	w.WriteString(formatFloat(v))
	w.WriteByte('\n')
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
func escapeLabel(s string) string { return labelEscaper.Replace(s) }

// atomicFloat is a float64 updated without locks.
type atomicFloat struct{ bits atomic.Uint64 }

func (f *atomicFloat) add(v float64) {
	for {
		old := f.bits.Load()
		if f.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

func (f *atomicFloat) set(v float64) { f.bits.Store(math.Float64bits(v)) }
func (f *atomicFloat) get() float64  { return math.Float64frombits(f.bits.Load()) }

// Counter only goes up.
type Counter struct{ v atomicFloat }

// Inc adds one.
func (c *Counter) Inc() { c.v.add(1) }

// Add adds v (>= 0).
func (c *Counter) Add(v float64) { c.v.add(v) }

// Gauge goes up and down.
type Gauge struct{ v atomicFloat }

// Set sets the value.
func (g *Gauge) Set(v float64) { g.v.set(v) }

// single is a family of one unlabelled counter or gauge.
type single struct {
	desc
	v *atomicFloat
}

func (s *single) write(w *bufio.Writer) {
	s.header(w)
	sample(w, s.name, nil, nil, "", "", s.v.get())
}

// Counter adds a counter.
func (r *Registry) Counter(name, help string) *Counter {
	c := &Counter{}
	r.add(&single{desc{name, help, "counter", nil}, &c.v})
	return c
}

// Gauge adds a gauge.
func (r *Registry) Gauge(name, help string) *Gauge {
	g := &Gauge{}
	r.add(&single{desc{name, help, "gauge", nil}, &g.v})
	return g
}

// Sample is one labelled value reported at scrape time.
type Sample struct {
	Labels []string // values of the family's labels, in order
	Value  float64
}

// funcFamily reads its samples at scrape time.
type funcFamily struct {
	desc
	f func() []Sample
}

func (s *funcFamily) write(w *bufio.Writer) {
	samples := s.f()
	if len(samples) == 0 {
		return
	}
	s.header(w)
	for _, x := range samples {
		sample(w, s.name, s.labels, x.Labels, "", "", x.Value)
	}
}

// GaugeFunc adds a gauge family whose samples f returns at each scrape.
func (r *Registry) GaugeFunc(name, help string, f func() []Sample, labels ...string) {
	r.add(&funcFamily{desc{name, help, "gauge", labels}, f})
}

// CounterFunc adds a counter family whose samples f returns at each
// scrape (counts kept elsewhere).
func (r *Registry) CounterFunc(name, help string, f func() []Sample, labels ...string) {
	r.add(&funcFamily{desc{name, help, "counter", labels}, f})
}

// vec holds the children of a labelled family, created on first use. The
// label values must come from small sets (commands, states).
type vec[T any] struct {
	desc
	mu       sync.RWMutex
	children map[string]*child[T]
	make     func() *T
}

type child[T any] struct {
	values []string
	m      *T
}

func (v *vec[T]) with(values []string) *T {
	if len(values) != len(v.labels) {
		panic(fmt.Sprintf("promtext: %s takes %d label values, got %d", v.name, len(v.labels), len(values)))
	}
	key := strings.Join(values, "\xff")
	v.mu.RLock()
	c := v.children[key]
	v.mu.RUnlock()
	if c != nil {
		return c.m
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if c = v.children[key]; c == nil {
		c = &child[T]{values: append([]string(nil), values...), m: v.make()}
		v.children[key] = c
	}
	return c.m
}

func (v *vec[T]) sorted() []*child[T] {
	v.mu.RLock()
	keys := make([]string, 0, len(v.children))
	for k := range v.children {
		keys = append(keys, k)
	}
	out := make([]*child[T], len(keys))
	sort.Strings(keys)
	for i, k := range keys {
		out[i] = v.children[k]
	}
	v.mu.RUnlock()
	return out
}

// CounterVec is a counter per combination of label values.
type CounterVec struct{ v *vec[Counter] }

// With returns the counter of these label values.
func (c *CounterVec) With(values ...string) *Counter { return c.v.with(values) }

func (c *CounterVec) write(w *bufio.Writer) {
	children := c.v.sorted()
	if len(children) == 0 {
		return
	}
	c.v.header(w)
	for _, ch := range children {
		sample(w, c.v.name, c.v.labels, ch.values, "", "", ch.m.v.get())
	}
}

// CounterVec adds a labelled counter family.
func (r *Registry) CounterVec(name, help string, labels ...string) *CounterVec {
	c := &CounterVec{&vec[Counter]{desc: desc{name, help, "counter", labels}, children: map[string]*child[Counter]{},
		make: func() *Counter { return &Counter{} }}}
	r.add(c)
	return c
}

// Histogram counts observations in buckets.
type Histogram struct {
	upper  []float64 // bucket upper bounds, ascending
	counts []atomic.Uint64
	count  atomic.Uint64
	sum    atomicFloat
}

func newHistogram(buckets []float64) *Histogram {
	b := append([]float64(nil), buckets...)
	sort.Float64s(b)
	return &Histogram{upper: b, counts: make([]atomic.Uint64, len(b))}
}

// Observe records one value.
func (h *Histogram) Observe(v float64) {
	if i := sort.SearchFloat64s(h.upper, v); i < len(h.upper) {
		h.counts[i].Add(1)
	}
	h.count.Add(1)
	h.sum.add(v)
}

func (h *Histogram) writeSamples(w *bufio.Writer, name string, labels, values []string) {
	var cum uint64
	for i, u := range h.upper {
		cum += h.counts[i].Load()
		sample(w, name+"_bucket", labels, values, "le", formatFloat(u), float64(cum))
	}
	n := h.count.Load()
	sample(w, name+"_bucket", labels, values, "le", "+Inf", float64(n))
	sample(w, name+"_sum", labels, values, "", "", h.sum.get())
	sample(w, name+"_count", labels, values, "", "", float64(n))
}

type histogramFamily struct {
	desc
	h *Histogram
}

func (f *histogramFamily) write(w *bufio.Writer) {
	f.header(w)
	f.h.writeSamples(w, f.name, nil, nil)
}

// Histogram adds a histogram with these bucket upper bounds.
func (r *Registry) Histogram(name, help string, buckets []float64) *Histogram {
	h := newHistogram(buckets)
	r.add(&histogramFamily{desc{name, help, "histogram", nil}, h})
	return h
}

// HistogramVec is a histogram per combination of label values.
type HistogramVec struct{ v *vec[Histogram] }

// With returns the histogram of these label values.
func (h *HistogramVec) With(values ...string) *Histogram { return h.v.with(values) }

func (h *HistogramVec) write(w *bufio.Writer) {
	children := h.v.sorted()
	if len(children) == 0 {
		return
	}
	h.v.header(w)
	for _, ch := range children {
		ch.m.writeSamples(w, h.v.name, h.v.labels, ch.values)
	}
}

// HistogramVec adds a labelled histogram family.
func (r *Registry) HistogramVec(name, help string, buckets []float64, labels ...string) *HistogramVec {
	h := &HistogramVec{&vec[Histogram]{desc: desc{name, help, "histogram", labels}, children: map[string]*child[Histogram]{},
		make: func() *Histogram { return newHistogram(buckets) }}}
	r.add(h)
	return h
}
