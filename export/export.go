package export

import (
	"fmt"
	"os"
	"path/filepath"

	"hone/compute"
	"hone/gguf"
	"hone/internal/atomicfile"
	"hone/lora"
	"hone/model"
	"hone/tensor"
)

// Format is an export format.
type Format string

// The export formats.
const (
	// HF is a merged Hugging Face folder: config.json, model.safetensors in
	// the base's dtype, tokenizer files, generation_config.json.
	HF Format = "hf"
	// PEFT is the adapter folder alone (adapter_config.json,
	// adapter_model.safetensors).
	PEFT Format = "peft"
	// GGUF is a folder with model.gguf, adapter.gguf when the adapter is
	// kept apart, and an Ollama Modelfile.
	GGUF Format = "gguf"
)

// Options configure Export.
type Options struct {
	// Model is the base model folder; Adapter an optional PEFT folder.
	Model, Adapter string
	// Format is hf, peft or gguf.
	Format Format
	// Out is the output folder; it must not exist or be empty.
	Out string
	// DType is the safetensors dtype of an hf export: float32, bfloat16,
	// float16, or "" / "auto" for the base's.
	DType string
	// Type is the tensor type of a gguf export's matrices.
	Type gguf.TensorType
	// Merge folds the adapter into a gguf export's weights; otherwise the
	// adapter is written as adapter.gguf beside the base.
	Merge bool
	// Modelfile writes an Ollama Modelfile beside a gguf export.
	Modelfile bool
	// Name is a gguf export's general.name; empty takes the model
	// folder's base name.
	Name string
	// Parity is the parity check's options; its Tol defaults to the
	// export type's Tolerance.
	Parity ParityOptions
	// Engine runs the parity check.
	Engine compute.Engine
	// Log receives progress lines; nil discards them.
	Log func(format string, args ...any)
}

// Result is what Export wrote and measured.
type Result struct {
	// Files are the paths written, inside Out.
	Files []string
	// Parity is the parity check's report.
	Parity *ParityReport
}

// Export writes a model in opt.Format into opt.Out, then reads the export
// back and runs the parity check against the in-memory model (base plus
// adapter); a failed check is an error wrapping ErrParity and leaves
// nothing at opt.Out. The folder is built under a temporary name and
// renamed into place only when complete and checked.
func Export(opt Options) (*Result, error) {
	logf := opt.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if opt.Engine == nil {
		return nil, fmt.Errorf("export: no compute engine")
	}
	ref, closeRef, err := LoadFolder(opt.Model, model.FP32)
	if err != nil {
		return nil, err
	}
	defer closeRef()
	var set *lora.Set
	if opt.Adapter != "" {
		if set, err = lora.Load(opt.Adapter, ref.Model); err != nil {
			return nil, err
		}
		ref.Name += " + " + opt.Adapter
	}
	if opt.Format == PEFT && set == nil {
		return nil, fmt.Errorf("export --format peft needs --adapter")
	}
	res := &Result{}
	err = atomicfile.NewDir(opt.Out, func(dir string) error {
		var got *Bundle
		var closeGot func() error
		var tol float64
		switch opt.Format {
		case HF:
			name := opt.DType
			if name == "" || name == "auto" {
				name = ref.Model.Config.DType
			}
			dt, derr := ParseDType(name)
			if derr != nil {
				return derr
			}
			w := ref.Model.W
			if set != nil {
				w = set.Merge(ref.Model) // NF4 bases merge into dequantised weights (lora.Adapter.Merge)
			}
			if err := model.Save(dir, ref.Model.Config, w, dt); err != nil {
				return err
			}
			if err := atomicfile.CopyFiles(opt.Model, dir, "generation_config.json", "tokenizer.json", "tokenizer_config.json",
				"special_tokens_map.json", "chat_template.jinja", "tokenizer.model"); err != nil {
				return err
			}
			logf("wrote %s (%s)", dir, dt)
			tol = Tolerance(ggufTypeOf(dt))
			got, closeGot, err = LoadFolder(dir, model.FP32)
		case PEFT:
			if err := set.Save(dir); err != nil {
				return err
			}
			tol = Tolerance(gguf.F32)
			got, closeGot, err = Open(opt.Model, dir, model.FP32)
		case GGUF:
			tol = Tolerance(opt.Type)
			got, closeGot, err = exportGGUF(dir, ref, set, opt, logf)
		default:
			return fmt.Errorf("export: format %q: want hf, peft or gguf", opt.Format)
		}
		if err != nil {
			return fmt.Errorf("reading the export back: %w", err)
		}
		defer closeGot()
		got.Name = opt.Out
		po := opt.Parity
		if po.Tol == 0 {
			po.Tol = tol
		}
		logf("parity check: %s against %s", opt.Out, ref.Name)
		res.Parity, err = Parity(opt.Engine, ref, got, po)
		if err != nil {
			return err
		}
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			res.Files = append(res.Files, filepath.Join(opt.Out, e.Name()))
		}
		return nil
	})
	return res, err
}

