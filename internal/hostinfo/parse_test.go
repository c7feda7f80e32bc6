package hostinfo

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // zone tests must not depend on the host's zoneinfo

	"github.com/ambari-go/ambari-agent/internal/protocol"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func mnt(dev, typ, size, used, avail, pct, mp string) protocol.Mount {
	return protocol.Mount{Device: dev, Type: typ, Size: size, Used: used, Available: avail, Percent: pct, MountPoint: mp}
}

func TestParseDF(t *testing.T) {
	got := parseDF(fixture(t, "df.txt"))
	want := []protocol.Mount{
		mnt("devtmpfs", "devtmpfs", "12334492", "0", "12334492", "0%", "/dev"),
		mnt("tmpfs", "tmpfs", "24684092", "0", "24684092", "0%", "/dev/shm"),
		mnt("/dev/mapper/centos-root", "xfs", "52403200", "10485760", "41917440", "21%", "/"),
		mnt("/dev/sda1", "xfs", "1038336", "190000", "848336", "19%", "/boot"),
		mnt("/dev/sdb1", "ext4", "1031992064", "52428800", "979563264", "6%", "/grid/0"),
		// "my disk ... /mnt/with space" has eight fields and is dropped, as in Python.
		mnt("nfs01:/export/home", "nfs4", "104857600", "52428800", "52428800", "50%", "/home"),
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parseDF:\n got %+v\nwant %+v", got, want)
	}
	if m := parseDF(nil); len(m) != 0 {
		t.Fatalf("empty df output gave %v", m)
	}
}

func TestParseMeminfo(t *testing.T) {
	got := parseMeminfo(fixture(t, "meminfo.txt"))
	want := meminfo{MemTotal: 8009732, MemFree: 5000000, SwapTotal: 2097148, SwapFree: 2097148}
	if got != want {
		t.Fatalf("got %+v want %+v", got, want)
	}
	if got := parseMeminfo([]byte("garbage\n")); got != (meminfo{}) {
		t.Fatalf("garbage gave %+v", got)
	}
}

func TestParseUptime(t *testing.T) {
	secs, err := parseUptime(fixture(t, "uptime.txt"))
	if err != nil || secs != 90061 {
		t.Fatalf("got %d, %v", secs, err)
	}
	s, hrs, days := uptimeStrings(secs)
	if s != "90061" || hrs != "25" || days != "1" {
		t.Fatalf("uptime strings %q %q %q", s, hrs, days)
	}
	if s, hrs, days := uptimeStrings(3599); s != "3599" || hrs != "0" || days != "0" {
		t.Fatalf("uptime strings %q %q %q", s, hrs, days)
	}
	if _, err := parseUptime([]byte("")); err == nil {
		t.Fatal("empty uptime parsed")
	}
}

func TestFormatSwapGB(t *testing.T) {
	for kb, want := range map[float64]string{
		2097148: "1.00 GB", // floor division, not rounding
		2097152: "2.00 GB",
		0:       "0.00 GB",
		1048575: "0.00 GB",
		8388608: "8.00 GB",
	} {
		if got := formatSwapGB(kb); got != want {
			t.Errorf("formatSwapGB(%v) = %q, want %q", kb, got, want)
		}
	}
}

func TestParseInterfaces(t *testing.T) {
	if got := parseIfconfigShort(fixture(t, "ifconfig-s.txt")); got != "eth0,eth1,eth2,lo" {
		t.Errorf("ifconfig -s: %q", got)
	}
	if got := parseIPLink(fixture(t, "ip-link.txt")); got != "lo,eth0,veth1a2b@if4" {
		t.Errorf("ip link: %q", got)
	}
	if got := parseIfconfigShort([]byte("Iface MTU\n")); got != "" {
		t.Errorf("header only: %q", got)
	}
}

