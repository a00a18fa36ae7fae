package compute

import "hone/tensor"

// Freezer is the optional capability of an engine that can keep weights
// that will not change in a layout of its own between calls (the CPU
// engine keeps them packed as its GEMM's panels, so that every product
// does not pack them again). Training calls Freeze on the frozen base
// weights of LoRA and Thaw when it is done; a weight must not be written
// between the two.
type Freezer interface {
	// Freeze promises that ts will not change until Thaw.
	Freeze(ts ...*tensor.Tensor)
	// Thaw withdraws the promise and drops what the engine kept for ts.
	Thaw(ts ...*tensor.Tensor)
}
