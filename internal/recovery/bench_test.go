package recovery

import (
	"fmt"
	"testing"
)

// benchManager is a host with 50 recoverable components.
func benchManager(b *testing.B, current string) *harness {
	h := newHarness(b, 1000)
	h.env(map[string]string{"recovery_type": "AUTO_START"})
	comps := make([]comp, 50)
	for i := range comps {
		comps[i] = comp{"SVC", fmt.Sprintf("COMPONENT_%d", i), "STARTED"}
	}
	h.params(comps, nil)
	m := h.start()
	for _, c := range comps {
		m.ObserveLiveStatus(c.name, current)
	}
	return h
}

// The action queue's idle iteration when every component is where it
// should be.
func BenchmarkCommandsNothingToDo(b *testing.B) {
	h := benchManager(b, "STARTED")
	b.ReportAllocs()
	for b.Loop() {
		if len(h.m.Commands()) != 0 {
			b.Fatal("unexpected command")
		}
	}
}

// The idle iteration while all 50 components are down and waiting for
// their retry gap.
func BenchmarkCommandsWaitingForGap(b *testing.B) {
	h := benchManager(b, "INSTALLED")
	if len(h.m.Commands()) != 50 {
		b.Fatal("setup")
	}
	b.ReportAllocs()
	for b.Loop() {
		if len(h.m.Commands()) != 0 {
			b.Fatal("unexpected command")
		}
	}
}

func BenchmarkObserveLiveStatus(b *testing.B) {
	h := benchManager(b, "STARTED")
	b.ReportAllocs()
	for b.Loop() {
		h.m.ObserveLiveStatus("COMPONENT_7", "STARTED")
	}
}
