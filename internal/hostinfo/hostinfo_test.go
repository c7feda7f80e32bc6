package hostinfo

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ambari-go/ambari-agent/internal/protocol"
)

// Keys of the hardwareProfile example in docs/protocol.md §2.3.
var specProfileKeys = sorted("mounts", "id", "kernel", "domain", "fqdn", "hostname", "macaddress",
	"architecture", "operatingsystem", "operatingsystemrelease", "physicalprocessorcount", "processorcount",
	"timezone", "hardwareisa", "hardwaremodel", "kernelrelease", "kernelversion", "osfamily", "kernelmajversion",
	"ipaddress", "netmask", "interfaces", "uptime_seconds", "uptime_hours", "uptime_days", "memorysize",
	"memoryfree", "memorytotal", "selinux", "swapsize", "swapfree")

var (
	specAgentEnvKeys = sorted("hostHealth", "umask", "transparentHugePage", "firewallRunning", "firewallName",
		"reverseLookup", "hasUnlimitedJcePolicy", "alternatives", "existingUsers", "stackFoldersAndFiles")
	specMountKeys = sorted("device", "type", "size", "used", "available", "percent", "mountpoint")
)

func TestHardwareProfileOnThisHost(t *testing.T) {
	h := New(Config{EC2MetadataURL: "-", Log: testLog(t)})
	p := h.HardwareProfile(context.Background())

	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if keys := jsonKeys(t, raw); !reflect.DeepEqual(keys, specProfileKeys) {
		t.Fatalf("hardwareProfile keys\n got %v\nwant %v", keys, specProfileKeys)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range specProfileKeys {
		switch k {
		case "mounts":
			list, ok := m[k].([]any)
			if !ok {
				t.Fatalf("mounts is %T", m[k])
			}
			for _, e := range list {
				mb, _ := json.Marshal(e)
				if keys := jsonKeys(t, mb); !reflect.DeepEqual(keys, specMountKeys) {
					t.Errorf("mount keys %v", keys)
				}
				for mk, mv := range e.(map[string]any) {
					if _, ok := mv.(string); !ok {
						t.Errorf("mount %s is %T, want string", mk, mv)
					}
				}
			}
		case "physicalprocessorcount", "processorcount", "memorysize", "memoryfree", "memorytotal":
			if n, ok := m[k].(float64); !ok || n <= 0 || n != float64(int64(n)) {
				t.Errorf("%s = %v (%T), want a positive integer", k, m[k], m[k])
			}
		case "selinux":
			if _, ok := m[k].(bool); !ok {
				t.Errorf("selinux is %T", m[k])
			}
		case "netmask":
			if _, ok := m[k].(string); !ok && m[k] != nil {
				t.Errorf("netmask is %T", m[k])
			}
		default:
			if _, ok := m[k].(string); !ok {
				t.Errorf("%s is %T, want string", k, m[k])
			}
		}
	}

	// What Python's standard library says about this host, as the Python agent
	// would report it.
	py := pythonFacts(t)
	checks := map[string][2]string{
		"processorcount": {strconv.Itoa(p.ProcessorCount), strconv.Itoa(int(py["cpu"].(float64)))},
		"kernelrelease":  {p.KernelRelease, py["release"].(string)},
		"kernel":         {p.Kernel, py["system"].(string)},
		"architecture":   {p.Architecture, py["machine"].(string)},
		"timezone":       {p.Timezone, py["tz"].(string)},
		"id":             {p.ID, py["user"].(string)},
		"fqdn":           {p.FQDN, py["fqdn"].(string)},
		"ipaddress":      {p.IPAddress, py["ip"].(string)},
	}
	for k, v := range checks {
		if v[0] != v[1] {
			t.Errorf("%s: ours %q, Python %q", k, v[0], v[1])
		}
	}
	if !regexp.MustCompile(`^([0-9A-F]{2}:){5}[0-9A-F]{2}$`).MatchString(p.MACAddress) {
		t.Errorf("macaddress %q", p.MACAddress)
	}
	if !regexp.MustCompile(`^\d+\.\d\d GB$`).MatchString(p.SwapSize) {
		t.Errorf("swapsize %q", p.SwapSize)
	}
	if p.OperatingSystem == "" || p.OSFamily == "" || p.OperatingSystemRelease == "" {
		t.Errorf("OS identity missing: %q %q %q", p.OperatingSystem, p.OperatingSystemRelease, p.OSFamily)
	}
	if short, _, _ := strings.Cut(p.FQDN, "."); p.Hostname != short {
		t.Errorf("hostname %q for fqdn %q", p.Hostname, p.FQDN)
	}
	if p.MemoryFree > p.MemoryTotal || p.MemorySize != p.MemoryTotal {
		t.Errorf("memory %d/%d/%d", p.MemorySize, p.MemoryFree, p.MemoryTotal)
	}
	if secs, _ := strconv.Atoi(p.UptimeSeconds); secs <= 0 || p.UptimeHours != strconv.Itoa(secs/3600) {
		t.Errorf("uptime %q %q", p.UptimeSeconds, p.UptimeHours)
	}
	found := false
	for _, mt := range p.Mounts {
		found = found || mt.MountPoint == "/"
		if strings.HasPrefix(mt.MountPoint, "/dev") || mt.Device == "tmpfs" {
			t.Errorf("mount %+v should have been filtered", mt)
		}
	}
	if !found {
		t.Errorf("root file system missing from %+v", p.Mounts)
	}
}

func TestAgentEnvOnThisHost(t *testing.T) {
	h := New(Config{Prefix: t.TempDir(), EC2MetadataURL: "-", Log: testLog(t)})
	before := time.Now().UnixMilli()
	st := h.HostStatus(context.Background())
	raw, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if keys := jsonKeys(t, raw); !reflect.DeepEqual(keys, []string{"agentEnv", "mounts"}) {
		t.Fatalf("host status keys %v", keys)
	}
	var top map[string]json.RawMessage
	_ = json.Unmarshal(raw, &top)
	if keys := jsonKeys(t, top["agentEnv"]); !reflect.DeepEqual(keys, specAgentEnvKeys) {
		t.Fatalf("agentEnv keys\n got %v\nwant %v", keys, specAgentEnvKeys)
	}
	// The cheap variant sends empty arrays, never null.
	for _, k := range []string{`"alternatives":[]`, `"existingUsers":[]`, `"stackFoldersAndFiles":[]`} {
		if !strings.Contains(string(top["agentEnv"]), k) {
			t.Errorf("agentEnv lacks %s: %s", k, top["agentEnv"])
		}
	}
	var env map[string]json.RawMessage
	_ = json.Unmarshal(top["agentEnv"], &env)
	if keys := jsonKeys(t, env["hostHealth"]); !reflect.DeepEqual(keys, []string{"agentTimeStampAtReporting", "liveServices"}) {
		t.Errorf("hostHealth keys %v", keys)
	}
	if string(env["hasUnlimitedJcePolicy"]) != "null" {
		t.Errorf("hasUnlimitedJcePolicy %s without java.home", env["hasUnlimitedJcePolicy"])
	}

	e := st.AgentEnv
	if len(e.HostHealth.LiveServices) != 1 {
		t.Fatalf("live services %+v", e.HostHealth.LiveServices)
	}
	osi := h.osInfo()
	wantName, _ := ntpGroup(osi)
	if ls := e.HostHealth.LiveServices[0]; ls.Name != wantName || (ls.Status != "Healthy" && ls.Status != "Unhealthy") {
		t.Errorf("live service %+v, want name %q", ls, wantName)
	}
	if e.HostHealth.AgentTimeStampAtReporting < before {
		t.Errorf("timestamp %d before %d", e.HostHealth.AgentTimeStampAtReporting, before)
	}
	py := pythonFacts(t)
	if e.Umask != py["umask"] {
		t.Errorf("umask %q, Python %q", e.Umask, py["umask"])
	}
	if e.FirewallName != firewallFor(osi).name {
		t.Errorf("firewall name %q", e.FirewallName)
	}
	if osi.InFamily(FamilyUbuntu) {
		data, err := os.ReadFile(thpFileUbuntu)
		if err == nil && e.TransparentHugePage != parseTHP(data) {
			t.Errorf("THP %q from %q", e.TransparentHugePage, data)
		}
	}
}

// fixtureHost builds a CentOS 7 host under a temporary root, with fake
// systemctl and df first on PATH.
type fixtureHost struct {
	root, bin, prefix string
}

func newFixtureHost(t testing.TB) fixtureHost {
	t.Helper()
	f := fixtureHost{root: t.TempDir(), bin: fakeBin(t), prefix: t.TempDir()}
	r := f.root
	writeFile(t, r+"/etc/os-release", string(fixture(t, "os-release/centos7")), 0o644)
	writeFile(t, r+"/proc/meminfo", string(fixture(t, "meminfo.txt")), 0o644)
	writeFile(t, r+"/proc/uptime", string(fixture(t, "uptime.txt")), 0o644)
	writeFile(t, r+"/sys/devices/system/cpu/online", "0-7\n", 0o644)
	writeFile(t, r+thpFileRedhat, "always madvise [never]\n", 0o644)
	writeFile(t, r+"/etc/passwd", string(fixture(t, "passwd.txt")), 0o644)

	// Leftovers of an earlier stack install.
	for _, d := range []string{"/etc/hadoop", "/var/lib/hadoop-hdfs", "/var/lib/zookeeper", "/kafka-logs",
		"/usr/hdp/current", "/usr/hdp/3.1.0.0-1234", "/grid/0", "/mnt/data/sub", "/mnt/database"} {
		if err := os.MkdirAll(r+d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(r+"/var/log", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(r+"/etc/hadoop", r+"/var/log/hive"); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(r+"/var/run", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(r+"/nowhere", r+"/var/run/kafka"); err != nil { // dangling: not reported
		t.Fatal(err)
	}
	writeFile(t, r+"/tmp/hadoop*", "", 0o644) // the literal name the Python agent looks for
	if err := os.MkdirAll(r+"/var/tmp", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(r+"/var/tmp/knox", 0o644); err != nil {
		t.Fatal(err)
	}
	writeFile(t, r+"/etc/hostname", "h1\n", 0o644) // a Docker-style file mount

	// systemd on this fixture: chronyd runs, firewalld is active.
	script(t, f.bin, "systemctl", `case "$1 $2" in
"status chronyd") echo "chronyd.service - NTP client/server"; echo "Active: active (running)"; exit 0;;
"status ntpd") echo "Unit ntpd.service could not be found."; exit 4;;
"is-active iptables") echo unknown; echo active; exit 0;;
esac
exit 1`)
	f.setDF(t, `/dev/mapper/centos-root xfs 52403200 10485760 41917440 21% /
tmpfs tmpfs 24684092 0 24684092 0% /run/user/0
devtmpfs devtmpfs 12334492 0 12334492 0% /dev
/dev/sda1 xfs 1038336 190000 848336 19% /boot
/dev/sdb1 ext4 1031992064 52428800 979563264 6% /grid/0
/dev/sdc1 ext4 1000 10 990 1% /mnt/data
/dev/sdd1 ext4 1000 10 990 1% /mnt/data/sub
/dev/sde1 ext4 1000 10 990 1% /mnt/database
/dev/sdf1 ext4 1000 10 990 1% /missing
/dev/vda ext4 1000 10 990 1% /etc/hostname
nfs:/home nfs4 1000 10 990 1% /home/users`)
	return f
}

// setDF makes the fake df print a header and lines, recording its arguments.
func (f fixtureHost) setDF(t testing.TB, lines string) {
	script(t, f.bin, "df", `echo "$@" > "`+f.bin+`/df.args"
echo "Filesystem Type 1024-blocks Used Available Capacity Mounted on"
cat <<'EOF'
`+lines+`
EOF`)
}

func (f fixtureHost) config(t testing.TB) Config {
	return Config{Root: f.root, Prefix: f.prefix, EC2MetadataURL: "-", IgnoreMountPoints: "/mnt/data",
		ProbeTimeout: 2 * time.Second, Log: testLog(t)}
}

func mountPoints(ms []protocol.Mount) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m.MountPoint)
	}
	return out
}

func TestFixtureHostProfile(t *testing.T) {
	f := newFixtureHost(t)
	h := New(f.config(t))
	ctx := context.Background()
	p := h.HardwareProfile(ctx)

	if p.OperatingSystem != "centos" || p.OperatingSystemRelease != "7" || p.OSFamily != "redhat" {
		t.Errorf("OS %q %q %q", p.OperatingSystem, p.OperatingSystemRelease, p.OSFamily)
	}
	if p.ProcessorCount != 8 || p.PhysicalProcessorCount != 8 {
		t.Errorf("cpus %d/%d", p.ProcessorCount, p.PhysicalProcessorCount)
	}
	if p.MemorySize != 8009732 || p.MemoryTotal != 8009732 || p.MemoryFree != 5000000 {
		t.Errorf("memory %d %d %d", p.MemorySize, p.MemoryTotal, p.MemoryFree)
	}
	if p.SwapSize != "1.00 GB" || p.SwapFree != "1.00 GB" {
		t.Errorf("swap %q %q", p.SwapSize, p.SwapFree)
	}
	if p.UptimeSeconds != "90061" || p.UptimeHours != "25" || p.UptimeDays != "1" {
		t.Errorf("uptime %q %q %q", p.UptimeSeconds, p.UptimeHours, p.UptimeDays)
	}
	// Kept: writable data disks. Dropped: tmpfs, /dev, /boot, /home, the
	// ignored /mnt/data tree (not /mnt/database), a missing mount point and a
	// file mount.
	if got, want := mountPoints(p.Mounts), []string{"/", "/grid/0", "/mnt/database"}; !reflect.DeepEqual(got, want) {
		t.Errorf("mounts %v, want %v", got, want)
	}
	if args, _ := os.ReadFile(filepath.Join(f.bin, "df.args")); strings.TrimSpace(string(args)) != "-kPT -l" {
		t.Errorf("df args %q", args)
	}

	// The profile is frozen for the process: a changed host is not seen...
	writeFile(t, f.root+"/proc/uptime", "999999.00 1.00\n", 0o644)
	f.setDF(t, "/dev/sdb1 ext4 1 1 0 100% /grid/0")
	if again := h.HardwareProfile(ctx); !reflect.DeepEqual(again, p) {
		t.Errorf("profile changed between calls:\n%+v\n%+v", p, again)
	}
	// ...while host status reports the current disks.
	if got := mountPoints(h.HostStatus(ctx).Mounts); !reflect.DeepEqual(got, []string{"/grid/0"}) {
		t.Errorf("host status mounts %v", got)
	}
}

func TestRemoteMountsAndTimeoutFromAgentConfig(t *testing.T) {
	f := newFixtureHost(t)
	cfg := f.config(t)
	cfg.AgentConfig = staticAgentConfig(map[string]string{keyCheckRemoteMounts: "TRUE", keyMountsTimeout: "3"})
	h := New(cfg)
	if argv := strings.Join(h.dfArgv(h.dfTimeout()), " "); argv != "timeout 3 df -kPT" {
		t.Errorf("argv %q", argv)
	}
	h.Mounts(context.Background())
	if args, _ := os.ReadFile(filepath.Join(f.bin, "df.args")); strings.TrimSpace(string(args)) != "-kPT" {
		t.Errorf("df args with remote mounts %q", args)
	}
	cfg.AgentConfig = staticAgentConfig(map[string]string{keyMountsTimeout: "0"})
	if argv := strings.Join(New(cfg).dfArgv(New(cfg).dfTimeout()), " "); argv != "timeout 10 df -kPT -l" {
		t.Errorf("default argv %q", argv)
	}
}

func TestFixtureHostRegistrationChecks(t *testing.T) {
	f := newFixtureHost(t)
	h := New(f.config(t))
	env := h.AgentEnv(context.Background(), true)
	if _, err := os.Stat(filepath.Join(f.prefix, HostCheckFile)); err == nil {
		t.Fatal("AgentEnv wrote hostcheck.result itself")
	}
	if err := h.WriteHostCheckResult(env); err != nil {
		t.Fatal(err)
	}

	if want := []protocol.LiveService{{Name: "chronyd", Status: "Healthy"}}; !reflect.DeepEqual(env.HostHealth.LiveServices, want) {
		t.Errorf("live services %+v", env.HostHealth.LiveServices)
	}
	if !env.FirewallRunning || env.FirewallName != "iptables" {
		t.Errorf("firewall %v %q", env.FirewallRunning, env.FirewallName)
	}
	if env.TransparentHugePage != "never" {
		t.Errorf("THP %q", env.TransparentHugePage)
	}
	wantUsers := []protocol.ExistingUser{
		{Name: "ambari-qa", HomeDir: "/home/ambari-qa", Status: "Available"},
		{Name: "hdfs", HomeDir: "/var/lib/hadoop-hdfs", Status: "Available"},
		{Name: "zookeeper", HomeDir: "/var/lib/zookeeper", Status: "Available"},
		{Name: "yarn", HomeDir: "/home/yarn", Status: "Available"},
	}
	if !reflect.DeepEqual(env.ExistingUsers, wantUsers) {
		t.Errorf("users %+v", env.ExistingUsers)
	}
	// Home directories of existing users are not leftovers; dangling links
	// do not exist.
	wantFolders := []protocol.StackFolder{
		{Name: "/etc/hadoop", Type: "directory"},
		{Name: "/var/log/hive", Type: "sym_link"},
		{Name: "/var/tmp/knox", Type: "unknown"},
		{Name: "/tmp/hadoop*", Type: "file"},
		{Name: "/kafka-logs", Type: "directory"},
	}
	if !reflect.DeepEqual(env.StackFoldersAndFiles, wantFolders) {
		t.Errorf("folders %+v", env.StackFoldersAndFiles)
	}
	if len(env.Alternatives) != 0 || env.Alternatives == nil {
		t.Errorf("alternatives %#v", env.Alternatives)
	}

	data, err := os.ReadFile(filepath.Join(f.prefix, HostCheckFile))
	if err != nil {
		t.Fatalf("hostcheck.result: %v", err)
	}
	want := regexp.MustCompile(`^\[metadata\]\ncreated = \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?\n\n` +
		regexp.QuoteMeta("[users]\nusr_list = ambari-qa,hdfs,zookeeper,yarn\n"+
			"usr_homedir_list = /home/ambari-qa,/var/lib/hadoop-hdfs,/var/lib/zookeeper,/home/yarn\n\n"+
			"[alternatives]\nsymlink_list = \ntarget_list = \n\n"+
			"[directories]\ndir_list = /etc/hadoop,/var/log/hive,/var/tmp/knox,/tmp/hadoop*,/kafka-logs,"+
			"/usr/hdp/3.1.0.0-1234,/usr/hdp/current,/usr/hdp\n\n") + `$`)
	if !want.Match(data) {
		t.Errorf("hostcheck.result:\n%s", data)
	}
	// Like every file in the data dir, readable by the agent's user only
	// (HostCleanup reads it as root).
	if fi, _ := os.Stat(filepath.Join(f.prefix, HostCheckFile)); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
}

func TestWriteHostCheckResultNeedsPrefix(t *testing.T) {
	h := New(Config{Root: t.TempDir()})
	if err := h.WriteHostCheckResult(protocol.AgentEnv{}); err == nil {
		t.Fatal("wrote without a prefix")
	}
	h = New(Config{Root: t.TempDir(), Prefix: filepath.Join(t.TempDir(), "missing")})
	if err := h.WriteHostCheckResult(protocol.AgentEnv{}); err == nil {
		t.Fatal("wrote into a missing directory")
	}
}

func TestSystemResourceOverrides(t *testing.T) {
	f := newFixtureHost(t)
	dir := t.TempDir()
	writeFile(t, dir+"/a.json", `{"memorysize": 1024, "processorcount": "16", "swapsize": 2097148,
		"selinux": true, "fqdn": "fake.example.com", "netmask": null, "mounts": [], "unknown": 1}`, 0o644)
	writeFile(t, dir+"/b.json", `{"memorysize": 2048, "swapfree": "4194304", "uptime_days": 42}`, 0o644)
	writeFile(t, dir+"/c.json", `{not json`, 0o644)
	writeFile(t, dir+"/d.txt", `{"memorytotal": 1}`, 0o644)
	cfg := f.config(t)
	cfg.SystemResourceOverrides = dir
	p := New(cfg).HardwareProfile(context.Background())

	if p.MemorySize != 2048 { // b.json after a.json
		t.Errorf("memorysize %d", p.MemorySize)
	}
	if p.MemoryTotal != 8009732 {
		t.Errorf("memorytotal %d: only *.json files count", p.MemoryTotal)
	}
	if p.ProcessorCount != 16 || p.PhysicalProcessorCount != 8 {
		t.Errorf("processors %d/%d", p.ProcessorCount, p.PhysicalProcessorCount)
	}
	if p.SwapSize != "1.00 GB" || p.SwapFree != "4.00 GB" {
		t.Errorf("swap %q %q: overrides are kB", p.SwapSize, p.SwapFree)
	}
	if p.SELinux {
		t.Error("selinux is computed after overrides and cannot be overridden")
	}
	if p.FQDN != "fake.example.com" || p.Netmask != nil || p.UptimeDays != "42" {
		t.Errorf("fqdn %q netmask %v uptime_days %q", p.FQDN, p.Netmask, p.UptimeDays)
	}
	if len(p.Mounts) == 0 {
		t.Error("mounts are not overridable")
	}

	// A missing directory is not an error.
	cfg.SystemResourceOverrides = filepath.Join(dir, "nope")
	if p := New(cfg).HardwareProfile(context.Background()); p.MemorySize != 8009732 {
		t.Errorf("memorysize %d without overrides", p.MemorySize)
	}
}

func TestHostnameScript(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	plain := New(Config{EC2MetadataURL: "-"}).Hostname(ctx)
	if plain == "" || plain != strings.ToLower(plain) {
		t.Fatalf("fqdn %q", plain)
	}

	ok := script(t, dir, "ok.sh", `echo "  Node1.Example.COM  "`)
	h := New(Config{HostnameScript: ok, EC2MetadataURL: "-"})
	if got := h.Hostname(ctx); got != "node1.example.com" {
		t.Errorf("script host name %q", got)
	}
	// Cached for the process: a changed script is not run again.
	script(t, dir, "ok.sh", `echo other`)
	if got := h.Hostname(ctx); got != "node1.example.com" {
		t.Errorf("not cached: %q", got)
	}

	for name, body := range map[string]string{
		"fail.sh":  `echo node9; exit 3`,
		"empty.sh": `echo "   "`,
	} {
		s := script(t, dir, name, body)
		if got := New(Config{HostnameScript: s, EC2MetadataURL: "-"}).Hostname(ctx); got != plain {
			t.Errorf("%s: got %q, want the fqdn %q", name, got, plain)
		}
	}
	if got := New(Config{HostnameScript: filepath.Join(dir, "absent"), EC2MetadataURL: "-"}).Hostname(ctx); got != plain {
		t.Errorf("missing script: %q", got)
	}

	// A hanging script costs its timeout, and its whole process tree dies.
	pidFile := filepath.Join(dir, "child.pid")
	hang := script(t, dir, "hang.sh", `sleep 300 & echo $! > `+pidFile+`; wait`)
	h = New(Config{HostnameScript: hang, ScriptTimeout: 500 * time.Millisecond, EC2MetadataURL: "-"})
	start := time.Now()
	got := h.Hostname(ctx)
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("hung script blocked for %v", took)
	}
	if got != plain {
		t.Errorf("hung script: %q", got)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(must(os.ReadFile(pidFile)))))
	if err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestPublicHostname(t *testing.T) {
	ctx := context.Background()
	plain := New(Config{EC2MetadataURL: "-"}).Hostname(ctx)

	h := New(Config{PublicHostnameScript: "echo PUBLIC.Example.COM | cat", EC2MetadataURL: "-"})
	if got := h.PublicHostname(ctx); got != "public.example.com" {
		t.Errorf("shell script: %q", got)
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/latest/meta-data/public-hostname" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte("EC2-1-2-3-4.Compute.amazonaws.com\n"))
	}))
	defer srv.Close()
	h = New(Config{PublicHostnameScript: "exit 1", EC2MetadataURL: srv.URL + "/latest/meta-data/public-hostname"})
	if got := h.PublicHostname(ctx); got != "ec2-1-2-3-4.compute.amazonaws.com" {
		t.Errorf("metadata: %q", got)
	}
	h = New(Config{EC2MetadataURL: srv.URL + "/other"})
	if got := h.PublicHostname(ctx); got != plain {
		t.Errorf("metadata 404: %q, want %q", got, plain)
	}
}

