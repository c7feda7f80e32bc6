package multiplier

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// The agent's paths inside each home, as Ambari's tool lays them out.
const (
	LogDir    = "/var/log/ambari-agent"
	ConfDir   = "/etc/ambari-agent/conf"
	PidDir    = "/var/run/ambari-agent"
	PrefixDir = "/var/lib/ambari-agent/data"
	CacheDir  = "/var/lib/ambari-agent/cache"
)

// MarkFile in a home says the multiplier made it; a home without it is
// someone else's and is not touched unless forced.
const MarkFile = ".ambari-agent-multiplier"

// ErrNotOurs is returned for an existing home the multiplier did not make.
var ErrNotOurs = errors.New("exists and was not made by the agent multiplier (use --force to take it over)")

// Template is what every home is made from.
type Template struct {
	// Ini is the ambari-agent.ini copied into each home.
	Ini string
	// VersionFile is data/version; it is copied when it exists (the agent
	// starts without one, with a warning).
	VersionFile string
	// CacheDir's content (stacks, hooks, ...) is copied into each home's
	// cache once; a missing CacheDir copies nothing.
	CacheDir string
}

// TemplateFor is the template of an agent installation rooted at home
// ("" for the system's own paths).
func TemplateFor(home string) Template {
	at := func(p string) string {
		if home == "" {
			return p
		}
		return filepath.Join(home, p)
	}
	return Template{
		Ini:         at(filepath.Join(ConfDir, "ambari-agent.ini")),
		VersionFile: at(filepath.Join(PrefixDir, "version")),
		CacheDir:    at(CacheDir),
	}
}

// IniFile is the host's ambari-agent.ini.
func (h Host) IniFile() string { return filepath.Join(h.Home+ConfDir, "ambari-agent.ini") }

// ConfDir is the host's configuration directory (AMBARI_AGENT_CONF_DIR).
func (h Host) ConfDir() string { return h.Home + ConfDir }

// PidFile is the host's pid file.
func (h Host) PidFile() string { return filepath.Join(h.Home+PidDir, "ambari-agent.pid") }

// iniChanges are the values Ambari's tool sets in each host's ini, in the
// order it would add them.
func (h Host) iniChanges() []iniChange {
	script := filepath.Join(h.ConfDir(), "hostname.sh")
	return []iniChange{
		{"ping_port", strconv.Itoa(h.PingPort)},
		{"hostname_script", script},
		{"public_hostname_script", script},
		{"logdir", h.Home + LogDir},
		{"piddir", h.Home + PidDir},
		{"prefix", h.Home + PrefixDir},
		{"cache_dir", h.Home + CacheDir},
	}
}

type iniChange struct{ key, value string }

// Bootstrap makes h's home from t: the agent's directories, the ini (copied
// once, then edited), data/version and the cache (copied once), and
// hostname.sh. Running it again changes nothing that is already right. An
// existing home without the multiplier's mark is refused unless force.
func Bootstrap(h Host, t Template, force bool) error {
	if err := claim(h.Home, force); err != nil {
		return fmt.Errorf("home %s: %w", h.Home, err)
	}
	for _, d := range []string{h.Home + LogDir, h.ConfDir(), h.Home + PidDir, h.Home + PrefixDir, h.Home + CacheDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := copyOnce(t.Ini, h.IniFile(), true); err != nil {
		return fmt.Errorf("template ini: %w", err)
	}
	if err := copyOnce(t.VersionFile, filepath.Join(h.Home+PrefixDir, "version"), false); err != nil {
		return fmt.Errorf("version file: %w", err)
	}
	if _, err := os.Stat(filepath.Join(h.Home+CacheDir, "stacks")); errors.Is(err, fs.ErrNotExist) {
		if err := copyDirContent(t.CacheDir, h.Home+CacheDir); err != nil {
			return fmt.Errorf("cache: %w", err)
		}
	}
	script := filepath.Join(h.ConfDir(), "hostname.sh")
	// Byte for byte what Ambari's tool writes (no final newline).
	if err := writeIfChanged(script, []byte("#!/bin/sh\necho "+h.Name), 0o755); err != nil {
		return err
	}
	return EditIni(h.IniFile(), h.iniChanges())
}

// claim makes home the multiplier's: a new or empty directory, or one
// already marked, is marked; any other is refused unless force.
func claim(home string, force bool) error {
	mark := filepath.Join(home, MarkFile)
	if _, err := os.Stat(mark); err == nil {
		return nil
	}
	entries, err := os.ReadDir(home)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	case len(entries) > 0 && !force:
		return ErrNotOurs
	}
	if err := os.MkdirAll(home, 0o755); err != nil {
		return err
	}
	return os.WriteFile(mark, []byte("made by ambari-agent multiplier; removing this file makes the multiplier refuse this home\n"), 0o644)
}

