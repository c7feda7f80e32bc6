// Package alerts is the agent's alert framework. It replaces the Python
// agent's AlertSchedulerHandler.py (with its bundled apscheduler),
// alerts/*.py (base_alert, port_alert, web_alert, metric_alert, ams_alert,
// script_alert, recovery_alert, collector), AlertStatusReporter.py and
// StaleAlertsMonitor.py (docs/behaviour.md §9, docs/protocol.md §4.6, §6.5, §2.7).
//
// What it owns:
//
//   - the schedule: one job per enabled definition, every interval minutes,
//     first run one interval after scheduling, at most one instance per job,
//     missed runs coalesced, a run that cannot start within
//     alert_grace_period of its time skipped; timers, not polling; checks run
//     on goroutines bounded by Config.MaxWorkers (Python: a 3-20 thread
//     pool), so a slow check never holds up another;
//   - rescheduling when the alert-definitions cache changes: CREATE restarts
//     every job, UPDATE/DELETE reconcile by uuid (a definition whose content
//     changed without a new uuid is rescheduled too);
//   - the checks: PORT, WEB, METRIC (JMX), AMS, SCRIPT, RECOVERY. SERVER and
//     AGGREGATE definitions are the server's and ignored;
//   - turning a check's (state, args) into a result: the definition's
//     reporting text or the type's default, rendered with a port of Python's
//     str.format (internal/pyvalue) including the ValueError "d}"->"s}" retry and
//     the UNKNOWN "There is a problem with the alert definition" fallback;
//   - the collector (latest unsent result per cluster and alert), the
//     reporter (/reports/alerts_status every alert_reports_interval while
//     registered, changes-only selection with repeat tolerance) and the
//     stale-alert list for the heartbeat.
//
// Python is needed for SCRIPT alerts, METRIC/AMS value expressions and the
// stack library's Kerberos curl helper; that runs in the resident helper
// of package pyrunner. WEB and METRIC checks of a kerberized cluster
// (principal and keytab resolve, cluster-env/security_enabled is true) go
// through the stack library's curl_krb_request in that helper, exactly as
// in Python; when the library is not importable the check is UNKNOWN and
// its text says so.
//
// The lead wires four small interfaces (config.go): DefinitionSource (the
// alert-definitions cache), ConfigSource (the command-style configuration
// dictionary of a cluster), RecoverySource (recovery counters) and Link (the
// server connection), plus optionally a shared pyrunner.Runner.
//
// Deliberate differences from the Python agent (each has a comment where
// it is implemented):
//
//   - PORT and WEB report and compare real elapsed seconds; Python divides
//     them by 1000, so its texts read ~0.0000 and its latency thresholds
//     never fire. Consequence: texts that show timings change between runs
//     and, in changes-only mode, are sent more often.
//   - A SCRIPT run is bounded (Config.ScriptTimeout, default the
//     definition's interval) and a hung script becomes UNKNOWN; in Python it
//     blocks a scheduler thread forever.
//   - Results are keyed by cluster id, not by cluster name (which the STOMP
//     server does not send, so Python puts every cluster in one bucket).
//   - Results that were sent but not acknowledged stay for the next cycle
//     (one per alert, newer replaces older); Python drops them.
//   - A missing or non-numeric cluster-env/alerts_repeat_tolerance counts as
//     1 and is logged once; in Python the whole report cycle fails.
//   - send_alert_changes_only: Config.SendChangesOnly is the config
//     package's bool. Python parses the option with bool(str), so every
//     non-empty value, the shipped "0" included, means true; the config
//     package keeps that, and changes-only is the normal mode.
//   - A METRIC value expression that does not compile makes each run
//     UNKNOWN with the SyntaxError text; Python drops the definition at load.
//   - The stale check uses the scheduler's interval rule (missing or < 1 is
//     1 minute), forgets deleted definitions, and counts a result when it is
//     produced rather than when a report cycle drains it (Python drains only
//     while registered, so alerts that ran through a server outage are
//     reported stale right after it).
//   - HTTP checks do not keep connections alive and follow at most 10
//     Refresh-header hops (Python: unbounded).
//
// Logging goes to Config.Log (the Python agent's ambari-alerts.log).
// Texts and configuration values are never logged above debug level.
package alerts