func TestServerHostnames(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	ok := script(t, dir, "servers.sh", `echo "Amb1.Example.com, amb2.example.COM"`)
	h := New(Config{ServerHostnameScript: ok, ServerHostname: "localhost"})
	if got := h.ServerHostnames(ctx); !reflect.DeepEqual(got, []string{"amb1.example.com", "amb2.example.com"}) {
		t.Errorf("script: %v", got)
	}
	bad := script(t, dir, "bad.sh", `exit 1`)
	h = New(Config{ServerHostnameScript: bad, ServerHostname: " S1.example.com ,s2"})
	if got := h.ServerHostnames(ctx); !reflect.DeepEqual(got, []string{"s1.example.com", "s2"}) {
		t.Errorf("fallback: %v", got)
	}
}

func TestHungDFDoesNotBlockProfile(t *testing.T) {
	f := newFixtureHost(t)
	cfg := f.config(t)
	cfg.AgentConfig = staticAgentConfig(map[string]string{keyMountsTimeout: "1"})

	// df that never answers (a dead NFS server).
	script(t, f.bin, "df", `sleep 300`)
	h := New(cfg)
	start := time.Now()
	mounts := h.Mounts(context.Background())
	if took := time.Since(start); took > 15*time.Second {
		t.Fatalf("Mounts took %v with a 1 s df timeout", took)
	}
	if len(mounts) != 0 {
		t.Errorf("mounts %v", mounts)
	}
	p := h.HardwareProfile(context.Background())
	if p.OperatingSystem != "centos" || p.MemoryTotal != 8009732 || p.FQDN == "" {
		t.Errorf("profile incomplete: %+v", p)
	}
	if raw, _ := json.Marshal(p); !strings.Contains(string(raw), `"mounts":[]`) {
		t.Errorf("empty mounts not [] in %s", raw)
	}

	// df that prints the local disks and then hangs on the remote one: what it
	// printed is kept.
	script(t, f.bin, "df", `echo "Filesystem Type 1024-blocks Used Available Capacity Mounted on"
echo "/dev/sdb1 ext4 1031992064 52428800 979563264 6% /grid/0"
sleep 300`)
	if got := mountPoints(New(cfg).Mounts(context.Background())); !reflect.DeepEqual(got, []string{"/grid/0"}) {
		t.Errorf("partial df output gave %v", got)
	}
}

