package orchestrator

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"testing"

	"github.com/sirupsen/logrus"
)

func TestParseStat(t *testing.T) {
	for line, want := range map[string]struct {
		ppid  int
		state byte
	}{
		"123 (sleep) S 45 123 123 0 -1": {45, 'S'},
		"7 (a (weird) name) Z 1 7 7 0":  {1, 'Z'},
		"9 (with space) R 2 9":          {2, 'R'},
		"10 (paren)) ) D 3 10":          {3, 'D'},
	} {
		ppid, state, err := parseStat([]byte(line))
		if err != nil || ppid != want.ppid || state != want.state {
			t.Errorf("%q: %d %c %v", line, ppid, state, err)
		}
	}
	for _, bad := range []string{"", "1 (x)", "1 (x) S notanumber"} {
		if _, _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if got := parseChildren([]byte("12 13 200 \n")); !reflect.DeepEqual(got, []int{12, 13, 200}) {
		t.Errorf("children %v", got)
	}
}

// fakeProc writes a /proc-like tree: pid -> (ppid, comm); withChildren
// controls whether task/<pid>/children files exist.
func fakeProc(t *testing.T, procs map[int][2]string, withChildren bool) string {
	root := t.TempDir()
	kids := map[string][]int{}
	for pid, p := range procs {
		dir := filepath.Join(root, strconv.Itoa(pid))
		os.MkdirAll(filepath.Join(dir, "task", strconv.Itoa(pid)), 0o755)
		os.WriteFile(filepath.Join(dir, "stat"), []byte(strconv.Itoa(pid)+" ("+p[1]+") S "+p[0]+" 0 0"), 0o644)
		os.WriteFile(filepath.Join(dir, "comm"), []byte(p[1]+"\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "cmdline"), []byte(p[1]+"\x00arg\x00"), 0o644)
		kids[p[0]] = append(kids[p[0]], pid)
	}
	if withChildren {
		for pid := range procs {
			var line string
			children := kids[strconv.Itoa(pid)]
			sort.Ints(children)
			for _, c := range children {
				line += strconv.Itoa(c) + " "
			}
			os.WriteFile(filepath.Join(root, strconv.Itoa(pid), "task", strconv.Itoa(pid), "children"), []byte(line), 0o644)
		}
	}
	return root
}

func TestCollectTreeBreadthFirst(t *testing.T) {
	procs := map[int][2]string{
		10: {"1", "python3"}, 11: {"10", "bash"}, 12: {"10", "yum"}, 13: {"11", "sleep"}, 14: {"12", "rpm"}, 99: {"1", "other"},
	}
	for _, withChildren := range []bool{true, false} {
		k := &treeKiller{log: logrus.NewEntry(logrus.New()), procRoot: fakeProc(t, procs, withChildren)}
		var pids []int
		for _, p := range k.collect(10) {
			pids = append(pids, p.pid)
		}
		if !reflect.DeepEqual(pids, []int{10, 11, 12, 13, 14}) {
			t.Errorf("children files %v: tree %v", withChildren, pids)
		}
		tree := k.collect(10)
		if tree[2].comm != "yum" || tree[0].cmdline != "python3 arg" {
			t.Errorf("comm/cmdline %+v", tree)
		}
	}
}
