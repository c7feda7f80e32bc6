package hostinfo

import (
	"bufio"
	"bytes"
	"os"
	"regexp"
	"strings"

	"golang.org/x/sys/unix"
)

// OS families as ambari_commons names them.
const (
	FamilyRedhat = "redhat"
	FamilySuse   = "suse"
	FamilyUbuntu = "ubuntu"
)

// osFamily is one family of the mapping the server and the stack scripts
// share (ambari_commons resources/os_family.json). A family may extend
// another: debian is in the ubuntu family, fedora in the redhat family.
type osFamily struct {
	name    string
	extends string
	members []string // OS type names (distro ids after normalisation)
}

// osFamilies is the Linux part of the mapping, in the order the Python code
// searches it. It changes only when Ambari adds a supported OS.
var osFamilies = []osFamily{
	{name: "redhat", members: []string{"redhat", "rhel", "centos", "oraclelinux", "ascendos", "xenserver",
		"oel", "ovs", "cloudlinux", "slc", "scientific", "psbm", "centos linux", "rocky"}},
	{name: "redhat-ppc", extends: "redhat", members: []string{"redhat-ppc", "centos-ppc"}},
	{name: "openeuler", extends: "redhat", members: []string{"openeuler"}},
	{name: "fedora", extends: "redhat", members: []string{"fedora"}},
	{name: "amazonlinux", extends: "redhat", members: []string{"amazonlinux"}},
	{name: "debian", extends: "ubuntu", members: []string{"debian"}},
	{name: "ubuntu", members: []string{"ubuntu"}},
	{name: "suse", members: []string{"sles", "sled", "opensuse", "suse"}},
}

// osTypeAliases renames <type><major> pairs (e.g. suse11sp3 is reported as
// suse11).
var osTypeAliases = map[string]string{"suse11sp3": "suse11"}

// distroIDAliases normalises os-release IDs as the Python `distro` package does.
var distroIDAliases = map[string]string{"ol": "oracle", "opensuse-leap": "opensuse"}

// osInfo is the OS identity: operatingsystem, operatingsystemrelease, osfamily.
type osInfo struct {
	Type    string // "centos", "rhel", "ubuntu", "sles", ...
	Version string // VERSION_ID, e.g. "7", "8.6", "22.04"
	Family  string // "redhat", "debian", "ubuntu", "suse", or Type when unmapped
}

// Major is the first dotted part of the version ("8.6" -> "8").
func (o osInfo) Major() string {
	major, _, _ := strings.Cut(o.Version, ".")
	return major
}

// MajorInt is Major as a number, 0 when it is not one.
func (o osInfo) MajorInt() int {
	n := 0
	for _, c := range o.Major() {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// InFamily reports whether the OS belongs to family directly or through the
// families it extends (debian is in the ubuntu family).
func (o osInfo) InFamily(family string) bool {
	seen := 0
	for f := o.Family; f != "" && seen <= len(osFamilies); seen++ {
		if f == family {
			return true
		}
		f = familyParent(f)
	}
	return false
}

func familyParent(name string) string {
	for _, f := range osFamilies {
		if f.name == name {
			return f.extends
		}
	}
	return ""
}

// osInfo identifies the OS once per process, from the host's os-release.
func (h *HostInfo) osInfo() osInfo {
	h.osOnce.Do(func() {
		rel, err := h.readHostFile("/etc/os-release")
		if err != nil {
			rel, err = h.readHostFile("/usr/lib/os-release")
		}
		if err != nil {
			h.log.WithError(err).Warn("no os-release file, OS type unknown")
		}
		debianVersion, _ := h.readHostFile("/etc/debian_version")
		_, oracleErr := os.Stat(h.hostPath("/etc/oracle-release"))
		var u unix.Utsname
		machine := ""
		if unix.Uname(&u) == nil {
			machine = unix.ByteSliceToString(u.Machine[:])
		}
		h.os = identifyOS(parseOSRelease(rel), string(debianVersion), oracleErr == nil, machine)
	})
	return h.os
}

// parseOSRelease parses os-release(5) text: KEY=value lines, values optionally
// quoted with shell quoting. Keys are returned lower-cased.
func parseOSRelease(data []byte) map[string]string {
	props := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		props[strings.ToLower(strings.TrimSpace(k))] = unquoteShell(strings.TrimSpace(v))
	}
	return props
}

// unquoteShell undoes the single-word shell quoting os-release allows.
func unquoteShell(v string) string {
	var b strings.Builder
	var quote byte
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case quote == 0 && (c == '"' || c == '\''):
			quote = c
		case quote != 0 && c == quote:
			quote = 0
		case c == '\\' && quote != '\'' && i+1 < len(v):
			i++
			b.WriteByte(v[i])
		case quote == 0 && c == '#':
			return strings.TrimSpace(b.String())
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

var (
	prettyVersionRE = regexp.MustCompile(`\d+(?:\.\d+)*`)
	aliasRE         = regexp.MustCompile(`^(\D+)(\d+)$`)
)

// identifyOS maps os-release contents to the OS identity exactly as
// ambari_commons.OSCheck does on top of the `distro` package: ID (normalised)
// is the type, VERSION_ID the version, with Oracle, Red Hat and Rocky special
// cases, a "-ppc" suffix on POWER, and the family from osFamilies.
//
// Where the version is missing `distro` also consults lsb_release and the
// legacy /etc/*-release files; we use PRETTY_NAME and /etc/debian_version only,
// which covers every OS the server supports.
func identifyOS(rel map[string]string, debianVersion string, oracleRelease bool, machine string) osInfo {
	id := strings.ReplaceAll(strings.ToLower(rel["id"]), " ", "_")
	if alias, ok := distroIDAliases[id]; ok {
		id = alias
	}
	version := rel["version_id"]
	if version == "" {
		version = prettyVersionRE.FindString(rel["pretty_name"])
	}
	if version == "" && (id == "debian" || strings.Contains(" "+rel["id_like"]+" ", " debian ")) {
		version = strings.TrimSpace(debianVersion)
	}

	osType := id
	switch {
	case oracleRelease:
		osType = "oraclelinux"
	case strings.HasPrefix(osType, "suse linux enterprise server"):
		osType = "sles"
	case strings.HasPrefix(osType, "red hat enterprise linux"), strings.HasPrefix(osType, "rocky"):
		osType = "redhat"
	}
	if osType != "" && strings.HasPrefix(machine, "ppc") {
		osType += "-ppc"
	}

	// Aliases rename <type><major>, keeping the rest of the version.
	major, rest, hasRest := strings.Cut(version, ".")
	if alias, ok := osTypeAliases[osType+major]; ok {
		if m := aliasRE.FindStringSubmatch(alias); m != nil {
			osType = m[1]
			version = m[2]
			if hasRest {
				version += "." + rest
			}
		}
	}

	family := osType
search:
	for _, f := range osFamilies {
		for _, m := range f.members {
			if m == osType {
				family = f.name
				break search
			}
		}
	}
	return osInfo{Type: osType, Version: version, Family: strings.ToLower(family)}
}
