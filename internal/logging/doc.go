// Package logging sets up the agent's logrus loggers: the main log
// <logdir>/ambari-agent.log and the alerts log <logdir>/ambari-alerts.log,
// each rotated at 10 MB with 25 numbered backups (.1 … .25) like the Python
// agent's RotatingFileHandler, in the Python agent's line layout or as JSON.
//
// Every component logs through its own entry with a "component" field.
// Nothing in this package knows what is logged; keeping secrets out of the
// log is the callers' rule (configurations, command JSON and the encryption
// key are never logged).
package logging
