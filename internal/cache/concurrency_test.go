package cache

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/pyvalue"
)

// Readers run against a writer without locks; -race checks the sharing.
func TestConcurrentReadersWhileApplying(t *testing.T) {
	s := Open("", nil)
	mustApply(t, s, Topology, topo0)
	mustApply(t, s, Metadata, meta0)

	stop := make(chan struct{})
	var reads atomic.Int64
	var wg sync.WaitGroup
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				snap := s.Topology().Snapshot()
				c := snap.Cluster("2")
				if c == nil {
					t.Error("cluster 2 vanished")
					return
				}
				// Every snapshot is internally consistent: its views match its raw content.
				hosts, _ := snap.Raw("2")["hosts"].([]any)
				if len(hosts) != len(c.Hosts) {
					t.Errorf("view has %d hosts, raw has %d", len(c.Hosts), len(hosts))
					return
				}
				for _, h := range c.Hosts {
					if id, ok := c.HostID(h.HostName); !ok || c.Host(id) == nil {
						t.Errorf("index broken for %s", h.HostName)
						return
					}
					_ = c.ComponentsOnHost(h.HostID)
				}
				_ = c.ClusterHostInfo()["all_hosts"]
				_ = s.Metadata().Snapshot().Cluster("2").ClusterLevelParams["cluster_name"]
				_, _ = s.Topology().Hash()
				reads.Add(1)
			}
		}()
	}
	for i := 0; i < 200; i++ {
		ev := fmt.Sprintf(`{"eventType":"UPDATE","hash":"t%d","clusters":{"2":{"hosts":[{"hostId":%d,"hostName":"n%d","rackName":"/r","ipv4":"1"}],
		  "components":[{"serviceName":"HDFS","componentName":"DATANODE","hostIds":[%d]}]}}}`, i, 100+i, i, 100+i)
		mustApply(t, s, Topology, ev)
		if i%10 == 0 {
			mustApply(t, s, Topology, fmt.Sprintf(`{"eventType":"DELETE","hash":"d%d","clusters":{"2":{"hosts":[{"hostId":%d}]}}}`, i, 100+i))
			mustApply(t, s, Metadata, fmt.Sprintf(`{"eventType":"UPDATE","hash":"m%d","clusters":{"2":{"clusterLevelParams":{"k":"%d"}}}}`, i, i))
		}
	}
	close(stop)
	wg.Wait()
	if reads.Load() == 0 {
		t.Fatal("readers never ran")
	}
	if n := len(s.Topology().Snapshot().Cluster("2").Hosts); n != 3+200-20 {
		t.Errorf("hosts = %d", n)
	}
}

