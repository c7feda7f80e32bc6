package multiplier

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The golden homes and hosts file under testdata/golden were made by
// Ambari's agent-multiplier.py from testdata/golden/template (with /home
// and /etc/hosts pointed at scratch copies). The multiplier must make the
// same tree, byte for byte, plus its own mark.
func TestBootstrapMatchesAmbariTool(t *testing.T) {
	tpl := "testdata/golden/template"
	c, err := ReadConf(filepath.Join(tpl, "agent-multiplier.conf"))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	homeRoot := filepath.Join(root, "home")
	hostsFile := filepath.Join(root, "hosts")
	copyTestFile(t, filepath.Join(tpl, "hosts"), hostsFile)
	template := Template{
		Ini:         filepath.Join(tpl, "ambari-agent.ini"),
		VersionFile: filepath.Join(tpl, "data", "version"),
		CacheDir:    filepath.Join(tpl, "cache"),
	}
	hosts := c.Hosts(homeRoot)
	for round := 0; round < 2; round++ { // the second run changes nothing
		for _, h := range hosts {
			if err := Bootstrap(h, template, false); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := EditEtcHosts(hostsFile, hosts); err != nil {
			t.Fatal(err)
		}
		compareTrees(t, "testdata/golden/home", homeRoot, "/home/", homeRoot+"/")
		want, _ := os.ReadFile("testdata/golden/hosts")
		if got, _ := os.ReadFile(hostsFile); string(got) != string(want) {
			t.Errorf("hosts file:\n got %q\nwant %q", got, want)
		}
	}
}

// A stock ini has hostname_script commented out: the multiplier adds the
// missing keys to [agent] (Ambari's tool aborts) and the agent reads them.
func TestMissingKeysAreAddedToAgentSection(t *testing.T) {
	dir := t.TempDir()
	ini := filepath.Join(dir, "ambari-agent.ini")
	os.WriteFile(ini, []byte("[server]\nhostname=s\n\n[agent]\nlogdir=/var/log/ambari-agent\n;hostname_script=/x\n\n[security]\nkeysdir=/k\n"), 0o644)
	h := Host{Name: "perf-0007", PingPort: 5007, Home: filepath.Join(dir, "perf-0007")}
	if err := Bootstrap(h, Template{Ini: ini}, false); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(h.IniFile())
	script := h.ConfDir() + "/hostname.sh"
	want := "[server]\nhostname=s\n\n[agent]\nlogdir=" + h.Home + "/var/log/ambari-agent\n" +
		"ping_port=5007\nhostname_script=" + script + "\npublic_hostname_script=" + script + "\n" +
		"piddir=" + h.Home + "/var/run/ambari-agent\nprefix=" + h.Home + "/var/lib/ambari-agent/data\n" +
		"cache_dir=" + h.Home + "/var/lib/ambari-agent/cache\n;hostname_script=/x\n\n[security]\nkeysdir=/k\n"
	if string(got) != want {
		t.Errorf("ini:\n got %q\nwant %q", got, want)
	}
}

// A home the multiplier did not make is left alone unless forced.
func TestForeignHomeRefusedUnlessForced(t *testing.T) {
	dir := t.TempDir()
	ini := filepath.Join(dir, "ambari-agent.ini")
	os.WriteFile(ini, []byte("[agent]\nping_port=8670\n"), 0o644)
	h := Host{Name: "perf-0001", PingPort: 5001, Home: filepath.Join(dir, "perf-0001")}
	os.MkdirAll(h.Home, 0o755)
	os.WriteFile(filepath.Join(h.Home, "notes.txt"), []byte("someone's"), 0o644)
	if err := Bootstrap(h, Template{Ini: ini}, false); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("bootstrap of a foreign home: %v, want a refusal naming --force", err)
	}
	if _, err := os.Stat(h.IniFile()); err == nil {
		t.Fatal("the refused home was written to")
	}
	if err := Bootstrap(h, Template{Ini: ini}, true); err != nil {
		t.Fatal(err)
	}
	if err := Bootstrap(h, Template{Ini: ini}, false); err != nil {
		t.Fatalf("a forced home is the multiplier's afterwards: %v", err)
	}
}

func TestParseConf(t *testing.T) {
	c, err := ParseConf([]byte("# scale test\nstart = 3\nnum=2\nprefix = Perf\nnoise\n"))
	if err != nil {
		t.Fatal(err)
	}
	hosts := c.Hosts("/h")
	if len(hosts) != 2 || hosts[0] != (Host{"perf-0003", 5003, "/h/perf-0003"}) || hosts[1].Name != "perf-0004" {
		t.Fatalf("hosts %+v", hosts)
	}
	_, err = ParseConf([]byte("start=0\nnum=x\n"))
	for _, want := range []string{"start must be", "num=\"x\"", "prefix is a required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}
}

// compareTrees compares the tree under got (directories, files and their
// modes) with want's tree.txt, and each file's content with want's copy,
// where oldRoot stands for newRoot. (tree.txt keeps the empty directories
// a repository cannot.)
func compareTrees(t *testing.T, want, got, oldRoot, newRoot string) {
	t.Helper()
	listing, err := os.ReadFile(filepath.Join(filepath.Dir(want), "tree.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	filepath.WalkDir(got, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(got, p)
		if rel == "." || d.Name() == MarkFile {
			return nil
		}
		st, _ := d.Info()
		kind := "f"
		if d.IsDir() {
			kind = "d"
		}
		lines = append(lines, fmt.Sprintf("%s %s %o", rel, kind, st.Mode().Perm()))
		return nil
	})
	sort.Strings(lines)
	if g := strings.Join(lines, "\n") + "\n"; g != string(listing) {
		t.Errorf("tree:\n%s\nwant:\n%s", g, listing)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(listing)), "\n") {
		f := strings.Fields(l)
		if f[1] != "f" {
			continue
		}
		w, _ := os.ReadFile(filepath.Join(want, f[0]))
		g, _ := os.ReadFile(filepath.Join(got, f[0]))
		if ws := strings.ReplaceAll(string(w), oldRoot, newRoot); string(g) != ws {
			t.Errorf("%s:\n got %q\nwant %q", f[0], g, ws)
		}
	}
	if _, err := os.Stat(filepath.Join(got, "perf-0001", MarkFile)); err != nil {
		t.Errorf("home not marked: %v", err)
	}
}

func copyTestFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
