package cache

import (
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/sirupsen/logrus"
)

// snapshotter is implemented by the typed snapshots through their embedded
// Snapshot.
type snapshotter interface{ snapshot() *Snapshot }

// EventCache is what every cache offers whatever its typed view; the session
// code uses it to synchronise the five caches in a loop.
type EventCache interface {
	// Name is the cache's name (also the base of its file names).
	Name() Name
	// Hash is the hash to send in the post-registration request (ok false:
	// send null).
	Hash() (hash string, ok bool)
	// Apply merges one event body (a push or the reply to /agents/*).
	Apply(body []byte) error
	// Subscribe returns a channel that receives a value after changes.
	Subscribe() (changed <-chan struct{}, cancel func())
}

// rules say how a cache's events are shaped and merged.
type rules struct {
	eventTypes bool // events carry CREATE/UPDATE/DELETE; otherwise full replacement
	timestamp  bool // events carry the configurations timestamp
	update     mergeFunc
	delete     mergeFunc
}

// Cache is one of the five caches. S is its typed snapshot.
type Cache[S snapshotter] struct {
	name  Name
	dir   string // "" keeps the cache in memory only
	log   *logrus.Entry
	rules rules
	// build derives the typed view once per snapshot; an error rejects the
	// event (or, at load, the saved content).
	build func(base Snapshot, log *logrus.Entry) (S, error)

	mu  sync.Mutex   // serialises writers; readers never take it
	cur atomic.Value // S, replaced as a whole on every change

	subMu sync.Mutex
	subs  map[chan struct{}]struct{}
}

// Aliases for the five instantiations, for readable signatures elsewhere.
type (
	TopologyCache         = Cache[*TopologySnapshot]
	MetadataCache         = Cache[*MetadataSnapshot]
	ConfigurationsCache   = Cache[*ConfigurationsSnapshot]
	HostLevelParamsCache  = Cache[*HostLevelParamsSnapshot]
	AlertDefinitionsCache = Cache[*AlertDefinitionsSnapshot]
)

func newCache[S snapshotter](name Name, dir string, log *logrus.Entry, r rules,
	build func(Snapshot, *logrus.Entry) (S, error)) *Cache[S] {
	c := &Cache[S]{
		name:  name,
		dir:   dir,
		log:   log.WithField("cache", string(name)),
		rules: r,
		build: build,
		subs:  map[chan struct{}]struct{}{},
	}
	c.cur.Store(c.load())
	return c
}

// Name returns the cache's name.
func (c *Cache[S]) Name() Name { return c.name }

// Snapshot returns the current immutable snapshot. It never blocks and never
// returns nil. Do not modify anything reachable from it.
func (c *Cache[S]) Snapshot() S { return c.cur.Load().(S) }

// Hash returns the current hash (ok false: none, send null).
func (c *Cache[S]) Hash() (string, bool) { return c.Snapshot().snapshot().Hash() }

// Subscribe registers for change notification. The channel has capacity 1
// and notifications coalesce: after any number of changes the subscriber
// sees at least one value and then reads the latest Snapshot. It fires for
// every applied event that carried data, not for "{}" (unchanged) nor for a
// configs reply carrying only a timestamp. Call cancel when done.
func (c *Cache[S]) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	c.subMu.Lock()
	c.subs[ch] = struct{}{}
	c.subMu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			c.subMu.Lock()
			delete(c.subs, ch)
			c.subMu.Unlock()
		})
	}
}

func (c *Cache[S]) notify() {
	c.subMu.Lock()
	defer c.subMu.Unlock()
	for ch := range c.subs {
		select {
		case ch <- struct{}{}:
		default: // a notification is already pending; it covers this change
		}
	}
}

// Apply merges one event body into the cache following the server protocol's
// rules for this cache. An event that cannot be applied returns an error
// wrapping ErrInvalidEvent and leaves the cache (memory and files) exactly as
// it was: merges work on a copy that is published only on success. Failing
// to write the files does not fail the event (the files are a mirror for the
// next start; see persist).
func (c *Cache[S]) Apply(body []byte) (err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	defer func() {
		// A bug in a merge must not take the session goroutine down with
		// it; nothing was published, so the cache is still intact.
		if r := recover(); r != nil {
			c.log.WithField("panic", r).WithField("stack", string(debug.Stack())).Error("panic while applying an event")
			err = fmt.Errorf("apply %s event: internal error: %v", c.name, r)
		}
	}()
	if err := c.apply(body); err != nil {
		return fmt.Errorf("apply %s event: %w", c.name, err)
	}
	return nil
}

func (c *Cache[S]) apply(body []byte) error {
	msg, err := decodeMessage(body)
	if err != nil {
		return err
	}
	cur := *c.Snapshot().snapshot()
	next := cur
	next.eventType = ""

	if c.rules.timestamp {
		ts, err := msg.takeTimestamp()
		if err != nil {
			return err
		}
		next.timestamp, next.hasTimestamp = ts, true
	}
	if msg.empty() {
		// "Your hash is current." Only a new configs timestamp is news.
		if next.hasTimestamp != cur.hasTimestamp || next.timestamp != cur.timestamp {
			next.eventType = cur.eventType
			s, err := c.build(next, c.log)
			if err != nil {
				return err
			}
			c.cur.Store(s)
		}
		return nil
	}

	var eventType string
	if c.rules.eventTypes {
		if eventType, err = msg.eventType(); err != nil {
			return err
		}
		switch eventType {
		case EventCreate, EventUpdate, EventDelete:
		default:
			c.log.WithField("eventType", eventType).Error("unknown event type; event ignored")
			return nil
		}
	}
	hash, err := msg.hash()
	if err != nil {
		return err
	}
	clusters, err := msg.clusters()
	if err != nil {
		return err
	}

	content := clusters // CREATE and the untyped full replacements
	switch eventType {
	case EventUpdate:
		content, err = c.rules.update(cur.content, clusters, c.log)
	case EventDelete:
		content, err = c.rules.delete(cur.content, clusters, c.log)
	}
	if err != nil {
		return err
	}
	next.content, next.hash, next.hasHash, next.eventType = content, hash, true, eventType
	s, err := c.build(next, c.log)
	if err != nil {
		return err
	}
	c.cur.Store(s)
	c.persist(s.snapshot())
	c.notify()
	// The hash is shortened: 128 hex digits say nothing more to a reader.
	short := hash
	if len(short) > 12 {
		short = short[:12] + "…"
	}
	f := logrus.Fields{"clusters": len(content.ids), "hash": short}
	if eventType != "" {
		f["eventType"] = eventType
	}
	c.log.WithFields(f).Infof("%s cache updated", c.name)
	return nil
}