// Concurrent writers are serialised: no update is lost.
func TestConcurrentWritersSerialised(t *testing.T) {
	s := Open("", nil)
	mustApply(t, s, AlertDefinitions, `{"eventType":"CREATE","hash":"a","clusters":{"2":{"alertDefinitions":[]}}}`)
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev := fmt.Sprintf(`{"eventType":"UPDATE","hash":"a%d","clusters":{"2":{"alertDefinitions":[{"definitionId":%d}]}}}`, i, i)
			if err := s.Apply(AlertDefinitions, []byte(ev)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := len(s.AlertDefinitions().Snapshot().Cluster("2").Definitions); n != 50 {
		t.Errorf("definitions = %d, want 50", n)
	}
}

// Applying an event never changes a snapshot a reader already holds: merges
// copy what they change and share the rest.
func TestSnapshotsAreImmutable(t *testing.T) {
	cases := []struct {
		cache Name
		setup string
		event string
	}{
		{Topology, topo0, `{"eventType":"UPDATE","hash":"x","clusters":{"2":{"hosts":[{"hostId":1,"rackName":"/z"}],"components":[{"serviceName":"ZK","componentName":"ZK_SERVER","hostIds":[3],"commandParams":{}}]}}}`},
		{Topology, topo0, `{"eventType":"DELETE","hash":"x","clusters":{"5":{},"2":{"hosts":[{"hostId":1}],"components":[{"serviceName":"ZK","componentName":"ZK_SERVER","hostIds":[1]},{"serviceName":"HDFS","componentName":"NAMENODE","hostIds":[3]}]}}}`},
		{Metadata, meta0, `{"eventType":"UPDATE","hash":"x","clusters":{"2":{"clusterLevelParams":{"cluster_name":"z"},"serviceLevelParams":{"ZK":{"version":"9"}}}}}`},
		{Metadata, meta0, `{"eventType":"DELETE","hash":"x","clusters":{"2":{}}}`},
		{AlertDefinitions, alerts0, `{"eventType":"UPDATE","hash":"x","clusters":{"2":{"hostName":"z","alertDefinitions":[{"definitionId":1,"name":"z"}]}}}`},
		{AlertDefinitions, alerts0, `{"eventType":"DELETE","hash":"x","clusters":{"3":{},"2":{"alertDefinitions":[{"definitionId":1}]}}}`},
	}
	for _, tc := range cases {
		name := tc.cache + " " + Name(strings.SplitN(tc.event, `"`, 5)[3])
		t.Run(string(name), func(t *testing.T) {
			s := Open("", nil)
			mustApply(t, s, tc.cache, tc.setup)
			old := base(s, tc.cache)
			saved := pyvalue.DeepCopy(anyClusters(old.content)).(map[string]any)
			savedIDs := append([]string(nil), old.ClusterIDs()...)
			mustApply(t, s, tc.cache, tc.event)
			if !reflect.DeepEqual(anyClusters(old.content), saved) || !reflect.DeepEqual(old.ClusterIDs(), savedIDs) {
				t.Error("the previous snapshot was modified")
			}
			if reflect.DeepEqual(anyClusters(base(s, tc.cache).content), saved) {
				t.Error("the event changed nothing")
			}
		})
	}
}

func anyClusters(s clusterSet) map[string]any {
	out := make(map[string]any, len(s.m))
	for k, v := range s.m {
		out[k] = v
	}
	return out
}

func TestSubscribeCoalescesAndCancels(t *testing.T) {
	s := Open("", nil)
	ch, cancel := s.Metadata().Subscribe()
	other, cancelOther := s.Metadata().Subscribe()
	defer cancelOther()
	mustApply(t, s, Metadata, meta0, `{"eventType":"UPDATE","hash":"m1","clusters":{"2":{"x":"1"}}}`)
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no notification")
	}
	select {
	case <-ch:
		t.Fatal("two changes gave two notifications; they should coalesce")
	default:
	}
	// {} and unknown event types are no change.
	mustApply(t, s, Metadata, `{}`, `{"eventType":"NOPE"}`)
	select {
	case <-ch:
		t.Fatal("notified without a change")
	default:
	}
	cancel()
	cancel() // idempotent
	<-other
	mustApply(t, s, Metadata, `{"eventType":"DELETE","hash":"m2","clusters":{"2":{}}}`)
	select {
	case <-ch:
		t.Fatal("notified after cancel")
	default:
	}
	select {
	case <-other:
	default:
		t.Fatal("remaining subscriber not notified")
	}
}

// A panic inside a merge or view (a bug) becomes an error; the cache stays
// usable and unchanged.
func TestApplyRecoversPanics(t *testing.T) {
	log, _ := testLog()
	c := newCache(HostLevelParams, "", log, rules{}, func(b Snapshot, l *logrus.Entry) (*HostLevelParamsSnapshot, error) {
		if _, boom := b.content.m["boom"]; boom {
			panic("view bug")
		}
		return buildHostLevelParams(b, l)
	})
	if err := c.Apply([]byte(`{"hash":"p","clusters":{"2":{}}}`)); err != nil {
		t.Fatal(err)
	}
	before := c.Snapshot()
	if err := c.Apply([]byte(`{"hash":"q","clusters":{"boom":{}}}`)); err == nil || !strings.Contains(err.Error(), "view bug") {
		t.Fatalf("err = %v", err)
	}
	if c.Snapshot() != before {
		t.Error("snapshot replaced")
	}
	if err := c.Apply([]byte(`{"hash":"r","clusters":{"3":{}}}`)); err != nil {
		t.Fatalf("cache unusable after a panic: %v", err)
	}
}
