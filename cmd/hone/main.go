// Command hone fine-tunes large language models end to end: decide, prepare
// and check data, train (full, LoRA, QLoRA), evaluate against the base model,
// merge, export and serve. Each subcommand lives in a file of its own and
// registers itself with the root command in an init function; this package
// only wires flags to typed configuration and calls library packages.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

var rootCmd = &cobra.Command{
	Use:   "hone",
	Short: "Fine-tune, evaluate, export and serve Llama-family language models",
	Long: `hone fine-tunes large language models end to end as one static binary:
check the data, pick a base model and a technique (full, LoRA, QLoRA), train,
evaluate against the base model, then merge, export and serve.`,
	SilenceUsage:  true,
	SilenceErrors: true,
}

// exitError carries a specific process exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// withCode wraps err so that hone exits with code.
func withCode(code int, err error) error { return &exitError{code: code, err: err} }

func main() {
	if err := rootCmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "hone:", err)
		var ee *exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(1)
	}
}
