package hostinfo

import (
	"context"
	"crypto/rand"
	"net"
	"os"
	"os/user"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ambari-go/ambari-agent/internal/protocol"
)

// HardwareProfile returns the registration's hardwareProfile. It is collected
// on the first call and then reused for the life of the process, as the
// Python agent does (the server sees mounts and memory as of agent start;
// host status reports carry fresh mounts). Every probe inside is bounded, so
// the first call returns within roughly the df timeout even when df, DNS or
// sestatus hang; the affected fields are then empty.
func (h *HostInfo) HardwareProfile(ctx context.Context) protocol.HardwareProfile {
	h.hwMu.Lock()
	defer h.hwMu.Unlock()
	if h.hw != nil {
		return copyProfile(*h.hw)
	}
	start := time.Now()
	h.log.Info("Initializing host system information.")
	p := h.collectProfile(ctx)
	if ctx.Err() == nil {
		h.hw = &p
	}
	h.log.WithField("took", time.Since(start).Round(time.Millisecond)).Info("Host system information collected")
	return copyProfile(p)
}

func copyProfile(p protocol.HardwareProfile) protocol.HardwareProfile {
	p.Mounts = append([]protocol.Mount(nil), p.Mounts...)
	if p.Netmask != nil {
		m := *p.Netmask
		p.Netmask = &m
	}
	return p
}

func (h *HostInfo) collectProfile(ctx context.Context) protocol.HardwareProfile {
	var (
		p          protocol.HardwareProfile
		interfaces string
		selinux    bool
	)
	// The slow parts (df, name resolution, external commands) are independent.
	h.forEachBounded(
		func() { p.Mounts = h.Mounts(ctx) },
		func() {
			p.FQDN = h.Hostname(ctx)
			ip, err := h.resolveIPv4(ctx, "resolve_fqdn", p.FQDN)
			if err != nil {
				h.log.WithError(err).Warn("Cannot resolve the host name to an address")
			}
			p.IPAddress = ip
		},
		func() { interfaces = h.interfaces(ctx) },
		func() { selinux = h.seLinux(ctx) },
	)

	p.ID = currentUser()
	p.Hostname, _, _ = strings.Cut(p.FQDN, ".")
	p.Domain = domainOf(p.FQDN, p.Hostname)
	p.MACAddress = macAddress()

	var u unix.Utsname
	if err := unix.Uname(&u); err == nil {
		p.Kernel = unix.ByteSliceToString(u.Sysname[:])
		p.KernelRelease = unix.ByteSliceToString(u.Release[:])
		p.Architecture = unix.ByteSliceToString(u.Machine[:])
	}
	if p.Architecture == "" {
		p.Architecture = "unknown cpu arch"
	}
	p.HardwareISA, p.HardwareModel = p.Architecture, p.Architecture
	p.KernelVersion, p.KernelMajVersion = kernelVersions(p.KernelRelease)

	osi := h.osInfo()
	p.OperatingSystem, p.OperatingSystemRelease, p.OSFamily = osi.Type, osi.Version, osi.Family

	p.ProcessorCount = h.cpuCount()
	p.PhysicalProcessorCount = p.ProcessorCount
	p.Timezone = timezoneName(time.Now().Year(), time.Local)

	p.Interfaces = interfaces
	p.Netmask = netmaskFor(p.IPAddress, interfaces)

	if data, err := h.readHostFile("/proc/uptime"); err != nil {
		h.log.WithError(err).Warn("Can't get an uptime value")
	} else if secs, err := parseUptime(data); err != nil {
		h.log.WithError(err).Warn("Can't get an uptime value")
	} else {
		p.UptimeSeconds, p.UptimeHours, p.UptimeDays = uptimeStrings(secs)
	}
	if p.UptimeSeconds == "" {
		p.UptimeSeconds, p.UptimeHours, p.UptimeDays = uptimeStrings(0)
	}

	var mem meminfo
	if data, err := h.readHostFile("/proc/meminfo"); err != nil {
		h.log.WithError(err).Warn("Can't read memory information")
	} else {
		mem = parseMeminfo(data)
	}
	p.MemorySize, p.MemoryTotal, p.MemoryFree = mem.MemTotal, mem.MemTotal, mem.MemFree

	// Overrides replace collected facts; selinux is computed after them and
	// swap values from them are taken as kB, as in the Python agent.
	ov := h.readOverrides()
	applyOverrides(&p, ov, h.log)
	p.SELinux = selinux
	p.SwapSize = formatSwapGB(overrideKB(ov, "swapsize", float64(mem.SwapTotal), h.log))
	p.SwapFree = formatSwapGB(overrideKB(ov, "swapfree", float64(mem.SwapFree), h.log))
	return p
}