// exportGGUF writes model.gguf (merged, or the base with adapter.gguf) and
// the Modelfile into dir and reads them back.
func exportGGUF(dir string, ref *Bundle, set *lora.Set, opt Options, logf func(string, ...any)) (*Bundle, func() error, error) {
	out := *ref
	m := ref.Model
	if set != nil {
		lora.Detach(m)
		defer set.Attach(m)
		if opt.Merge {
			m = model.New(m.Config, set.Merge(ref.Model))
		}
	}
	out.Model = m
	name := opt.Name
	if name == "" {
		name = filepath.Base(filepath.Clean(opt.Model))
	}
	modelPath := filepath.Join(dir, "model.gguf")
	if err := WriteGGUF(modelPath, &out, GGUFOptions{Type: opt.Type, Name: name}); err != nil {
		return nil, nil, err
	}
	logf("wrote %s (%s)", modelPath, opt.Type)
	adapterPath := ""
	if set != nil && !opt.Merge {
		adapterPath = filepath.Join(dir, "adapter.gguf")
		if err := WriteAdapterGGUF(adapterPath, set, m.Config); err != nil {
			return nil, nil, err
		}
		logf("wrote %s", adapterPath)
	}
	if opt.Modelfile {
		mo := ModelfileOptions{From: "./model.gguf", Template: ref.Template}
		if adapterPath != "" {
			mo.Adapter = "./adapter.gguf"
		}
		if ref.Tokenizer != nil {
			plain, special := ref.Tokenizer.Encode("a", false), ref.Tokenizer.Encode("a", true)
			bos, ok := ref.Tokenizer.BOS()
			mo.StripBOS = ok && len(special) > len(plain) && special[0] == bos
		}
		mf, err := Modelfile(mo)
		if err != nil {
			return nil, nil, fmt.Errorf("%w (export with --modelfile=false to skip the Modelfile)", err)
		}
		if err := atomicfile.Write(filepath.Join(dir, "Modelfile"), []byte(mf)); err != nil {
			return nil, nil, err
		}
	}
	if adapterPath != "" {
		return Open(modelPath, adapterPath, model.FP32)
	}
	return ReadGGUF(modelPath, model.FP32)
}

// ParseDType maps a torch dtype name (float32, bfloat16, float16, or
// their short forms) to a tensor dtype; "" is float32.
func ParseDType(s string) (tensor.DType, error) {
	switch s {
	case "float32", "fp32", "f32", "":
		return tensor.F32, nil
	case "bfloat16", "bf16":
		return tensor.BF16, nil
	case "float16", "fp16", "f16":
		return tensor.F16, nil
	}
	return 0, fmt.Errorf("dtype %q: want float32, bfloat16 or float16", s)
}

func ggufTypeOf(dt tensor.DType) gguf.TensorType {
	switch dt {
	case tensor.BF16:
		return gguf.BF16
	case tensor.F16:
		return gguf.F16
	}
	return gguf.F32
}
