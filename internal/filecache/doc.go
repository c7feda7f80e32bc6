// Package filecache keeps the agent's copy of the server's resources tree
// (service packages, stack hooks, custom actions, host scripts) up to date
// under [agent] cache_dir.
//
// It replaces the Python agent's FileCache.py: before a directory is used it
// is "provided": the server's <jdk_location>/<dir>/.hash is compared with the
// local <cache_dir>/<dir>/.hash and, when they differ, <dir>/archive.zip is
// downloaded and unpacked in place of the old copy. Each directory is checked
// at most once per registration (Reset is called on every registration).
//
// Where this package deliberately differs from the Python agent:
//   - archives are streamed to a temporary file with a size bound instead of
//     being held in memory;
//   - a new archive is unpacked into a staging directory that replaces the old
//     copy only once it is complete, so a failed unpack keeps the old copy
//     (the Python agent leaves a half-filled directory behind);
//   - zip entries that would escape the target directory (absolute names,
//     "..", symbolic links) make the whole archive fail with an error instead
//     of being silently rewritten;
//   - directory names that would escape cache_dir are refused (ErrUnsafePath).
package filecache
