package plan

// Layout names whose activation bookkeeping a Profile follows.
type Layout int

// The activation layouts.
const (
	// TorchLayout is transformers' Llama under autocast with SDPA
	// (memory-efficient / flash) attention: RMSNorm upcasts its input to
	// float32 and keeps it, RoPE and SDPA keep their inputs, repeat_kv
	// widens k and v to the query heads, SiLU and the gating product keep
	// their inputs; PEFT's dropout keeps a mask and the dropped input per
	// target; the loss upcasts the logits to float32.
	TorchLayout Layout = iota
	// HoneLayout is hone's model.Activations: per layer the tensors
	// layerActs lists, one shared set plus each layer's input when
	// checkpointing, shared backward scratch, the loss in chunks of 64 MiB
	// of logits, and lora.Adapter's per-module buffers.
	HoneLayout
)

// Bytes per parameter of each kind of state.
type FullBytes struct {
	// Weights is the working copy used in the products (2 for bf16).
	Weights float64
	// Master is a separate float32 copy updated by the optimizer (0 when
	// the working copy is already float32).
	Master float64
	// Grad is the gradient.
	Grad float64
	// Optim is Adam's first and second moments.
	Optim float64
}

// Total is the bytes per parameter of full training.
func (b FullBytes) Total() float64 { return b.Weights + b.Master + b.Grad + b.Optim }

// Profile describes how an implementation holds a training run in memory
// and how fast it computes.
type Profile struct {
	// Name describes the profile in reports.
	Name string
	// Device is "cpu" or "cuda".
	Device string
	// Layout selects the activation bookkeeping.
	Layout Layout
	// Full is the per-parameter state of full fine-tuning.
	Full FullBytes
	// Frozen is the bytes per frozen matrix weight in LoRA (2 bf16, 4 fp32).
	Frozen float64
	// Small is the bytes per norm weight and bias.
	Small float64
	// NF4 is the bytes per quantised weight in QLoRA: 4 bits plus the
	// double-quantised scales (an 8-bit absmax per 64 weights and a float32
	// per 256 absmaxes): 0.5 + 1/64 + 4/16384.
	NF4 float64
	// QLoRAOther is the bytes per weight QLoRA leaves unquantised
	// (embedding, LM head).
	QLoRAOther float64
	// Adapter is the bytes per LoRA parameter: float32 value, gradient and
	// Adam's moments.
	Adapter float64
	// Act is the bytes of an activation element (2 bf16 autocast, 4 fp32).
	Act float64
	// Overhead is memory the run holds besides tensors: the CUDA context
	// and allocator slack, or the Go runtime, binary and tokenizer.
	Overhead int64
	// FLOPS is the sustained rate of the matrix products, FLOP/s.
	FLOPS float64
	// Dequant is QLoRA's dequantisation rate, weights per second.
	Dequant float64
}

const nf4Bytes = 0.5 + 1.0/64 + 4.0/(64*256)

// Torch is the CUDA setup the published figures describe: transformers with
// bf16 autocast and SDPA attention, AdamW with float32 state (16 bytes per
// parameter for full training, the ZeRO paper's accounting), PEFT adapters
// in float32, bitsandbytes NF4 with double quantisation, and about 0.75 GiB
// of CUDA context and allocator slack. flops is the sustained bf16 rate
// (about 1e14 for an A100 at 35% utilisation).
func Torch(flops float64) Profile {
	return Profile{
		Name: "cuda, bf16 mixed precision", Device: "cuda", Layout: TorchLayout,
		Full:   FullBytes{Weights: 2, Master: 4, Grad: 2, Optim: 8},
		Frozen: 2, Small: 4, NF4: nf4Bytes, QLoRAOther: 2, Adapter: 16, Act: 2,
		Overhead: 768 << 20, FLOPS: flops, Dequant: 2e11,
	}
}

// Hone is hone's CPU trainer: float32 activations, AdamW with float32
// moments, LoRA adapters in float32, frozen matrices in float32 or, with
// bf16 set, bfloat16 (full training keeps float32 weights either way), NF4
// projections for QLoRA, and about 96 MiB for the Go runtime, the binary
// and the tokenizer. flops is the rate the cpu engine sustains.
func Hone(bf16 bool, flops float64) Profile {
	frozen := 4.0
	name := "cpu, float32"
	if bf16 {
		frozen, name = 2, "cpu, bf16 matrices"
	}
	return Profile{
		Name: name, Device: "cpu", Layout: HoneLayout,
		Full:   FullBytes{Weights: 4, Grad: 4, Optim: 8},
		Frozen: frozen, Small: 4, NF4: nf4Bytes, QLoRAOther: frozen, Adapter: 16, Act: 4,
		Overhead: 96 << 20, FLOPS: flops, Dequant: 2e9,
	}
}
