// Package hostinfo collects the facts the agent reports about its host: the
// registration's hardwareProfile and agentEnv, the host status report
// (agentEnv + mounts) and <prefix>/hostcheck.result, plus the host names
// (this host, its public name, the server list).
//
// It replaces the Python agent's Hardware.py, Facter.py, HostInfo.py,
// HostCheckReportFileHandler.py and hostname.py, and the OS identification of
// ambari_commons.OSCheck with its os_family.json mapping.
//
// Reading the host is split from parsing it: readers go through Config.Root
// (so tests can use a fixture tree) and hand bytes to pure parse* functions.
// Every probe that can hang (df on a dead NFS mount, DNS, service and firewall
// commands, user lookups, stat of stack folders) is bounded by a timeout and
// runs at most once at a time; a hung probe leaves its field stale or empty
// and never blocks a report.
package hostinfo
