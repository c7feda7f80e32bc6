package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The import rules docs/architecture.md promises ("Packages"): cmd/ is
// wiring, internal/agent builds everything, and domain packages do not
// import each other sideways but declare the small interface they need.
// Paths are relative to the module.

const module = "github.com/ambari-go/ambari-agent/"

// foundation packages hold types and helpers any package may use; they
// import only each other.
var foundation = []string{
	"internal/atomicfile",
	"internal/jitter",
	"internal/logging",
	"internal/procinfo",
	"internal/promtext",
	"internal/protocol",
	"internal/pyvalue",
	"internal/testutil",
	"internal/version",
}

// allowedEdges lists, per package, the packages outside foundation it may
// import, each with the reason. Anything not listed is a sideways import:
// declare an interface in the importing package and let internal/agent pass
// the value in. A package missing from the table fails the test until it is
// given a row.
var allowedEdges = map[string]map[string]string{
	"cmd/ambari-agent": {
		"internal/agent":      "the daemon and the control commands",
		"internal/config":     "the ini file and --home",
		"internal/multiplier": "the multiplier subcommand",
		"internal/sdnotify":   "systemd readiness of the many-agents process",
	},
	"cmd/ambari-sim": {"internal/sim": "the simulator"},
	// internal/agent is the wiring: it may import every package but cmd/.
	"internal/agent": nil,
	"internal/actionqueue": {
		"internal/orchestrator": "its Runner's request, result and file types",
	},
	"internal/alerts": {
		"internal/cache":    "alert definitions are decoded from the cache's typed view",
		"internal/pyrunner": "script and metric alerts call the resident Python",
	},
	"internal/cache":               {},
	"internal/config":              {},
	"internal/diskhealth":          {},
	"internal/diskhealth/disktest": {"internal/diskhealth": "the probe it fakes"},
	"internal/e2e":                 {},
	"internal/filecache":           {"internal/cache": "the server URL from the metadata cache"},
	"internal/heartbeat": {
		"internal/cache":   "the five caches it synchronises",
		"internal/stompws": "the link",
	},
	"internal/hostinfo":   {},
	"internal/hoststatus": {"internal/hostinfo": "the host facts it reports"},
	"internal/liveness":   {},
	"internal/monitor": {
		"internal/liveness": "what it reads",
		"internal/sdnotify": "systemd notifications",
	},
	"internal/multiplier": {
		"internal/config":   "the ini edits of each agent home",
		"internal/pyrunner": "one resident Python shared by the agents of one process",
		// The pid file's format and identity check belong to the daemon;
		// to move with them into a package of their own.
		"internal/agent": "ReadPidRecord, the pid file the daemon writes",
	},
	"internal/orchestrator": {
		"internal/cache":      "the data a command's JSON is built from",
		"internal/diskhealth": "write failures in the data dir",
		"internal/filecache":  "cache directories of stacks and hooks",
		"internal/pyrunner":   "scripts forked from the resident Python",
	},
	"internal/pyrunner": {},
	"internal/recovery": {"internal/cache": "cluster-env and recoveryConfig"},
	"internal/sdnotify": {},
	"internal/security": {},
	"internal/sim":      {"internal/stompws": "server-side STOMP frames"},
	"internal/statusexec": {
		"internal/cache": "the topology and metadata it checks against",
	},
	"internal/stompws": {},
	"packaging":        {},
	"packaging/build":  {},
}

// neverDeps are packages that must not reach others even indirectly.
var neverDeps = map[string][]string{
	"internal/statusexec": {"internal/actionqueue", "internal/orchestrator"},
	"internal/recovery":   {"internal/actionqueue", "internal/orchestrator"},
}

// simImports is all internal/sim may import besides the standard library:
// the simulator must stay a server, built on the wire types alone.
var simImports = []string{
	"internal/logging",
	"internal/promtext",
	"internal/protocol",
	"internal/stompws",
	"github.com/go-stomp/stomp/v3/frame",
	"github.com/sirupsen/logrus",
}

// pkg is one package as `go list -json` describes it, with module paths
// made relative.
type pkg struct {
	ImportPath string
	Imports    []string // direct, non-test
	Deps       []string // transitive, non-test
}

func TestImportRules(t *testing.T) {
	pkgs := listPackages(t)
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages; the test is not looking at the module", len(pkgs))
	}
	for _, err := range checkImports(pkgs) {
		t.Error(err)
	}
}

