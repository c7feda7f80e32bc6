package hostinfo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/protocol"
)

// readOverrides merges every *.json object in Config.SystemResourceOverrides
// into one map, later files (in name order) winning. Operators use it to
// report fake resources, e.g. when many agents share one machine.
//
// The Python agent reads the files in directory order and gives up on all
// remaining files at the first bad one; we sort for a repeatable result and
// skip only the bad file.
func (h *HostInfo) readOverrides() map[string]json.RawMessage {
	dir := h.cfg.SystemResourceOverrides
	if dir == "" {
		return nil
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		h.log.WithField("dir", dir).Debug("system_resource_overrides directory does not exist")
		return nil
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		h.log.WithError(err).WithField("dir", dir).Warn("Cannot list system resource overrides")
		return nil
	}
	merged := map[string]json.RawMessage{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			h.log.WithError(err).WithField("file", f).Warn("Cannot read system resource overrides")
			continue
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(data, &m); err != nil {
			h.log.WithError(err).WithField("file", f).Warn("Cannot parse system resource overrides")
			continue
		}
		for k, v := range m {
			merged[k] = v
		}
	}
	return merged
}

// applyOverrides replaces facts named in ov. The profile's fields are typed,
// so a value is converted to the field's type: numbers and numeric strings
// both work for count and memory fields, any scalar for string fields. A
// value that cannot be converted is logged and ignored.
func applyOverrides(p *protocol.HardwareProfile, ov map[string]json.RawMessage, log *logrus.Entry) {
	if len(ov) == 0 {
		return
	}
	strs := map[string]*string{
		"id": &p.ID, "kernel": &p.Kernel, "domain": &p.Domain, "fqdn": &p.FQDN, "hostname": &p.Hostname,
		"macaddress": &p.MACAddress, "architecture": &p.Architecture, "operatingsystem": &p.OperatingSystem,
		"operatingsystemrelease": &p.OperatingSystemRelease, "timezone": &p.Timezone,
		"hardwareisa": &p.HardwareISA, "hardwaremodel": &p.HardwareModel, "kernelrelease": &p.KernelRelease,
		"kernelversion": &p.KernelVersion, "osfamily": &p.OSFamily, "kernelmajversion": &p.KernelMajVersion,
		"ipaddress": &p.IPAddress, "interfaces": &p.Interfaces, "uptime_seconds": &p.UptimeSeconds,
		"uptime_hours": &p.UptimeHours, "uptime_days": &p.UptimeDays,
	}
	ints := map[string]*int{"physicalprocessorcount": &p.PhysicalProcessorCount, "processorcount": &p.ProcessorCount}
	int64s := map[string]*int64{"memorysize": &p.MemorySize, "memoryfree": &p.MemoryFree, "memorytotal": &p.MemoryTotal}

	for k, raw := range ov {
		var err error
		switch {
		case strs[k] != nil:
			err = overrideString(strs[k], raw)
		case ints[k] != nil:
			var n int64
			if n, err = overrideInt(raw); err == nil {
				*ints[k] = int(n)
			}
		case int64s[k] != nil:
			err = overrideInt64(int64s[k], raw)
		case k == "netmask":
			if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
				p.Netmask = nil
				continue
			}
			var s string
			if err = overrideString(&s, raw); err == nil {
				p.Netmask = &s
			}
		default:
			continue // mounts, selinux and unknown keys are not overridable
		}
		if err != nil {
			log.WithError(err).WithField("key", k).Warn("Ignoring system resource override")
		}
	}
}

func overrideString(dst *string, raw json.RawMessage) error {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return fmt.Errorf("parse override: %w", err)
	}
	switch t := v.(type) {
	case string:
		*dst = t
	case float64, bool:
		*dst = string(bytes.TrimSpace(raw))
	default:
		return fmt.Errorf("override %s is not a scalar", raw)
	}
	return nil
}

func overrideInt64(dst *int64, raw json.RawMessage) error {
	n, err := overrideInt(raw)
	if err == nil {
		*dst = n
	}
	return err
}

func overrideInt(raw json.RawMessage) (int64, error) {
	f, err := overrideNumber(raw)
	if err != nil {
		return 0, err
	}
	return int64(f), nil
}

// overrideNumber accepts a JSON number or a string holding one.
func overrideNumber(raw json.RawMessage) (float64, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, fmt.Errorf("parse override: %w", err)
	}
	switch t := v.(type) {
	case float64:
		return t, nil
	case string:
		f, err := strconv.ParseFloat(t, 64)
		if err != nil {
			return 0, fmt.Errorf("override %q is not a number: %w", t, err)
		}
		return f, nil
	}
	return 0, fmt.Errorf("override %s is not a number", raw)
}

// overrideKB returns the override of a swap fact in kB, else def.
func overrideKB(ov map[string]json.RawMessage, key string, def float64, log *logrus.Entry) float64 {
	raw, ok := ov[key]
	if !ok {
		return def
	}
	f, err := overrideNumber(raw)
	if err != nil {
		log.WithError(err).WithField("key", key).Warn("Ignoring system resource override")
		return def
	}
	return f
}
