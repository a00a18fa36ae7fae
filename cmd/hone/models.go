package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"hone/plan"
)

func init() {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "models",
		Short: "List the architectures hone supports, with well-known Hub models of each",
		Long: `List the model architectures hone loads, trains and exports (config.json's
model_type), with well-known Hugging Face Hub repositories of each. Any of them
can be given to --model or pulled with hone pull; gated ones need HF_TOKEN and
the license accepted on the Hub.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(plan.Families)
			}
			for i, f := range plan.Families {
				if i > 0 {
					fmt.Fprintln(w)
				}
				fmt.Fprintf(w, "%s (%s): %s\n", f.ModelType, f.Architecture, f.Notes)
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				for _, m := range f.Models {
					gated := ""
					if m.Gated {
						gated = "gated: needs HF_TOKEN"
					}
					fmt.Fprintf(tw, "  %s\t%s\t%s\n", m.ID, m.Params, gated)
				}
				tw.Flush()
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the list as JSON")
	rootCmd.AddCommand(cmd)
}
