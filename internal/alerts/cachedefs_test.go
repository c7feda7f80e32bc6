package alerts

import (
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/ambari-go/ambari-agent/internal/cache"
)

// The scheduler sees every cluster of the cache; a definition that cannot
// be scheduled is logged and left out, and the rest of its cluster runs.
func TestCacheDefinitions(t *testing.T) {
	st := cache.Open("", nil)
	body := `{"eventType":"CREATE","hash":"h","clusters":{
	  "2":{"hostName":"h1","alertDefinitions":[
	    {"definitionId":1,"name":"port_check","interval":1,"enabled":true,"source":{"type":"PORT","uri":"{{x/y}}"}},
	    {"definitionId":2,"interval":1,"enabled":true,"source":{"type":"PORT"}}]},
	  "3":{"hostName":"h1","alertDefinitions":[]}}}`
	if err := st.AlertDefinitions().Apply([]byte(body)); err != nil {
		t.Fatal(err)
	}
	l, hook := test.NewNullLogger()
	src := CacheDefinitions(st.AlertDefinitions(), logrus.NewEntry(l))
	clusters, eventType := src.AlertDefinitions()
	if eventType != "CREATE" || len(clusters) != 2 {
		t.Fatalf("event %q, %d clusters, want CREATE and 2", eventType, len(clusters))
	}
	var names []string
	for _, c := range clusters {
		for _, d := range c.Definitions {
			names = append(names, c.ClusterID+"/"+d.Name)
		}
	}
	if strings.Join(names, ",") != "2/port_check" {
		t.Errorf("definitions %v, want 2/port_check only", names)
	}
	if e := hook.LastEntry(); e == nil || !strings.Contains(e.Message, "cannot be scheduled") {
		t.Errorf("the unnamed definition was not logged: %v", hook.AllEntries())
	}

	changed, cancel := src.Subscribe()
	defer cancel()
	if err := st.AlertDefinitions().Apply([]byte(`{"eventType":"DELETE","hash":"h2","clusters":{"3":{}}}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-time.After(30 * time.Second):
		t.Fatal("no change notification after a delete")
	}
	if clusters, eventType := src.AlertDefinitions(); eventType != "DELETE" || len(clusters) != 1 {
		t.Errorf("after a delete: event %q, %d clusters", eventType, len(clusters))
	}
}
