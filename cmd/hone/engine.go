package main

import (
	"hone/compute"
	"hone/compute/cpu"
)

// newEngine returns the fast CPU engine with the given number of threads
// (0: one per core). Ops it has not specialised fall back to the reference
// implementation.
func newEngine(threads int) compute.Engine {
	return cpu.New(threads)
}