func TestUnlimitedJCE(t *testing.T) {
	ctx := context.Background()
	javaHome := t.TempDir()
	java := javaHome + "/bin/java"
	jar := filepath.Join(t.TempDir(), "jcepolicyinfo.jar")
	args := filepath.Join(t.TempDir(), "args")
	cfgFor := func(m map[string]string) Config {
		return Config{Root: t.TempDir(), EC2MetadataURL: "-", JCEPolicyJar: jar, ProbeTimeout: 500 * time.Millisecond,
			AgentConfig: staticAgentConfig(m)}
	}

	if v := New(cfgFor(nil)).unlimitedJCE(ctx); v != nil {
		t.Errorf("without java.home: %v", *v)
	}
	writeFile(t, java, "#!/bin/sh\necho \"$@\" > "+args+"\nexit 0\n", 0o755)
	if v := New(cfgFor(map[string]string{keyJavaHome: javaHome})).unlimitedJCE(ctx); v == nil || !*v {
		t.Errorf("unlimited policy: %v", v)
	}
	if got := strings.TrimSpace(string(must(os.ReadFile(args)))); got != "-jar "+jar+" -tu" {
		t.Errorf("java args %q", got)
	}
	writeFile(t, java, "#!/bin/sh\nexit 1\n", 0o755)
	if v := New(cfgFor(map[string]string{keyJavaHome: javaHome})).unlimitedJCE(ctx); v == nil || *v {
		t.Errorf("limited policy: %v", v)
	}
	if v := New(cfgFor(map[string]string{keyJavaHome: "/no/such/java"})).unlimitedJCE(ctx); v == nil || *v {
		t.Errorf("missing java: %v", v)
	}
	writeFile(t, java, "#!/bin/sh\nsleep 300\n", 0o755)
	start := time.Now()
	if v := New(cfgFor(map[string]string{keyJavaHome: javaHome})).unlimitedJCE(ctx); v != nil {
		t.Errorf("hung java: %v", *v)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("hung java blocked for %v", took)
	}
}

