// Package cache holds the five cluster data sets the Ambari server pushes to
// every agent: topology, metadata, configurations, host-level params and
// alert definitions. It replaces the Python agent's ClusterCache family
// (ClusterCache.py, ClusterTopologyCache.py, ClusterMetadataCache.py,
// ClusterConfigurationCache.py, ClusterHostLevelParamsCache.py,
// ClusterAlertDefinitionsCache.py) and the part of the listeners/ event
// handlers that merge events into those caches.
//
// What it owns:
//
//   - the merge rules of every event type (CREATE / UPDATE / DELETE, full
//     replacement, "{}" means unchanged, the configs timestamp);
//   - the hash each cache reports back to the server at registration;
//   - persistence under <cache_dir>/cluster_cache with the Python agent's
//     file names, so an upgraded host keeps its caches;
//   - immutable snapshots with typed views for the hot readers (status loop,
//     orchestrator, alerts, recovery) and change notification.
//
// Concurrency model: each cache has one writer at a time (Apply holds a
// mutex) and any number of readers. Readers call Snapshot() and get an
// immutable value published through an atomic pointer; they never lock.
// Everything reachable from a snapshot (raw maps, slices, typed views) is
// shared with other readers and with later snapshots (structural sharing),
// so callers must never mutate it. pyvalue.DeepCopy gives a private,
// mutable copy (for example to build a command's JSON).
//
// Where this package deliberately differs from the Python agent (each spot
// has a comment saying so):
//
//   - a failing event leaves the cache exactly as it was (Python may leave a
//     half-applied cache behind);
//   - files are written atomically (temp file, fsync, rename, fsync dir) and
//     the hash file is always written;
//   - clusterHostInfo is computed per cluster, not once for the whole cache;
//   - a topology DELETE removing several hosts or components removes all of
//     them (Python keeps only the last removal);
//   - a metadata DELETE of a cluster the agent does not know is a no-op
//     (Python raises);
//   - an alert-definitions UPDATE/DELETE cluster object without
//     "alertDefinitions" changes no definitions (Python raises).
package cache
