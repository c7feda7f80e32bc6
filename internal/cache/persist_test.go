package cache

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
)

const configs0 = `{"timestamp":1700000100000,"hash":"c0","clusters":{"2":{
  "configurations":{"cluster-env":{"recovery_enabled":"true"},"core-site":{"x":"<value>&amp;\u00e9"}},
  "configurationAttributes":{}}}}`

const hlp0 = `{"hash":"p0","clusters":{"2":{"recoveryConfig":{"components":[]},"blueprint_provisioning_state":{}}}}`

// fillAll applies one event to each of the five caches.
func fillAll(t *testing.T, s *Store) {
	t.Helper()
	mustApply(t, s, Topology, topo0)
	mustApply(t, s, Metadata, meta0)
	mustApply(t, s, Configurations, configs0)
	mustApply(t, s, HostLevelParams, hlp0)
	mustApply(t, s, AlertDefinitions, alerts0)
}

// The Python agent's file names and formats: an upgraded host keeps its
// caches and the Python agent can read ours.
func TestPersistFilesPythonCompatible(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache", DirName)
	s := Open(dir, nil)
	fillAll(t, s)

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{".alert_definitions.hash", ".configurations.hash", ".host_level_params.hash", ".metadata.hash",
		".topology.hash", "alert_definitions.json", "configurations.json", "host_level_params.json", "metadata.json", "topology.json"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("files = %v\nwant %v", names, want)
	}
	for name, hash := range map[Name]string{Topology: "t0", Metadata: "m0", Configurations: "c0", HostLevelParams: "p0", AlertDefinitions: "a0"} {
		b, err := os.ReadFile(filepath.Join(dir, "."+string(name)+".hash"))
		if err != nil || string(b) != hash {
			t.Errorf("%s hash file = %q (%v), want %q without newline", name, b, err, hash)
		}
		fi, err := os.Stat(filepath.Join(dir, string(name)+".json"))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s.json mode = %v (%v)", name, fi.Mode(), err)
		}
	}
	topo, _ := os.ReadFile(filepath.Join(dir, "topology.json"))
	if !bytes.HasPrefix(topo, []byte("{\n  \"2\": {\n    \"")) || !bytes.HasSuffix(topo, []byte("\n}")) {
		t.Errorf("topology.json is not indented by 2:\n%.200s", topo)
	}
	if idx2, idx5 := bytes.Index(topo, []byte(`"2": {`)), bytes.Index(topo, []byte(`"5": {`)); idx2 > idx5 {
		t.Error("clusters not written in server order")
	}

	// Python reads every file; it prints the canonical form we compare with.
	script := `import json,sys
for p in sys.argv[1:]:
    print(json.dumps(json.load(open(p)), sort_keys=True))`
	args := []string{"-c", script}
	for _, n := range Names() {
		args = append(args, filepath.Join(dir, string(n)+".json"))
	}
	out, err := exec.Command("python3", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("python3 cannot load the files: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	for i, n := range Names() {
		assertContent(t, base(s, n), lines[i])
	}
	if !strings.Contains(lines[2], `"<value>&amp;\u00e9"`) {
		t.Errorf("python read configs as %s", lines[2])
	}
}

// Restarting the agent restores content, hash, cluster order and views.
func TestPersistRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s1 := Open(dir, nil)
	fillAll(t, s1)
	mustApply(t, s1, Topology, `{"eventType":"UPDATE","hash":"t1","clusters":{"0":{"hosts":[],"components":[]}}}`)

	s2 := Open(dir, nil)
	for _, n := range Names() {
		b1, b2 := base(s1, n), base(s2, n)
		if !reflect.DeepEqual(b1.content, b2.content) {
			t.Errorf("%s content differs after reload", n)
		}
		if h1, _ := b1.Hash(); true {
			if h2, ok := b2.Hash(); !ok || h2 != h1 {
				t.Errorf("%s hash after reload = %q, %v; want %q", n, h2, ok, h1)
			}
		}
	}
	if got := s2.Topology().Snapshot().ClusterIDs(); !reflect.DeepEqual(got, []string{"2", "5", "0"}) {
		t.Errorf("cluster order after reload = %v", got)
	}
	if id, ok := s2.Topology().Snapshot().Cluster("2").HostID("h3"); !ok || id != 3 {
		t.Error("views not rebuilt after reload")
	}
	// Not persisted, on purpose (see persist.go).
	if _, ok := s2.ConfigsTimestamp(); ok {
		t.Error("configs timestamp came back from disk")
	}
}

