// Package train holds the training machinery: the AdamW optimizer with
// fp32 state, gradient clipping by global norm, learning-rate schedules,
// and (with the recipe) the training loop, checkpoints and metrics.
//
// Every trainable tensor is a Param: a float32 value (the master weight)
// and its float32 gradient. Frozen weights never appear here, so they get
// neither gradients nor optimizer state.
package train
