package multiplier

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// DefaultConfFile is where Ambari's tool reads its configuration.
const DefaultConfFile = "/etc/ambari-agent/conf/agent-multiplier.conf"

// BasePingPort plus a host's index is its ping port, as in Ambari's tool.
const BasePingPort = 5000

// Conf is agent-multiplier.conf: hosts <Prefix>-<Start> ...
// <Prefix>-<Start+Num-1>.
type Conf struct {
	Start  int
	Num    int
	Prefix string
}

// ReadConf reads and checks an agent-multiplier.conf.
func ReadConf(path string) (Conf, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Conf{}, fmt.Errorf("agent multiplier configuration: %w", err)
	}
	c, err := ParseConf(data)
	if err != nil {
		return Conf{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseConf reads key=value lines as Ambari's tool does (the first '='
// splits, both sides trimmed, the last value of a key wins, lines without
// '=' ignored); lines starting with '#' or ';' are comments. The prefix is
// lower-cased.
func ParseConf(data []byte) (Conf, error) {
	params := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			params[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if err := sc.Err(); err != nil {
		return Conf{}, err
	}
	var c Conf
	var errs []error
	for _, f := range []struct {
		key string
		dst *int
	}{{"start", &c.Start}, {"num", &c.Num}} {
		v, ok := params[f.key]
		if !ok {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q is not an integer", f.key, v))
			continue
		}
		*f.dst = n
	}
	c.Prefix = strings.ToLower(strings.TrimSpace(params["prefix"]))
	if c.Start <= 0 {
		errs = append(errs, errors.New("start must be a positive integer"))
	}
	if c.Num <= 0 {
		errs = append(errs, errors.New("num (number of agents on this host) must be a positive integer"))
	}
	if c.Prefix == "" {
		errs = append(errs, errors.New("prefix is a required field"))
	} else if strings.ContainsAny(c.Prefix, "/ \t") || c.Prefix == "." || c.Prefix == ".." {
		errs = append(errs, fmt.Errorf("prefix %q cannot be part of a host name", c.Prefix))
	}
	if c.Start > 0 && c.Num > 0 && c.Start+c.Num-1+BasePingPort > 65535 {
		errs = append(errs, fmt.Errorf("start+num-1 = %d gives a ping port above 65535", c.Start+c.Num-1))
	}
	return c, errors.Join(errs...)
}

// Host is one simulated host: its name, ping port and home.
type Host struct {
	Name     string
	PingPort int
	Home     string
}

// Hosts lists the hosts of c with their homes under homeRoot.
func (c Conf) Hosts(homeRoot string) []Host {
	out := make([]Host, 0, c.Num)
	for i := c.Start; i < c.Start+c.Num; i++ {
		name := fmt.Sprintf("%s-%04d", c.Prefix, i)
		out = append(out, Host{Name: name, PingPort: BasePingPort + i, Home: filepath.Join(homeRoot, name)})
	}
	return out
}
