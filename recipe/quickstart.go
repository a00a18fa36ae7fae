package recipe

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"hone/compute/cpu"
	"hone/data"
	"hone/eval"
	"hone/export"
	"hone/gguf"
	"hone/tokenizer"
)

// QuickstartOptions configure Quickstart.
type QuickstartOptions struct {
	// Examples is the repository's examples folder (quickstart.yaml,
	// tiny-base/, quickstart/).
	Examples string
	// Out receives the run folder, the merged model and the GGUF export.
	Out string
	// Overrides are --set key=value pairs for the recipe (a smaller budget
	// for tests, say).
	Overrides []string
}

// QuickstartResult is what the quickstart leaves behind.
type QuickstartResult struct {
	Run    *Result
	Check  *data.Report
	Merged string // Hugging Face folder of the merged model
	GGUF   string // GGUF export of the merged model
	Report *eval.Report
}

// Quickstart runs hone's whole workflow on its own tiny base model and
// generated data: check the data, fine-tune with LoRA (validation, early
// stopping), evaluate against the base, then merge and export to Hugging
// Face and GGUF formats, each export checked for parity with the tuned
// model. Its folders under o.Out (run, merged, gguf) are its own: running
// it again replaces them.
func Quickstart(ctx context.Context, o QuickstartOptions, ev Events) (*QuickstartResult, error) {
	path := filepath.Join(o.Examples, "quickstart.yaml")
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%s not found: run the quickstart from the repository root, or pass --examples", path)
	}
	r, err := Load(path, append([]string{"output=" + filepath.Join(o.Out, "run")}, o.Overrides...))
	if err != nil {
		return nil, err
	}
	res := &QuickstartResult{}

	ev.Stage("1/4 checking the data (hone data check)")
	dir, err := r.modelDir()
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		return nil, err
	}
	tmpl, err := template(r, tok)
	if err != nil {
		return nil, err
	}
	schema, err := data.LoadSchema(r.Path(r.Data.Schema))
	if err != nil {
		return nil, err
	}
	var trainFiles []string
	for _, f := range r.Data.Train {
		trainFiles = append(trainFiles, r.Path(f))
	}
	rep, err := data.CheckFiles(trainFiles, []string{r.Path(r.Data.Validation)}, data.CheckOptions{
		Template: tmpl, Tokenizer: tok, MaxLen: r.Data.MaxSeqLen, ExpectJSON: true, Schema: schema})
	if err != nil {
		return nil, err
	}
	res.Check = rep
	if len(rep.Problems) > 0 || rep.Unusable > 0 {
		return res, fmt.Errorf("the data check found %d problems; run hone data check %s", len(rep.Problems), trainFiles[0])
	}
	ev.Note(fmt.Sprintf("data clean: %d training examples, %.0f%% of tokens trained, %d tokens per epoch",
		rep.Train.Examples, 100*rep.Train.TrainedShare, rep.Train.TokensPerEpoch))

	ev.Stage("2/4 fine-tuning with LoRA, then evaluating against the base (hone train)")
	// the quickstart's run folder is its own: a new quickstart replaces the
	// last one's run, as it replaces its merged and gguf folders
	run, err := Run(ctx, r, RunOptions{Overwrite: true}, ev)
	if err != nil {
		return res, err
	}
	res.Run, res.Report = run, run.Report

	ev.Stage("3/4 merging the adapter and exporting (hone export)")
	e := cpu.New(r.Train.Threads)
	res.Merged = filepath.Join(o.Out, "merged")
	res.GGUF = filepath.Join(o.Out, "gguf")
	for _, x := range []struct {
		format export.Format
		out    string
	}{{export.HF, res.Merged}, {export.GGUF, res.GGUF}} {
		os.RemoveAll(x.out)
		er, err := export.Export(export.Options{Model: dir, Adapter: run.Adapter, Format: x.format, Out: x.out,
			Type: gguf.Q8_0, Merge: true, Modelfile: true, Engine: e})
		if err != nil {
			return res, err
		}
		ev.Note(fmt.Sprintf("%s export %s: parity with the tuned model, logits within %.2g of their range (tolerance %.2g)",
			x.format, x.out, er.Parity.RelDiff, er.Parity.Tol))
	}
	ev.Stage("4/4 done")
	return res, nil
}
