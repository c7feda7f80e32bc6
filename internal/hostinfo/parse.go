package hostinfo

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ambari-go/ambari-agent/internal/protocol"
)

// Pure parsers of host data. Each takes the bytes a reader got from the host
// (a /proc file, a command's output) and is tested against fixtures in
// testdata/.

// meminfo is the part of /proc/meminfo the profile reports, in kB.
type meminfo struct {
	MemTotal, MemFree, SwapTotal, SwapFree int64
}

// parseMeminfo reads the kB values of /proc/meminfo. Missing keys stay 0, as
// the Python agent reports 0 when its pattern does not match.
func parseMeminfo(data []byte) meminfo {
	var m meminfo
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *int64
		switch key {
		case "MemTotal":
			dst = &m.MemTotal
		case "MemFree":
			dst = &m.MemFree
		case "SwapTotal":
			dst = &m.SwapTotal
		case "SwapFree":
			dst = &m.SwapFree
		default:
			continue
		}
		if f := strings.Fields(rest); len(f) > 0 {
			if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				*dst = n
			}
		}
	}
	return m
}

var firstDigitsRE = regexp.MustCompile(`\d+`)

// parseUptime returns the whole seconds of /proc/uptime (the first run of
// digits, so "3600.52 7000.10" is 3600).
func parseUptime(data []byte) (int64, error) {
	d := firstDigitsRE.Find(data)
	if d == nil {
		return 0, fmt.Errorf("no uptime in %q", data)
	}
	return strconv.ParseInt(string(d), 10, 64)
}

// uptimeStrings formats uptime as the profile's three decimal strings (floor
// division).
func uptimeStrings(seconds int64) (secs, hours, days string) {
	return strconv.FormatInt(seconds, 10), strconv.FormatInt(seconds/3600, 10), strconv.FormatInt(seconds/86400, 10)
}

// parseIfconfigShort returns the interface names of `ifconfig -s` (the first
// word of every line after the header) as a comma list.
func parseIfconfigShort(out []byte) string {
	lines := strings.Split(string(out), "\n")
	if len(lines) < 2 {
		return ""
	}
	var names []string
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return strings.Join(names, ",")
}

var ipLinkLineRE = regexp.MustCompile(`^\d`)

// parseIPLink returns the interface names of `ip link` ("2: eth0: <...>") as a
// comma list. Names keep an "@peer" suffix, as in the Python agent.
func parseIPLink(out []byte) string {
	var names []string
	for _, l := range strings.Split(string(out), "\n") {
		if !ipLinkLineRE.MatchString(l) {
			continue
		}
		if f := strings.Fields(l); len(f) > 1 {
			names = append(names, strings.TrimRight(f[1], ":"))
		}
	}
	return strings.Join(names, ",")
}

// parseCPUList counts the CPUs of a kernel CPU list ("0-3,8,10-11" -> 7), the
// format of /sys/devices/system/cpu/online.
func parseCPUList(data []byte) (int, error) {
	s := strings.TrimSpace(string(data))
	if s == "" {
		return 0, fmt.Errorf("empty cpu list")
	}
	n := 0
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return 0, fmt.Errorf("cpu list %q: %w", s, err)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				return 0, fmt.Errorf("cpu list %q: %w", s, err)
			}
		}
		if b < a {
			return 0, fmt.Errorf("cpu list %q: bad range", s)
		}
		n += b - a + 1
	}
	return n, nil
}

var seStatusRE = regexp.MustCompile(`enforcing|permissive|enabled`)

// parseSestatus reports whether `sestatus` output shows SELinux on in any mode.
func parseSestatus(out []byte) bool {
	return seStatusRE.Match(out)
}

// formatSwapGB renders kB as the profile's swap string: floor-divided to whole
// GiB, then "%0.2f GB" (2097148 kB -> "1.00 GB"), exactly like the Python agent.
func formatSwapGB(kb float64) string {
	return fmt.Sprintf("%0.2f GB", math.Floor(kb/(1024*1024)))
}

// kernelVersions derives kernelversion (release up to the first '-') and
// kernelmajversion (its first two dotted parts) from `uname -r`.
func kernelVersions(release string) (version, major string) {
	version, _, _ = strings.Cut(release, "-")
	parts := strings.SplitN(version, ".", 3)
	if len(parts) > 2 {
		parts = parts[:2]
	}
	return version, strings.Join(parts, ".")
}

// timezoneName is Python's time.tzname[time.daylight - 1]: the standard-time
// abbreviation of the local zone this year (the one of January and July with
// the smaller UTC offset; the July one when they are equal).
func timezoneName(year int, loc *time.Location) string {
	jan, janOff := time.Date(year, time.January, 1, 0, 0, 0, 0, loc).Zone()
	jul, julOff := time.Date(year, time.July, 1, 0, 0, 0, 0, loc).Zone()
	switch {
	case janOff == julOff:
		return jul
	case janOff < julOff:
		return jan
	default:
		return jul
	}
}

// parseDF parses `df -kPT` output. Lines with exactly seven fields become
// mounts (the header has eight, so it drops out); names with spaces are lost,
// as in the Python agent.
func parseDF(out []byte) []protocol.Mount {
	var mounts []protocol.Mount
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) != 7 {
			continue
		}
		mounts = append(mounts, protocol.Mount{Device: f[0], Type: f[1], Size: f[2], Used: f[3],
			Available: f[4], Percent: f[5], MountPoint: f[6]})
	}
	return mounts
}

// parseTHP returns the bracketed (selected) value of a transparent_hugepage
// "enabled" file ("always [madvise] never" -> "madvise").
func parseTHP(data []byte) string {
	open := bytes.IndexByte(data, '[')
	if open < 0 {
		return ""
	}
	end := bytes.LastIndexByte(data, ']')
	if end <= open+1 {
		return ""
	}
	return string(data[open+1 : end])
}

// parsePasswd returns name -> home directory from passwd(5) lines, the format
// of both /etc/passwd and `getent passwd`.
func parsePasswd(data []byte) map[string]string {
	users := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 7 || f[0] == "" || strings.HasPrefix(f[0], "#") {
			continue
		}
		if _, dup := users[f[0]]; !dup {
			users[f[0]] = f[5]
		}
	}
	return users
}

// parseUmaskStatus returns the Umask field of /proc/self/status as a number.
func parseUmaskStatus(data []byte) (int, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Umask:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 8, 32)
			if err != nil {
				return 0, fmt.Errorf("umask %q: %w", v, err)
			}
			return int(n), nil
		}
	}
	return 0, fmt.Errorf("no Umask line")
}