// domainOf is the FQDN minus the short name and the first dot.
func domainOf(fqdn, short string) string {
	d := strings.Replace(fqdn, short, "", 1)
	return strings.Replace(d, ".", "", 1)
}

// currentUser is getpass.getuser(): the login name from the environment,
// else the password entry of the real uid.
func currentUser() string {
	for _, k := range []string{"LOGNAME", "USER", "LNAME", "USERNAME"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return strconv.Itoa(os.Getuid())
}

// cpuCount is the number of online CPUs (what Python's cpu_count reports),
// not the affinity-limited count the Go runtime uses.
func (h *HostInfo) cpuCount() int {
	if data, err := h.readHostFile("/sys/devices/system/cpu/online"); err == nil {
		if n, err := parseCPUList(data); err == nil {
			return n
		}
	}
	return runtime.NumCPU()
}

// interfaces lists interface names from `ifconfig -s`, else `ip link`, else
// says "OS NOT SUPPORTED". ifconfig -s shows only interfaces that are up,
// which is what the server has always been told.
func (h *HostInfo) interfaces(ctx context.Context) string {
	if res, err := h.commandProbe(ctx, "ifconfig", h.cfg.ProbeTimeout, "ifconfig", "-s"); err == nil {
		if names := parseIfconfigShort([]byte(res.stdout)); names != "" {
			return names
		}
	}
	if res, err := h.commandProbe(ctx, "ip_link", h.cfg.ProbeTimeout, "ip", "link"); err == nil {
		if names := parseIPLink([]byte(res.stdout)); names != "" {
			return names
		}
	}
	h.log.Warn("Can't get a network interfaces list")
	return "OS NOT SUPPORTED"
}

// netmaskFor returns the netmask of the listed interface that holds ip.
// The Python agent compares only each interface's primary address; we accept
// any IPv4 address on it, so a host whose name resolves to a secondary
// address still gets its netmask.
func netmaskFor(ip string, interfaces string) *string {
	want := net.ParseIP(ip)
	if want == nil {
		return nil
	}
	for _, name := range strings.Split(interfaces, ",") {
		iface, err := net.InterfaceByName(strings.TrimSpace(name))
		if err != nil {
			continue
		}
		addrs, err := iface.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok || ipn.IP.To4() == nil || !ipn.IP.Equal(want) {
				continue
			}
			mask := ipn.Mask
			if len(mask) == net.IPv6len {
				mask = mask[12:]
			}
			m := net.IP(mask).String()
			return &m
		}
	}
	return nil
}

// macAddress is uuid.getnode() as the Python agent uses it: the hardware
// address of the first interface that has an IPv4 address (what libuuid
// picks), else the first hardware address, preferring universally
// administered ones; else a random multicast address. Upper-case, colon
// separated.
func macAddress() string {
	ifaces, _ := net.Interfaces()
	var first, firstUniversal net.HardwareAddr
	for _, iface := range ifaces {
		hw := iface.HardwareAddr
		if len(hw) != 6 || isZero(hw) {
			continue
		}
		if addrs, err := iface.Addrs(); err == nil {
			for _, a := range addrs {
				if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
					return formatMAC(hw)
				}
			}
		}
		if first == nil {
			first = hw
		}
		if firstUniversal == nil && hw[0]&0x02 == 0 {
			firstUniversal = hw
		}
	}
	switch {
	case firstUniversal != nil:
		return formatMAC(firstUniversal)
	case first != nil:
		return formatMAC(first)
	}
	hw := make(net.HardwareAddr, 6)
	_, _ = rand.Read(hw)
	hw[0] |= 0x01 // multicast bit: never a real card, as RFC 4122 asks
	return formatMAC(hw)
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func formatMAC(hw net.HardwareAddr) string {
	return strings.ToUpper(hw.String())
}

// seLinux runs /usr/sbin/sestatus; SELinux counts as on in any mode it prints.
func (h *HostInfo) seLinux(ctx context.Context) bool {
	if _, err := os.Stat("/usr/sbin/sestatus"); err != nil {
		return false
	}
	res, err := h.commandProbe(ctx, "sestatus", h.cfg.ProbeTimeout, "/usr/sbin/sestatus")
	if err != nil {
		h.log.WithError(err).Warn("Could not run /usr/sbin/sestatus")
		return false
	}
	return parseSestatus([]byte(res.stdout))
}