func TestParseCPUList(t *testing.T) {
	for in, want := range map[string]int{"0": 1, "0-1\n": 2, "0-3,8,10-11": 7} {
		if got, err := parseCPUList([]byte(in)); err != nil || got != want {
			t.Errorf("parseCPUList(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "a-b", "3-1"} {
		if _, err := parseCPUList([]byte(bad)); err == nil {
			t.Errorf("parseCPUList(%q) accepted", bad)
		}
	}
}

func TestParseSestatus(t *testing.T) {
	if !parseSestatus(fixture(t, "sestatus-enforcing.txt")) {
		t.Error("enforcing not detected")
	}
	if parseSestatus(fixture(t, "sestatus-disabled.txt")) {
		t.Error("disabled reported as on")
	}
}

func TestParseTHP(t *testing.T) {
	for in, want := range map[string]string{
		"always [madvise] never\n": "madvise",
		"[always] madvise never":   "always",
		"always madvise never":     "",
	} {
		if got := parseTHP([]byte(in)); got != want {
			t.Errorf("parseTHP(%q) = %q want %q", in, got, want)
		}
	}
}

func TestParsePasswd(t *testing.T) {
	got := parsePasswd(fixture(t, "passwd.txt"))
	if got["hdfs"] != "/var/lib/hadoop-hdfs" || got["yarn"] != "/home/yarn" || len(got) != 6 {
		t.Fatalf("parsePasswd: %v", got)
	}
}

func TestParseUmaskStatus(t *testing.T) {
	m, err := parseUmaskStatus([]byte("Name:\tx\nUmask:\t0022\nState:\tR\n"))
	if err != nil || m != 18 {
		t.Fatalf("got %d, %v", m, err)
	}
	if _, err := parseUmaskStatus([]byte("Name:\tx\n")); err == nil {
		t.Fatal("missing Umask accepted")
	}
}

func TestKernelVersions(t *testing.T) {
	v, maj := kernelVersions("3.10.0-1160.el7.x86_64")
	if v != "3.10.0" || maj != "3.10" {
		t.Fatalf("got %q %q", v, maj)
	}
	v, maj = kernelVersions("6.1")
	if v != "6.1" || maj != "6.1" {
		t.Fatalf("got %q %q", v, maj)
	}
}

func TestTimezoneName(t *testing.T) {
	for zone, want := range map[string]string{
		"UTC":              "UTC",
		"America/New_York": "EST",  // northern DST: the January name
		"Australia/Sydney": "AEST", // southern DST: the July name
		"Asia/Kolkata":     "IST",
	} {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		if got := timezoneName(2024, loc); got != want {
			t.Errorf("%s: got %q want %q", zone, got, want)
		}
	}
}

func TestIdentifyOS(t *testing.T) {
	cases := []struct {
		file          string
		oracle        bool
		machine       string
		debianVersion string
		want          osInfo
		ntp, firewall string
		ntpArgv       string
	}{
		{file: "centos7", want: osInfo{"centos", "7", "redhat"}, ntp: "chronyd", firewall: "iptables", ntpArgv: "systemctl status ntpd"},
		{file: "rhel8", want: osInfo{"rhel", "8.6", "redhat"}, ntp: "chronyd", firewall: "iptables", ntpArgv: "systemctl status ntpd"},
		{file: "ubuntu22", want: osInfo{"ubuntu", "22.04", "ubuntu"}, ntp: "ntp or chrony", firewall: "ufw", ntpArgv: "service ntp status"},
		{file: "debian12", want: osInfo{"debian", "12", "debian"}, ntp: "ntp or chrony", firewall: "ufw", ntpArgv: "service ntp status"},
		{file: "sles15", want: osInfo{"sles", "15.4", "suse"}, ntp: "ntpd or ntp", firewall: "rcSuSEfirewall2", ntpArgv: "service ntpd status"},
		{file: "opensuse-leap15", want: osInfo{"opensuse", "15.5", "suse"}, ntp: "ntpd or ntp", firewall: "rcSuSEfirewall2", ntpArgv: "service ntpd status"},
		{file: "ol8", oracle: true, want: osInfo{"oraclelinux", "8.7", "redhat"}, ntp: "chronyd", firewall: "iptables", ntpArgv: "systemctl status ntpd"},
		{file: "rocky9", want: osInfo{"redhat", "9.2", "redhat"}, ntp: "chronyd", firewall: "iptables", ntpArgv: "systemctl status ntpd"},
		{file: "fedora38", want: osInfo{"fedora", "38", "fedora"}, ntp: "chronyd", firewall: "iptables", ntpArgv: "systemctl status ntpd"},
		{file: "centos7", machine: "ppc64le", want: osInfo{"centos-ppc", "7", "redhat-ppc"}, ntp: "chronyd", firewall: "iptables", ntpArgv: "systemctl status ntpd"},
		{file: "debian-sid", debianVersion: "trixie/sid\n", want: osInfo{"debian", "trixie/sid", "debian"}, ntp: "ntp or chrony", firewall: "ufw", ntpArgv: "service ntp status"},
	}
	for _, c := range cases {
		t.Run(c.file+c.machine, func(t *testing.T) {
			machine := c.machine
			if machine == "" {
				machine = "x86_64"
			}
			got := identifyOS(parseOSRelease(fixture(t, "os-release/"+c.file)), c.debianVersion, c.oracle, machine)
			if got != c.want {
				t.Fatalf("identifyOS = %+v, want %+v", got, c.want)
			}
			if name, _ := ntpGroup(got); name != c.ntp {
				t.Errorf("ntp service name %q, want %q", name, c.ntp)
			}
			if fw := firewallFor(got); fw.name != c.firewall {
				t.Errorf("firewall %q, want %q", fw.name, c.firewall)
			}
			_, cands := ntpGroup(got)
			if argv := strings.Join(serviceStatusArgv(got, cands[0]), " "); argv != c.ntpArgv {
				t.Errorf("service status argv %q, want %q", argv, c.ntpArgv)
			}
		})
	}
}

func TestIdentifyOSOldRedhatAndOthers(t *testing.T) {
	rh6 := osInfo{"centos", "6.10", "redhat"}
	if name, cands := ntpGroup(rh6); name != "ntpd" || strings.Join(cands, ",") != "ntpd,chronyd" {
		t.Errorf("RHEL 6 ntp group %q %v", name, cands)
	}
	if argv := serviceStatusArgv(rh6, "ntpd"); strings.Join(argv, " ") != "service ntpd status" {
		t.Errorf("RHEL 6 argv %v", argv)
	}
	arch := identifyOS(map[string]string{"id": "arch"}, "", false, "x86_64")
	if arch.Family != "arch" {
		t.Errorf("unmapped family %q", arch.Family)
	}
	if name, _ := ntpGroup(arch); name != "ntpd" {
		t.Errorf("other ntp %q", name)
	}
	if fw := firewallFor(arch); strings.Join(fw.argv, " ") != "/sbin/service iptables status" {
		t.Errorf("other firewall argv %v", fw.argv)
	}
	if !(osInfo{Family: "debian"}).InFamily(FamilyUbuntu) || (osInfo{Family: "debian"}).InFamily(FamilyRedhat) {
		t.Error("debian family membership")
	}
	// The alias table renames <type><major> pairs.
	if got := identifyOS(map[string]string{"id": "suse", "version_id": "11sp3.2"}, "", false, "x86_64"); got.Type != "suse" || got.Version != "11.2" {
		t.Errorf("alias: %+v", got)
	}
}

func TestFirewallRules(t *testing.T) {
	ubuntu := firewallFor(osInfo{"ubuntu", "22.04", "ubuntu"})
	rh := firewallFor(osInfo{"centos", "7", "redhat"})
	fedora := firewallFor(osInfo{"fedora", "38", "fedora"})
	suse := firewallFor(osInfo{"sles", "15", "suse"})
	other := firewallFor(osInfo{"arch", "", "arch"})
	cases := []struct {
		name string
		fw   firewallCheck
		res  cmdResult
		want bool
	}{
		{"ufw active", ubuntu, cmdResult{stdout: "Status: active\n"}, true},
		{"ufw inactive", ubuntu, cmdResult{stdout: "Status: inactive\n"}, false},
		{"ufw failed", ubuntu, cmdResult{stdout: "Status: active\n", code: 1}, false},
		{"rh firewalld", rh, cmdResult{stdout: "inactive\nactive\n", code: 0}, true},
		{"rh none", rh, cmdResult{stdout: "inactive\ninactive\n", code: 3}, false},
		{"rh exit code ignored", rh, cmdResult{stdout: "active\nunknown\n", code: 3}, true},
		{"fedora", fedora, cmdResult{stdout: "active\n"}, true},
		{"suse running", suse, cmdResult{stdout: "Checking the status of SuSEfirewall2 running\n"}, true},
		{"suse unused", suse, cmdResult{stdout: "SuSEfirewall2 unused running\n"}, false},
		{"other", other, cmdResult{stdout: "Table: filter\nChain INPUT\n"}, true},
		{"other stopped", other, cmdResult{stdout: "", code: 3}, false},
	}
	for _, c := range cases {
		if got := c.fw.running(c.res); got != c.want {
			t.Errorf("%s: got %v want %v", c.name, got, c.want)
		}
	}
}

func TestIsBlacklisted(t *testing.T) {
	bl := splitIgnoreList(" /mnt/data , ,/grid/1")
	if !reflect.DeepEqual(bl, []string{"/mnt/data", "/grid/1"}) {
		t.Fatalf("split %q", bl)
	}
	for mp, want := range map[string]bool{
		"/mnt/data":     true,
		"/mnt/data/sub": true,
		"/mnt/database": false,
		"/grid/1":       true,
		"/grid/10":      false,
		"/":             false,
		"":              false,
	} {
		if got := isBlacklisted(bl, mp); got != want {
			t.Errorf("isBlacklisted(%q) = %v want %v", mp, got, want)
		}
	}
}

func TestStackRemovable(t *testing.T) {
	got := stackRemovable([]string{"3.1.0.0-1234", "current", "2.6.5.0-2920"})
	want := []string{"/usr/hdp/2.6.5.0-2920", "/usr/hdp/3.1.0.0-1234", "/usr/hdp/current", "/usr/hdp"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("all removable: %v", got)
	}
	// Build numbers need four digits, as the Python pattern asks: 2.6.5.0-292
	// is not a version directory and keeps /usr/hdp itself off the list.
	got = stackRemovable([]string{"current", "2.6.5.0-292", "3.1.0.0-1234"})
	want = []string{"/usr/hdp/3.1.0.0-1234", "/usr/hdp/current"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("with other entries: %v", got)
	}
}

func TestPickFQDN(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want string
	}{
		{[]string{"localhost.", "runsc.", "vm."}, "localhost"},
		{[]string{"h1.", "h1.example.com."}, "h1.example.com"},
		{nil, ""},
	} {
		if got := pickFQDN(c.in); got != c.want {
			t.Errorf("pickFQDN(%v) = %q want %q", c.in, got, c.want)
		}
	}
}

func TestRenderHostCheck(t *testing.T) {
	env := protocol.AgentEnv{
		ExistingUsers: []protocol.ExistingUser{{Name: "hdfs", HomeDir: "/var/lib/hadoop-hdfs", Status: "Available"},
			{Name: "yarn", HomeDir: "/home/yarn", Status: "Available"}},
		StackFoldersAndFiles: []protocol.StackFolder{{Name: "/etc/hadoop", Type: "directory"},
			{Name: "/var/log/hive", Type: "sym_link"}},
	}
	now := time.Date(2024, 5, 1, 12, 30, 0, 123456000, time.Local)
	got := string(renderHostCheck(env, now, []string{"/usr/hdp/current", "/usr/hdp"}))
	want := "[metadata]\ncreated = 2024-05-01 12:30:00.123456\n\n" +
		"[users]\nusr_list = hdfs,yarn\nusr_homedir_list = /var/lib/hadoop-hdfs,/home/yarn\n\n" +
		"[alternatives]\nsymlink_list = \ntarget_list = \n\n" +
		"[directories]\ndir_list = /etc/hadoop,/var/log/hive,/usr/hdp/current,/usr/hdp\n\n"
	if got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	if s := pythonDatetime(time.Date(2024, 5, 1, 1, 2, 3, 0, time.Local)); s != "2024-05-01 01:02:03" {
		t.Errorf("whole second datetime %q", s)
	}
}
