package multiplier

import (
	"os"
	"strings"
)

// localhostLine is the start Ambari's tool gives the 127.0.0.1 line; the
// host names follow it.
const localhostLine = "127.0.0.1 localhost localhost.localdomain localhost4 localhost4.localdomain4 "

// EditEtcHosts makes every line of the hosts file at path that starts with
// 127.0.0.1 name localhost and all of hosts, as Ambari's tool does (other
// aliases on that line are dropped, as there). The file is written in
// place, not replaced, since /etc/hosts is often a bind mount; only when
// it changes. It reports whether it changed.
func EditEtcHosts(path string, hosts []Host) (bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	names := make([]string, len(hosts))
	for i, h := range hosts {
		names[i] = h.Name
	}
	want := localhostLine + strings.Join(names, " ") + "\n"
	lines := strings.SplitAfter(string(data), "\n")
	changed := false
	for i, l := range lines {
		if strings.HasPrefix(l, "127.0.0.1") && l != want {
			lines[i] = want
			changed = true
		}
	}
	if !changed {
		return false, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return false, err
	}
	if _, err := f.WriteString(strings.Join(lines, "")); err != nil {
		f.Close()
		return false, err
	}
	return true, f.Close()
}
