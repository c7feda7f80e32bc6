package cache

import (
	"fmt"
	"strings"
	"testing"
)

// bigTopology is a CREATE for one cluster of n hosts with a realistic mix of
// components: 10 on every host (clients, DataNode, NodeManager, ...), 20 on
// three hosts (masters).
func bigTopology(n int) string {
	var b strings.Builder
	b.WriteString(`{"eventType":"CREATE","hash":"big","clusters":{"2":{"hosts":[`)
	for i := 1; i <= n; i++ {
		if i > 1 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"hostId":%d,"hostName":"host-%04d.example.com","rackName":"/rack-%d","ipv4":"10.0.%d.%d"}`, i, i, i%40, i/250, i%250)
	}
	b.WriteString(`],"components":[`)
	all := make([]string, n)
	for i := range all {
		all[i] = fmt.Sprint(i + 1)
	}
	allIDs := strings.Join(all, ",")
	for c := 0; c < 30; c++ {
		if c > 0 {
			b.WriteByte(',')
		}
		ids := "1,2,3"
		if c < 10 {
			ids = allIDs
		}
		fmt.Fprintf(&b, `{"serviceName":"SVC%d","componentName":"COMP_%d","hostIds":[%s],
		  "componentLevelParams":{"clientsToUpdateConfigs":"[\"*\"]","unlimited_key_jce_required":"false"},
		  "commandParams":{"command_timeout":"1200","script":"scripts/c%d.py","script_type":"PYTHON",
		    "service_package_folder":"stacks/HDP/3.0/services/SVC%d/package","version":"3.0.1.0-187"}}`, c%8, c, ids, c, c%8)
	}
	b.WriteString(`]}}}`)
	return b.String()
}

// A host joins a 1000-host cluster: one host appended, one id added to ten
// components (the typical topology push while a cluster grows).
func topologyUpdateEvent(i int) []byte {
	id := 2000 + i
	var comps []string
	for c := 0; c < 10; c++ {
		comps = append(comps, fmt.Sprintf(`{"serviceName":"SVC%d","componentName":"COMP_%d","hostIds":[%d]}`, c%8, c, id))
	}
	return []byte(fmt.Sprintf(`{"eventType":"UPDATE","hash":"u%d","clusters":{"2":{"hosts":[{"hostId":%d,"hostName":"new-%d","rackName":"/r","ipv4":"10.9.0.1"}],"components":[%s]}}}`,
		i, id, i, strings.Join(comps, ",")))
}

func benchmarkTopologyUpdate(b *testing.B, dir string) {
	s := Open(dir, nil)
	if err := s.Apply(Topology, []byte(bigTopology(1000))); err != nil {
		b.Fatal(err)
	}
	events := make([][]byte, 64)
	for i := range events {
		events[i] = topologyUpdateEvent(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%len(events) == 0 && i > 0 {
			b.StopTimer()
			if err := s.Apply(Topology, []byte(bigTopology(1000))); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		if err := s.Apply(Topology, events[i%len(events)]); err != nil {
			b.Fatal(err)
		}
	}
}

// Merge + view rebuild only.
func BenchmarkTopologyUpdate1000HostsMemory(b *testing.B) { benchmarkTopologyUpdate(b, "") }

// Merge + view rebuild + atomic save (encode ~1 MB, 2 fsyncs, 3 dir fsyncs).
func BenchmarkTopologyUpdate1000HostsPersisted(b *testing.B) { benchmarkTopologyUpdate(b, b.TempDir()) }

// What the status loop and orchestrator do per call: take the snapshot, find
// this host, its components and a component entry.
func BenchmarkTopologyViewRead(b *testing.B) {
	s := Open("", nil)
	if err := s.Apply(Topology, []byte(bigTopology(1000))); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		c := s.Topology().Snapshot().Cluster("2")
		id, _ := c.HostID("host-0500.example.com")
		n += len(c.ComponentsOnHost(id))
		if c.Component("SVC3", "COMP_3") != nil {
			n++
		}
		n += len(c.ClusterHostInfo()["all_hosts"])
	}
	if n == 0 {
		b.Fatal("nothing read")
	}
}
