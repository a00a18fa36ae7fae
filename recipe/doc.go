// Package recipe describes training runs and carries them out. A Recipe is
// typed configuration (defaults in one place, YAML over them, --set
// overrides, unknown keys rejected); the run itself is a short linear
// function that composes the library packages: data, model, lora, train and
// eval.
package recipe
