package cache

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
)

// testLog returns a logger whose entries the test can inspect.
func testLog() (*logrus.Entry, *test.Hook) {
	l, hook := test.NewNullLogger()
	l.SetLevel(logrus.DebugLevel)
	return logrus.NewEntry(l).WithField("component", "cache"), hook
}

func base(s *Store, n Name) *Snapshot {
	switch n {
	case Topology:
		return &s.Topology().Snapshot().Snapshot
	case Metadata:
		return &s.Metadata().Snapshot().Snapshot
	case Configurations:
		return &s.Configurations().Snapshot().Snapshot
	case HostLevelParams:
		return &s.HostLevelParams().Snapshot().Snapshot
	case AlertDefinitions:
		return &s.AlertDefinitions().Snapshot().Snapshot
	}
	panic("unknown cache " + n)
}

func mustApply(t *testing.T, s *Store, n Name, bodies ...string) {
	t.Helper()
	for _, b := range bodies {
		if err := s.Apply(n, []byte(b)); err != nil {
			t.Fatalf("apply %s %s: %v", n, b, err)
		}
	}
}

func decodeJSON(t *testing.T, s string) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}

// assertContent compares a cache's clusters with the expected JSON object
// (order of keys inside objects does not matter; order in arrays does).
func assertContent(t *testing.T, snap *Snapshot, want string) {
	t.Helper()
	got, err := encodeClusters(snap.content)
	if err != nil {
		t.Fatal(err)
	}
	g, w := decodeJSON(t, string(got)), decodeJSON(t, want)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("content\n got: %s\nwant: %s", compact(t, string(got)), compact(t, want))
	}
}

func compact(t *testing.T, s string) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(s)); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}
