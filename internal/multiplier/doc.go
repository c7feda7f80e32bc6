// Package multiplier runs many agents on one machine for scale tests, each
// with its own home, host name and ping port: the `ambari-agent multiplier`
// command. It replaces Ambari's agent-multiplier.py and reads the same
// agent-multiplier.conf (start, num, prefix), makes the same homes
// (<home-root>/<prefix>-<NNNN>), the same ini changes and hostname.sh, and
// the same /etc/hosts line, then starts, stops or checks every agent with
// bounded concurrency.
//
// Differences from the Python tool, each on purpose:
//   - a key the template ini lacks (the stock ini ships hostname_script
//     commented out) is added to its [agent] section instead of aborting;
//   - a home is marked as the multiplier's (.ambari-agent-multiplier), and
//     a home that exists without the mark is refused unless Force is set;
//   - stop and status create nothing; only start and restart bootstrap;
//   - start and stop run in parallel and end with a summary, and the exit
//     status says whether any host failed.
package multiplier