// A host upgraded from the Python agent: files written by Python's json.dump
// (indent=2, ASCII escapes) load, including big numbers and unicode.
func TestLoadPythonWrittenFiles(t *testing.T) {
	dir := t.TempDir()
	script := `import json,sys,os
d=sys.argv[1]
data={"2":{"hosts":[{"hostId":9007199254740993,"hostName":"h\u00e9","rackName":"/r","ipv4":"1.2.3.4"}],
 "components":[{"serviceName":"S","componentName":"C","hostIds":[9007199254740993],"commandParams":{"version":"1"}}]}}
json.dump(data, open(os.path.join(d,"topology.json"),"w"), indent=2)
open(os.path.join(d,".topology.hash"),"w").write("abc")`
	if out, err := exec.Command("python3", "-c", script, dir).CombinedOutput(); err != nil {
		t.Fatalf("python3: %v\n%s", err, out)
	}
	s := Open(dir, nil)
	c := s.Topology().Snapshot().Cluster("2")
	if c == nil {
		t.Fatal("cluster 2 not loaded")
	}
	if id, ok := c.HostID("hé"); !ok || id != 9007199254740993 {
		t.Errorf("HostID = %d, %v", id, ok)
	}
	if h, ok := s.Topology().Hash(); !ok || h != "abc" {
		t.Errorf("hash = %q, %v", h, ok)
	}
}

func TestLoadBrokenFilesStartsEmpty(t *testing.T) {
	cases := map[string]func(dir string){
		"corrupt JSON": func(dir string) {
			write(t, filepath.Join(dir, "topology.json"), `{"2": {"hosts": [`)
			write(t, filepath.Join(dir, ".topology.hash"), "t0")
		},
		"not an object": func(dir string) {
			write(t, filepath.Join(dir, "topology.json"), `[1,2]`)
			write(t, filepath.Join(dir, ".topology.hash"), "t0")
		},
		"cluster not an object": func(dir string) {
			write(t, filepath.Join(dir, "topology.json"), `{"2": 5}`)
			write(t, filepath.Join(dir, ".topology.hash"), "t0")
		},
		"unusable topology": func(dir string) {
			write(t, filepath.Join(dir, "topology.json"), `{"2": {"hosts": [{"hostName": "no id"}]}}`)
			write(t, filepath.Join(dir, ".topology.hash"), "t0")
		},
		"unreadable hash": func(dir string) {
			write(t, filepath.Join(dir, "topology.json"), `{"2": {}}`)
			if err := os.Mkdir(filepath.Join(dir, ".topology.hash"), 0o755); err != nil {
				t.Fatal(err)
			}
		},
		"hash without data": func(dir string) {
			write(t, filepath.Join(dir, ".topology.hash"), "t0")
		},
	}
	for name, setup := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			setup(dir)
			log, hook := testLog()
			s := Open(dir, log)
			snap := s.Topology().Snapshot()
			if snap.Len() != 0 {
				t.Errorf("cache not empty: %v", snap.ClusterIDs())
			}
			if _, ok := snap.Hash(); ok {
				t.Error("hash not null")
			}
			if name != "hash without data" && !hasWarning(hook.AllEntries()) {
				t.Error("no warning logged")
			}
			// The agent still works: the next event is applied and saved.
			mustApply(t, s, Topology, topo0)
			if h, ok := Open(dir, nil).Topology().Hash(); !ok || h != "t0" {
				t.Errorf("after recovery hash = %q, %v", h, ok)
			}
		})
	}
}

