// Package orchestrator runs one command or status check as a process: it
// builds the command's full JSON from the cluster caches and the command
// header, writes command-<taskId>.json, picks the hook and stack scripts,
// starts each with the exact argv, environment and files the stack scripts
// expect, enforces the per-script timeout by killing the whole process tree,
// and turns the output files into a result.
//
// It replaces the Python agent's CustomServiceOrchestrator.py,
// PythonExecutor.py, CommandHooksOrchestrator.py, ConfigurationBuilder.py,
// the background handle (BackgroundCommandExecutionHandle.py) and the
// process-tree kill of ambari_commons/shell.py. The queue, retries and
// reports around it belong to the action queue; the status loop calls
// Status.
//
// Two kinds of stop are kept apart: Cancel kills a command's process tree;
// the agent shutting down (the ctx given to Run and Status ending) only
// stops waiting and leaves scripts and the daemons they started running.
//
// Where this package deliberately differs from the Python agent, a comment
// at the spot says so. In short: paths from the server that would lead out
// of cache_dir are refused; a cancel also stops a command still being
// prepared or between two scripts; zombies count as dead during a tree kill
// and children of all threads are found; the whole CBC stream of encrypted
// credentials is decrypted; output files are read from the end only as far
// as needed; invalid UTF-8 in output does not fail a command; the retention
// policy of a background command applies when it ends; the command file's
// keys are sorted; inherited descriptors are marked close-on-exec once (Go
// has no close_fds).
//
// Wiring: Caches = NewCacheSource(store, hostname); FileCache = a
// filecache.Cache; the action queue uses Run, Cancel, TaskFiles and
// LogCommandOutput, and hears through Request.OnPrepared when a command's
// scripts are about to run; the status loop uses RunStatus. Which
// component has a command in flight is the status loop's record, fed by
// the action queue: the orchestrator only runs scripts.
package orchestrator
