package protocol

import "encoding/json"

// Host facts the agent reports: the registration request's hardwareProfile and
// agentEnv, and the body of /reports/host_status. JSON names and value types
// follow the Python agent exactly, because the server's host model and its
// change detection are keyed on them.

// Mount is one line of `df -kPT`. Every value is a string, sizes in kB and the
// percentage with its '%' sign, because that is what the server stores.
type Mount struct {
	Device     string `json:"device"`
	Type       string `json:"type"`
	Size       string `json:"size"`
	Used       string `json:"used"`
	Available  string `json:"available"`
	Percent    string `json:"percent"`
	MountPoint string `json:"mountpoint"`
}

// HardwareProfile is the registration's hardwareProfile (Linux keys only).
type HardwareProfile struct {
	Mounts                 []Mount `json:"mounts"`
	ID                     string  `json:"id"`
	Kernel                 string  `json:"kernel"`
	Domain                 string  `json:"domain"`
	FQDN                   string  `json:"fqdn"`
	Hostname               string  `json:"hostname"`
	MACAddress             string  `json:"macaddress"`
	Architecture           string  `json:"architecture"`
	OperatingSystem        string  `json:"operatingsystem"`
	OperatingSystemRelease string  `json:"operatingsystemrelease"`
	PhysicalProcessorCount int     `json:"physicalprocessorcount"`
	ProcessorCount         int     `json:"processorcount"`
	Timezone               string  `json:"timezone"`
	HardwareISA            string  `json:"hardwareisa"`
	HardwareModel          string  `json:"hardwaremodel"`
	KernelRelease          string  `json:"kernelrelease"`
	KernelVersion          string  `json:"kernelversion"`
	OSFamily               string  `json:"osfamily"`
	KernelMajVersion       string  `json:"kernelmajversion"`
	IPAddress              string  `json:"ipaddress"`
	// Netmask is null when no interface holds IPAddress.
	Netmask       *string `json:"netmask"`
	Interfaces    string  `json:"interfaces"`
	UptimeSeconds string  `json:"uptime_seconds"`
	UptimeHours   string  `json:"uptime_hours"`
	UptimeDays    string  `json:"uptime_days"`
	MemorySize    int64   `json:"memorysize"`
	MemoryFree    int64   `json:"memoryfree"`
	MemoryTotal   int64   `json:"memorytotal"`
	SELinux       bool    `json:"selinux"`
	SwapSize      string  `json:"swapsize"`
	SwapFree      string  `json:"swapfree"`
}

// MarshalJSON keeps an empty mount list as [] rather than null.
func (p HardwareProfile) MarshalJSON() ([]byte, error) {
	type plain HardwareProfile
	q := plain(p)
	if q.Mounts == nil {
		q.Mounts = []Mount{}
	}
	return json.Marshal(q)
}

// LiveService is the health of one service group (the NTP daemons).
type LiveService struct {
	Name   string `json:"name"`
	Status string `json:"status"` // "Healthy", "Unhealthy" or "UNKNOWN"
	Desc   string `json:"desc"`
}

// Live service states as the server spells them.
const (
	LiveServiceHealthy   = "Healthy"
	LiveServiceUnhealthy = "Unhealthy"
	LiveServiceUnknown   = "UNKNOWN"
)

// HostHealth is agentEnv.hostHealth. activeJavaProcs is never sent on Linux.
type HostHealth struct {
	LiveServices []LiveService `json:"liveServices"`
	// AgentTimeStampAtReporting is epoch milliseconds, taken after every other
	// check; change detection ignores it.
	AgentTimeStampAtReporting int64 `json:"agentTimeStampAtReporting"`
}

// MarshalJSON keeps an empty service list as [] rather than null.
func (h HostHealth) MarshalJSON() ([]byte, error) {
	type plain HostHealth
	q := plain(h)
	if q.LiveServices == nil {
		q.LiveServices = []LiveService{}
	}
	return json.Marshal(q)
}

// Alternative is an /etc/alternatives link.
type Alternative struct {
	Name   string `json:"name"`
	Target string `json:"target"`
}

// ExistingUser is a stack service account found on the host.
type ExistingUser struct {
	Name    string `json:"name"`
	HomeDir string `json:"homeDir"`
	Status  string `json:"status"` // always "Available"
}

// StackFolder is a leftover stack directory or file found on the host.
type StackFolder struct {
	Name string `json:"name"`
	Type string `json:"type"` // "sym_link", "directory", "file", "unknown" or "not_exist"
}

// AgentEnv is the host check result sent at registration (with the expensive
// checks) and in every host status report (without them).
type AgentEnv struct {
	HostHealth HostHealth `json:"hostHealth"`
	// Umask is the process umask in decimal (022 -> "18").
	Umask               string `json:"umask"`
	TransparentHugePage string `json:"transparentHugePage"`
	FirewallRunning     bool   `json:"firewallRunning"`
	FirewallName        string `json:"firewallName"`
	ReverseLookup       bool   `json:"reverseLookup"`
	// HasUnlimitedJcePolicy is null until the server has sent java.home.
	HasUnlimitedJcePolicy *bool          `json:"hasUnlimitedJcePolicy"`
	Alternatives          []Alternative  `json:"alternatives"`
	ExistingUsers         []ExistingUser `json:"existingUsers"`
	StackFoldersAndFiles  []StackFolder  `json:"stackFoldersAndFiles"`
}

// MarshalJSON keeps empty lists as [] rather than null: the server expects
// arrays in every report.
func (e AgentEnv) MarshalJSON() ([]byte, error) {
	type plain AgentEnv
	q := plain(e)
	if q.Alternatives == nil {
		q.Alternatives = []Alternative{}
	}
	if q.ExistingUsers == nil {
		q.ExistingUsers = []ExistingUser{}
	}
	if q.StackFoldersAndFiles == nil {
		q.StackFoldersAndFiles = []StackFolder{}
	}
	return json.Marshal(q)
}

// HostStatus is the body of /reports/host_status.
type HostStatus struct {
	AgentEnv AgentEnv `json:"agentEnv"`
	Mounts   []Mount  `json:"mounts"`
}

// MarshalJSON keeps an empty mount list as [] rather than null.
func (s HostStatus) MarshalJSON() ([]byte, error) {
	type plain HostStatus
	q := plain(s)
	if q.Mounts == nil {
		q.Mounts = []Mount{}
	}
	return json.Marshal(q)
}