// The checker finds every kind of forbidden edge.
func TestImportRulesCatchForbiddenEdges(t *testing.T) {
	ok := []pkg{
		{ImportPath: "cmd/ambari-agent", Imports: []string{"internal/agent", "fmt"}},
		{ImportPath: "internal/agent", Imports: []string{"internal/actionqueue", "internal/statusexec"}},
		{ImportPath: "internal/actionqueue", Imports: []string{"internal/orchestrator", "internal/protocol"}},
		{ImportPath: "internal/statusexec", Imports: []string{"internal/cache"}, Deps: []string{"internal/cache", "internal/protocol"}},
		{ImportPath: "internal/sim", Imports: []string{"internal/stompws", "net/http", "github.com/sirupsen/logrus"}},
		{ImportPath: "internal/protocol", Imports: []string{"encoding/json"}},
	}
	if errs := checkImports(ok); len(errs) != 0 {
		t.Fatalf("allowed graph refused: %v", errs)
	}
	cases := []struct {
		name string
		add  pkg
		want string
	}{
		{"agent imported outside cmd", pkg{ImportPath: "internal/alerts", Imports: []string{"internal/agent"}}, "imports internal/agent"},
		{"status loop reaches the queue", pkg{ImportPath: "internal/statusexec", Deps: []string{"internal/cache", "internal/actionqueue"}}, "must not depend on internal/actionqueue"},
		{"recovery reaches the orchestrator", pkg{ImportPath: "internal/recovery", Deps: []string{"internal/orchestrator"}}, "must not depend on internal/orchestrator"},
		{"sim imports a domain package", pkg{ImportPath: "internal/sim", Imports: []string{"internal/protocol", "internal/cache"}}, "internal/sim imports internal/cache"},
		{"sim imports a third-party module", pkg{ImportPath: "internal/sim", Imports: []string{"github.com/gorilla/mux"}}, "internal/sim imports github.com/gorilla/mux"},
		{"sideways import", pkg{ImportPath: "internal/recovery", Imports: []string{"internal/statusexec"}}, "internal/recovery imports internal/statusexec sideways"},
		{"foundation imports a domain package", pkg{ImportPath: "internal/protocol", Imports: []string{"internal/cache"}}, "internal/protocol imports internal/cache sideways"},
		{"package without a row", pkg{ImportPath: "internal/newthing", Imports: []string{"internal/protocol"}}, "internal/newthing has no row"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			graph := slices.Clone(ok)
			graph = slices.DeleteFunc(graph, func(p pkg) bool { return p.ImportPath == c.add.ImportPath })
			errs := checkImports(append(graph, c.add))
			if !slices.ContainsFunc(errs, func(err error) bool { return strings.Contains(err.Error(), c.want) }) {
				t.Errorf("errors %v, want one containing %q", errs, c.want)
			}
		})
	}
}

// checkImports applies the rules to a package graph and returns one error
// per broken rule.
func checkImports(pkgs []pkg) []error {
	var errs []error
	for _, p := range pkgs {
		from := p.ImportPath
		for _, to := range p.Imports {
			internal := strings.HasPrefix(to, "internal/") || strings.HasPrefix(to, "cmd/")
			if from == "internal/sim" {
				if !isStd(to) && !slices.Contains(simImports, to) {
					errs = append(errs, fmt.Errorf("internal/sim imports %s: the simulator uses only %v and the standard library", to, simImports))
				}
				if !internal {
					continue
				}
			}
			if !internal {
				continue
			}
			if to == "internal/agent" && !strings.HasPrefix(from, "cmd/") {
				if _, ok := allowedEdges[from][to]; !ok {
					errs = append(errs, fmt.Errorf("%s imports internal/agent: only cmd/ may", from))
					continue
				}
			}
			if strings.HasPrefix(to, "cmd/") {
				errs = append(errs, fmt.Errorf("%s imports %s: nothing imports a command", from, to))
				continue
			}
			if slices.Contains(foundation, to) {
				continue
			}
			if slices.Contains(foundation, from) {
				errs = append(errs, fmt.Errorf("%s imports %s sideways: foundation packages import only each other", from, to))
				continue
			}
			row, known := allowedEdges[from]
			switch {
			case !known:
				// Reported once below.
			case from == "internal/agent":
			case row[to] == "":
				errs = append(errs, fmt.Errorf("%s imports %s sideways: declare an interface in %s (or add the edge, with its reason, to allowedEdges)", from, to, from))
			}
		}
		if _, known := allowedEdges[from]; !known && !slices.Contains(foundation, from) {
			errs = append(errs, fmt.Errorf("%s has no row in allowedEdges: say what it may import", from))
		}
		for _, never := range neverDeps[from] {
			if slices.Contains(p.Deps, never) {
				errs = append(errs, fmt.Errorf("%s must not depend on %s, even indirectly", from, never))
			}
		}
	}
	return errs
}

// isStd reports whether an import path is in the standard library (no
// dot in its first element).
func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".") && !strings.HasPrefix(path, "internal/") && !strings.HasPrefix(path, "cmd/")
}

// listPackages runs `go list -json` over the module.
func listPackages(t *testing.T) []pkg {
	t.Helper()
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports,Deps", "./...")
	cmd.Dir = strings.TrimSpace(string(root))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		p.ImportPath = relative(p.ImportPath)
		for i := range p.Imports {
			p.Imports[i] = relative(p.Imports[i])
		}
		for i := range p.Deps {
			p.Deps[i] = relative(p.Deps[i])
		}
		pkgs = append(pkgs, p)
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].ImportPath < pkgs[j].ImportPath })
	return pkgs
}

func relative(path string) string { return strings.TrimPrefix(path, module) }
