package alerts

import (
	"sort"
	"sync"
)

// resultKey identifies an alert within the agent. The Python collector keys
// by cluster *name*, which the STOMP server never sends (so every cluster
// shares the bucket ""); the cluster id is used here.
type resultKey struct {
	cluster, name string
}

// collector holds the latest unsent result of every alert: a newer result
// replaces an older one, so it never holds more than one entry per
// (cluster, alert name).
type collector struct {
	mu      sync.Mutex
	results map[resultKey]Result
}

func newCollector() *collector { return &collector{results: map[resultKey]Result{}} }

func (c *collector) put(r Result) {
	c.mu.Lock()
	c.results[resultKey{r.ClusterID, r.Name}] = r
	c.mu.Unlock()
}

// drain returns everything collected since the last drain, ordered by
// cluster and name, and empties the collector.
func (c *collector) drain() []Result {
	c.mu.Lock()
	if len(c.results) == 0 {
		c.mu.Unlock()
		return nil
	}
	out := make([]Result, 0, len(c.results))
	for _, r := range c.results {
		out = append(out, r)
	}
	clear(c.results)
	c.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].ClusterID != out[j].ClusterID {
			return out[i].ClusterID < out[j].ClusterID
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// restore puts back results that could not be delivered, unless a newer
// result for the same alert arrived meanwhile.
func (c *collector) restore(rs []Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range rs {
		k := resultKey{r.ClusterID, r.Name}
		if _, newer := c.results[k]; !newer {
			c.results[k] = r
		}
	}
}

// dropUUID removes the unsent results of an unscheduled definition.
func (c *collector) dropUUID(uuid string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, r := range c.results {
		if r.uuid == uuid {
			delete(c.results, k)
		}
	}
}

// len is the number of held results.
func (c *collector) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.results)
}