// EditIni sets each key where a line starts with "key=" or "key =" (any
// section, every such line, as Ambari's tool does). A key found nowhere is
// added at the end of the [agent] section; Ambari's tool aborts instead.
// The file is rewritten only when something changed.
func EditIni(path string, changes []iniChange) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	lines := strings.SplitAfter(string(data), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	found := map[string]bool{}
	res := make([]*regexp.Regexp, len(changes))
	for i, c := range changes {
		res[i] = keyLine(c.key)
	}
	for i, l := range lines {
		for j, c := range changes {
			if res[j].MatchString(l) {
				found[c.key] = true
				lines[i] = c.key + "=" + c.value + "\n"
			}
		}
	}
	var missing []string
	for _, c := range changes {
		if !found[c.key] {
			missing = append(missing, c.key+"="+c.value+"\n")
		}
	}
	if len(missing) > 0 {
		if len(lines) > 0 && !strings.HasSuffix(lines[len(lines)-1], "\n") {
			lines[len(lines)-1] += "\n"
		}
		at := agentSectionEnd(lines)
		if at < 0 {
			lines = append(lines, "[agent]\n")
			at = len(lines)
		}
		lines = append(lines[:at], append(missing, lines[at:]...)...)
	}
	return writeIfChanged(path, []byte(strings.Join(lines, "")), 0)
}

func keyLine(key string) *regexp.Regexp {
	return regexp.MustCompile(`^` + regexp.QuoteMeta(key) + `\s?=`)
}

// agentSectionEnd is the index after the last key line of [agent] (before
// trailing blank and comment lines), or -1 without an [agent] section.
func agentSectionEnd(lines []string) int {
	in, end := false, -1
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
			if in {
				return end
			}
			in = strings.EqualFold(t, "[agent]")
			if in {
				end = i + 1
			}
			continue
		}
		if in && t != "" && t[0] != '#' && t[0] != ';' {
			end = i + 1
		}
	}
	return end
}

// writeIfChanged writes data to path unless it already holds exactly that;
// perm 0 keeps an existing file's mode (0644 for a new one).
func writeIfChanged(path string, data []byte, perm os.FileMode) error {
	old, err := os.ReadFile(path)
	if err == nil && bytes.Equal(old, data) {
		if perm != 0 {
			return os.Chmod(path, perm)
		}
		return nil
	}
	if perm == 0 {
		perm = 0o644
		if st, err := os.Stat(path); err == nil {
			perm = st.Mode().Perm()
		}
	}
	if err := os.WriteFile(path, data, perm); err != nil {
		return err
	}
	return os.Chmod(path, perm)
}

// copyOnce copies src to dst unless dst exists. A missing src is an error
// only when required.
func copyOnce(src, dst string, required bool) error {
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) && !required {
		return nil
	}
	return copyFile(src, dst)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	tmp := dst + ".multiplier-tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, dst)
}

// copyDirContent copies the tree under src into dst (files, directories,
// symlinks as links). A missing src copies nothing.
func copyDirContent(src, dst string) error {
	if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			os.Remove(target)
			return os.Symlink(link, target)
		case d.Type().IsRegular():
			return copyFile(p, target)
		}
		return nil
	})
}
