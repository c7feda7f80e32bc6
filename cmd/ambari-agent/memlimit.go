package main

import (
	"os"
	"runtime/debug"
)

// defaultMemoryLimit is the agent's soft Go memory limit unless GOMEMLIMIT
// sets one. Idle, the agent holds about 15 MB. Under a flood of large pushes
// its live heap peaks at a few hundred MiB at most (the inbound queues'
// 64 MiB plus the caches being rebuilt), and the garbage collector would let
// the heap grow to twice that before collecting; near this limit it
// collects sooner instead. It is soft: nothing fails when the live heap is
// larger, and the runtime caps the collector's share of the CPU. Twenty
// 15 MiB configuration pushes peak at about 280 MB of RSS with it and at
// 550 to 620 MB without (BenchmarkConfigPushFlood).
const defaultMemoryLimit = 256 << 20

func limitMemory() {
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		return
	}
	debug.SetMemoryLimit(defaultMemoryLimit)
}
