package cache

import (
	"bytes"
	"errors"
	"testing"
)

// fuzzStarts are the contents each cache holds before the fuzzed event.
var fuzzStarts = map[Name]string{
	Topology:         topo0,
	Metadata:         meta0,
	Configurations:   `{"timestamp":1700000100000,"hash":"c0","clusters":{"2":{"configurations":{"zoo.cfg":{"clientPort":"2181"}},"configurationAttributes":{}}}}`,
	HostLevelParams:  `{"hash":"p0","clusters":{"2":{"recoveryConfig":{"type":"AUTO_START","components":[]},"blueprint_provisioning_state":{}}}}`,
	AlertDefinitions: alerts0,
}

// FuzzMerge applies an arbitrary event to each cache, holding its usual
// content (which < 128) or starting empty. An event either applies or is
// refused as invalid with the cache exactly as it was; nothing panics.
func FuzzMerge(f *testing.F) {
	for i, n := range Names() {
		f.Add(uint8(i), []byte(fuzzStarts[n]))
	}
	for _, s := range []string{
		`{"eventType":"UPDATE","hash":"t1","clusters":{"2":{"hosts":[{"hostId":4,"hostName":"h4"}],"components":[{"serviceName":"ZK","componentName":"ZK_SERVER","hostIds":[4]}]}}}`,
		`{"eventType":"DELETE","hash":"t2","clusters":{"2":{"hosts":[{"hostId":1}],"components":[{"serviceName":"HDFS","componentName":"DATANODE","hostIds":[1,2]}]}}}`,
		`{"eventType":"UPDATE","hash":"m1","clusters":{"-1":{"agentConfigs":{"agentConfig":{"x":"y"}}}}}`,
		`{"eventType":"UPDATE","hash":"a1","hostName":"h1","clusters":{"2":{"alertDefinitions":[{"definitionId":9,"name":"n"}]}}}`,
		`{"eventType":"DELETE","hash":"a2","clusters":{"2":{"alertDefinitions":[{"definitionId":1}]}}}`,
		`{"timestamp":1700000200000}`,
		`{"hash":"x","clusters":{"2":null}}`,
		`{"eventType":"CREATE","hash":7,"clusters":[]}`,
		`{}`,
		`null`,
	} {
		for i := range Names() {
			f.Add(uint8(i), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, event []byte) {
		names := Names()
		n := names[int(which)%len(names)]
		s := Open("", nil)
		if which < 128 {
			if err := s.Apply(n, []byte(fuzzStarts[n])); err != nil {
				t.Fatalf("start %s: %v", n, err)
			}
		}
		before := base(s, n)
		wantContent, err := encodeClusters(before.content)
		if err != nil {
			t.Fatalf("encode %s: %v", n, err)
		}
		if err := s.Apply(n, event); err != nil {
			if !errors.Is(err, ErrInvalidEvent) {
				// Apply turns a panic into an error of its own.
				t.Fatalf("%s event: %v", n, err)
			}
			after := base(s, n)
			got, _ := encodeClusters(after.content)
			if after.hash != before.hash || after.hasHash != before.hasHash || !bytes.Equal(got, wantContent) {
				t.Fatalf("refused %s event (%v) changed the cache", n, err)
			}
			return
		}
		if _, err := encodeClusters(base(s, n).content); err != nil {
			t.Fatalf("applied %s event leaves a cache that cannot be saved: %v", n, err)
		}
	})
}
