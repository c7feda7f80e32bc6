// Package config reads ambari-agent.ini the way the Python agent's
// configparser.RawConfigParser does, and turns every key the agent uses into
// a typed field with its default.
//
// It replaces AmbariConfig.py (both of its views: the "startup" view filled
// from the file alone and the "resolved" view with built-in defaults). The Go
// agent keeps a single view: defaults of this package, overlaid by the file.
// Where the two Python views disagree on a default, the choice made here is
// noted on the field.
//
// The file is never rewritten by the agent, because stack scripts read it
// too (ambari_agent.AmbariConfig, ambari_commons.get_ambari_version); the one
// exception is SetServerHostname, used by `ambari-agent reset`, which edits
// a single line in place.
//
// --home: the Python agent honours --home only in some places (see the
// docs/behaviour.md §1.3). Here it is applied consistently: the config file
// is looked up under the home, and every directory the agent writes (logs,
// pid, data, cache, keys, credential stores, its working and tmp dirs) is
// placed under the home unless it already lies inside it (so both a stock
// ini copied into a home and an ini whose paths were rewritten to point into
// the home work). Paths naming software or files the operator installed on
// the host (ca_cert_path, system_resource_overrides, credential_lib_dir,
// the Python lib dirs, hostname scripts) are shared and stay as written.
package config
