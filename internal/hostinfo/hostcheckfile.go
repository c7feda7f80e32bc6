package hostinfo

import (
	"github.com/ambari-go/ambari-agent/internal/atomicfile"

	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/ambari-go/ambari-agent/internal/protocol"
)

// HostCheckFile is the name of the registration host check report under
// [agent] prefix. HostCleanup and the check_host custom action read it.
const HostCheckFile = "hostcheck.result"

// stackRoot holds versioned stack installs that HostCleanup may remove.
const stackRoot = "/usr/hdp"

var stackVersionDirRE = regexp.MustCompile(`^(\d\.){3}\d-\d{4}`)

// WriteHostCheckResult writes env to <prefix>/hostcheck.result in the INI
// layout the Python agent writes (configparser: "key = value", a blank line
// after each section). Call it with every registration variant of AgentEnv.
// The file is replaced atomically, where the Python agent truncates it in
// place, and is 0600 like every file in the data dir (HostCleanup reads it
// as root).
func (h *HostInfo) WriteHostCheckResult(env protocol.AgentEnv) error {
	if h.cfg.Prefix == "" {
		return fmt.Errorf("write %s: no [agent] prefix configured", HostCheckFile)
	}
	path := filepath.Join(h.cfg.Prefix, HostCheckFile)
	data := renderHostCheck(env, time.Now(), h.stackRootEntries())
	return atomicfile.Write(path, data, 0o600)
}

// stackRootEntries lists what under /usr/hdp HostCleanup may remove: "current"
// and version directories, plus /usr/hdp itself when nothing else is there.
func (h *HostInfo) stackRootEntries() []string {
	entries, err := os.ReadDir(h.hostPath(stackRoot))
	if err != nil {
		return nil
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return stackRemovable(names)
}

// stackRemovable is the pure part of stackRootEntries. Names are sorted for a
// repeatable file (Python lists them in directory order).
func stackRemovable(names []string) []string {
	sort.Strings(names)
	var out []string
	matched := 0
	for _, n := range names {
		if n == "current" || stackVersionDirRE.MatchString(n) {
			out = append(out, stackRoot+"/"+n)
			matched++
		}
	}
	if matched == len(names) {
		out = append(out, stackRoot)
	}
	return out
}

// renderHostCheck produces the file contents.
func renderHostCheck(env protocol.AgentEnv, now time.Time, stackEntries []string) []byte {
	var b strings.Builder
	section := func(name string, kv ...string) {
		fmt.Fprintf(&b, "[%s]\n", name)
		for i := 0; i+1 < len(kv); i += 2 {
			fmt.Fprintf(&b, "%s = %s\n", kv[i], kv[i+1])
		}
		b.WriteString("\n")
	}
	section("metadata", "created", pythonDatetime(now))

	users := make([]string, 0, len(env.ExistingUsers))
	homes := make([]string, 0, len(env.ExistingUsers))
	for _, u := range env.ExistingUsers {
		users = append(users, u.Name)
		homes = append(homes, u.HomeDir)
	}
	section("users", "usr_list", strings.Join(users, ","), "usr_homedir_list", strings.Join(homes, ","))

	links := make([]string, 0, len(env.Alternatives))
	targets := make([]string, 0, len(env.Alternatives))
	for _, a := range env.Alternatives {
		links = append(links, a.Name)
		targets = append(targets, a.Target)
	}
	section("alternatives", "symlink_list", strings.Join(links, ","), "target_list", strings.Join(targets, ","))

	dirs := make([]string, 0, len(env.StackFoldersAndFiles)+len(stackEntries))
	for _, d := range env.StackFoldersAndFiles {
		dirs = append(dirs, d.Name)
	}
	dirs = append(dirs, stackEntries...)
	section("directories", "dir_list", strings.Join(dirs, ","))
	// [processes] is written only when Java processes were collected, which
	// the daemon never does.
	return []byte(b.String())
}

// pythonDatetime formats t as str(datetime.now()): microseconds only when
// non-zero.
func pythonDatetime(t time.Time) string {
	if us := t.Nanosecond() / 1000; us != 0 {
		return t.Format("2006-01-02 15:04:05") + fmt.Sprintf(".%06d", us)
	}
	return t.Format("2006-01-02 15:04:05")
}