func TestHungProbesLeaveFieldsStale(t *testing.T) {
	f := newFixtureHost(t)
	cfg := f.config(t)
	cfg.ProbeTimeout = 300 * time.Millisecond
	h := New(cfg)
	ctx := context.Background()

	first := h.AgentEnv(ctx, false)
	if !first.FirewallRunning || first.HostHealth.LiveServices[0].Status != "Healthy" {
		t.Fatalf("first check %+v", first)
	}

	// Now systemd stops answering.
	script(t, f.bin, "systemctl", `sleep 300`)
	start := time.Now()
	second := h.AgentEnv(ctx, false)
	if took := time.Since(start); took > 15*time.Second {
		t.Fatalf("AgentEnv took %v with hung probes", took)
	}
	if !second.FirewallRunning {
		t.Error("hung firewall check lost the last known state")
	}
	ls := second.HostHealth.LiveServices[0]
	if ls.Status != "Unhealthy" || !strings.Contains(ls.Desc, "deadline exceeded") {
		t.Errorf("hung service check: %+v", ls)
	}
	// The rest of the report is intact.
	if second.TransparentHugePage != "never" || second.Umask == "" || second.FirewallName != "iptables" {
		t.Errorf("report damaged: %+v", second)
	}
}

func TestRunProbeBoundsAndSingleFlight(t *testing.T) {
	p := newProbes()
	ctx := context.Background()
	release := make(chan struct{})
	ok := func(v string) func(context.Context) (string, error) {
		return func(context.Context) (string, error) { return v, nil }
	}
	if v, err := runProbe(ctx, p, "k", time.Second, true, ok("good")); err != nil || v != "good" {
		t.Fatalf("first: %q %v", v, err)
	}
	// A probe stuck where no context reaches (a syscall on a dead mount).
	v, err := runProbe(ctx, p, "k", 100*time.Millisecond, true, func(context.Context) (string, error) {
		<-release
		return "late", nil
	})
	if !errors.Is(err, ErrProbeTimeout) || v != "good" {
		t.Fatalf("stuck: %q %v", v, err)
	}
	// While it is stuck, no second copy starts.
	started := false
	v, err = runProbe(ctx, p, "k", time.Second, true, func(context.Context) (string, error) {
		started = true
		return "x", nil
	})
	if !errors.Is(err, ErrProbeBusy) || v != "good" || started {
		t.Fatalf("busy: %q %v started=%v", v, err, started)
	}
	close(release)
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err = runProbe(ctx, p, "k", time.Second, true, ok("fresh"))
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil || v != "fresh" {
		t.Fatalf("after release: %q %v", v, err)
	}
	// A panicking probe is an error, not a crash.
	if _, err := runProbe(ctx, p, "panic", time.Second, false, func(context.Context) (int, error) { panic("boom") }); err == nil {
		t.Fatal("panic not reported")
	}
	// Probes that do not keep values give the zero value on timeout.
	n, err := runProbe(ctx, p, "nokeep", 50*time.Millisecond, false, func(ctx context.Context) (int, error) {
		time.Sleep(2 * time.Second)
		return 7, nil
	})
	if n != 0 || !errors.Is(err, ErrProbeTimeout) {
		t.Fatalf("nokeep: %d %v", n, err)
	}
}

func TestRunCommandKillsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	s := script(t, dir, "tree.sh", `sleep 300 & echo $! > `+pidFile+`; echo started; wait`)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := runCommand(ctx, s)
	if err == nil {
		t.Fatal("killed command reported success")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("runCommand returned after %v", took)
	}
	if !strings.Contains(res.stdout, "started") {
		t.Errorf("partial output lost: %q", res.stdout)
	}
	waitGone(t, must(strconv.Atoi(strings.TrimSpace(string(must(os.ReadFile(pidFile)))))))

	res, err = runCommand(context.Background(), "sh", "-c", "echo out; echo err >&2; exit 3")
	if err != nil || res.code != 3 || res.stdout != "out\n" || res.stderr != "err\n" {
		t.Errorf("exit status: %+v %v", res, err)
	}
	if _, err := runCommand(context.Background(), filepath.Join(dir, "absent")); err == nil {
		t.Error("missing command ran")
	}
}

func TestSameHostStatus(t *testing.T) {
	a := protocol.HostStatus{AgentEnv: protocol.AgentEnv{Umask: "18",
		HostHealth: protocol.HostHealth{AgentTimeStampAtReporting: 1}}}
	b := a
	b.AgentEnv.HostHealth.AgentTimeStampAtReporting = 2
	b.Mounts = []protocol.Mount{}
	b.AgentEnv.ExistingUsers = []protocol.ExistingUser{}
	if !SameHostStatus(a, b) {
		t.Error("timestamps or empty-vs-nil lists made reports differ")
	}
	b.Mounts = []protocol.Mount{{MountPoint: "/"}}
	if SameHostStatus(a, b) {
		t.Error("a new mount went unnoticed")
	}
	b.Mounts = nil
	b.AgentEnv.HostHealth.LiveServices = []protocol.LiveService{{Name: "ntpd", Status: "Unhealthy"}}
	if SameHostStatus(a, b) {
		t.Error("a service change went unnoticed")
	}
}
