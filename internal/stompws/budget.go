package stompws

import "sync"

// inboundBudget counts the bytes of the messages between the reader and
// the end of their handlers. Only the reader waits on it; handlers release.
type inboundBudget struct {
	max   int
	freed chan struct{} // capacity 1: wakes the waiting reader

	mu   sync.Mutex
	used int // bytes
	msgs int
	rels uint64 // messages released so far: the handlers' progress
}

func newInboundBudget(max int) *inboundBudget {
	return &inboundBudget{max: max, freed: make(chan struct{}, 1)}
}

// tryAcquire takes n bytes if they fit. A message larger than the whole
// budget fits when nothing else is buffered, so that it cannot wait
// forever.
func (b *inboundBudget) tryAcquire(n int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.msgs > 0 && b.used+n > b.max {
		return false
	}
	b.used += n
	b.msgs++
	return true
}

// acquire waits until n bytes fit; false when done is closed first.
func (b *inboundBudget) acquire(n int, done <-chan struct{}) bool {
	for !b.tryAcquire(n) {
		select {
		case <-b.freed:
		case <-done:
			return false
		}
	}
	return true
}

// release returns the bytes of one message.
func (b *inboundBudget) release(n int) {
	b.mu.Lock()
	b.used -= n
	b.msgs--
	b.rels++
	b.mu.Unlock()
	select {
	case b.freed <- struct{}{}:
	default:
	}
}

func (b *inboundBudget) usage() (bytes, msgs int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used, b.msgs
}

func (b *inboundBudget) releases() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rels
}
