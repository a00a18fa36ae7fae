// Package bench measures hone's speed at the shapes of real models: LoRA
// training steps (tokens/s, GFLOP/s, activation and peak memory) and
// generation (prefill and decode tokens/s against the memory-bandwidth limit
// of streaming the weights, measured side by side), on random weights when
// no checkpoint is given. `hone bench` is its command line, and the
// package's go test benchmarks run the same code at the SmolLM2-135M shape.
//
// Figures on a shared or throttled machine move from run to run; the
// package reports medians of timed steps and tokens, pairs each decode
// token with a read of the weights so that both see the same machine, and
// leaves comparisons with other programs to whole-process timings of both
// run in turn (see docs/PERFORMANCE.md).
package bench