func hasWarning(entries []*logrus.Entry) bool {
	for _, e := range entries {
		if e.Level == logrus.WarnLevel {
			return true
		}
	}
	return false
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A rejected event leaves memory and files untouched.
func TestFailedEventLeavesFilesUnchanged(t *testing.T) {
	dir := t.TempDir()
	s := Open(dir, nil)
	fillAll(t, s)
	files := map[string][]byte{}
	stats := map[string]os.FileInfo{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		files[p], _ = os.ReadFile(p)
		stats[p], _ = os.Stat(p)
	}
	before := s.Topology().Snapshot()
	changed, cancel := s.Topology().Subscribe()
	defer cancel()

	bad := []struct {
		cache Name
		body  string
	}{
		// The first cluster merges fine, the second fails: nothing of it may stick.
		{Topology, `{"eventType":"DELETE","hash":"t9","clusters":{"5":{},"2":{"components":[{"serviceName":"NO","componentName":"PE","hostIds":[1]}]}}}`},
		{Metadata, `{"eventType":"DELETE","hash":"m9","clusters":{"2":{},"-1":{"x":1}}}`},
		{Configurations, `{"timestamp":3,"hash":7,"clusters":{}}`},
		{HostLevelParams, `{"clusters":{}}`},
		{AlertDefinitions, `{"eventType":"DELETE","hash":"a9","clusters":{"3":{},"2":{"alertDefinitions":[{"definitionId":99}]}}}`},
	}
	for _, b := range bad {
		snapBefore := base(s, b.cache)
		if err := s.Apply(b.cache, []byte(b.body)); err == nil {
			t.Errorf("%s accepted %s", b.cache, b.body)
		}
		if base(s, b.cache) != snapBefore {
			t.Errorf("%s snapshot replaced by a failed event", b.cache)
		}
	}
	if s.Topology().Snapshot() != before || before.Cluster("5") == nil {
		t.Error("topology changed")
	}
	select {
	case <-changed:
		t.Error("a failed event notified subscribers")
	default:
	}
	entries, _ = os.ReadDir(dir)
	if len(entries) != len(files) {
		t.Errorf("files in dir: %d, want %d", len(entries), len(files))
	}
	for p, content := range files {
		now, err := os.ReadFile(p)
		fi, _ := os.Stat(p)
		if err != nil || !bytes.Equal(now, content) || !fi.ModTime().Equal(stats[p].ModTime()) {
			t.Errorf("%s changed by a failed event", p)
		}
	}
}

func TestLargeIntegersSurvive(t *testing.T) {
	dir := t.TempDir()
	s := Open(dir, nil)
	mustApply(t, s, Topology, `{"eventType":"CREATE","hash":"t","clusters":{"2":{
	  "hosts":[{"hostId":9223372036854775807,"hostName":"h","rackName":"r","ipv4":"i"}],
	  "components":[{"serviceName":"S","componentName":"C","hostIds":[9223372036854775807],
	     "commandParams":{"big":123456789012345678901234567890,"f":1.10}}]}}}`)
	mustApply(t, s, Configurations, `{"timestamp":9007199254740993,"hash":"c","clusters":{"2":{"n":18446744073709551616}}}`)
	if ts, _ := s.ConfigsTimestamp(); ts != 9007199254740993 {
		t.Errorf("timestamp = %d", ts)
	}
	s2 := Open(dir, nil)
	c := s2.Topology().Snapshot().Cluster("2")
	if id, ok := c.HostID("h"); !ok || id != 9223372036854775807 {
		t.Errorf("hostId = %d", id)
	}
	if got := c.Component("S", "C").CommandParams; got["big"] != "123456789012345678901234567890" || got["f"] != "1.10" {
		t.Errorf("commandParams = %v", got)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "configurations.json"))
	if !bytes.Contains(b, []byte("18446744073709551616")) {
		t.Errorf("configurations.json lost the big number:\n%s", b)
	}
}

// The hash file is written on the very first save (Python skips it then).
func TestHashWrittenOnFirstSave(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not-yet")
	s := Open(dir, nil)
	mustApply(t, s, HostLevelParams, hlp0)
	if b, err := os.ReadFile(filepath.Join(dir, ".host_level_params.hash")); err != nil || string(b) != "p0" {
		t.Errorf("hash file = %q, %v", b, err)
	}
}

func TestTempFilesRemovedAtOpen(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, ".topology.json.tmp-123"), "partial")
	write(t, filepath.Join(dir, ".metadata.hash.tmp-9"), "x")
	write(t, filepath.Join(dir, "unrelated"), "keep")
	Open(dir, nil)
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "unrelated" {
		t.Errorf("dir after open: %v", entries)
	}
}

// When the disk cannot be written the event still applies in memory (the
// server's state is the truth); the error is logged.
func TestSaveFailureKeepsMemoryUpdated(t *testing.T) {
	parent := t.TempDir()
	blocker := filepath.Join(parent, "file")
	write(t, blocker, "x")
	log, hook := testLog()
	s := Open(filepath.Join(blocker, "cluster_cache"), log)
	if err := s.Apply(Metadata, []byte(meta0)); err != nil {
		t.Fatalf("apply: %v", err)
	}
	if h, _ := s.Metadata().Hash(); h != "m0" {
		t.Errorf("hash = %q", h)
	}
	logged := false
	for _, e := range hook.AllEntries() {
		if e.Level == logrus.ErrorLevel {
			logged = true
		}
	}
	if !logged {
		t.Error("save failure not logged")
	}
}
