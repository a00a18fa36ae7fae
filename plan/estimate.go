package plan

import (
	"fmt"
	"time"
)

// Technique is how the weights are trained.
type Technique string

// The techniques.
const (
	Full  Technique = "full"
	LoRA  Technique = "lora"
	QLoRA Technique = "qlora"
)

// Techniques lists the techniques, most memory first.
var Techniques = []Technique{Full, LoRA, QLoRA}

// Setup is one way to run a training job.
type Setup struct {
	Technique Technique
	// Seq is the sequence length and MicroBatch the sequences per forward
	// pass; Accum micro-batches make one optimizer step.
	Seq, MicroBatch, Accum int
	// Checkpointing recomputes each layer's activations in backward.
	Checkpointing bool
	// Rank, Targets and Dropout configure LoRA and QLoRA.
	Rank    int
	Targets []string
	Dropout float64
}

// Memory is a peak-memory estimate broken down by what holds it, in bytes.
type Memory struct {
	// Weights is the model as held for compute (NF4 and the unquantised
	// rest for QLoRA).
	Weights int64
	// Master is full training's float32 copy of the weights, when separate.
	Master int64
	// Gradients and Optimizer are the trainable parameters' gradients and
	// Adam moments (the adapter's, for LoRA and QLoRA).
	Gradients, Optimizer int64
	// Adapter is the LoRA parameters' values.
	Adapter int64
	// Activations is what the forward keeps for backward, plus backward's
	// scratch and LoRA's per-module buffers.
	Activations int64
	// Logits is the logits, their float32 copy and their gradient.
	Logits int64
	// Overhead is the runtime's fixed cost.
	Overhead int64
}

// Peak is the sum of the parts: every part is alive at the start of the
// backward pass.
func (m Memory) Peak() int64 {
	return m.Weights + m.Master + m.Gradients + m.Optimizer + m.Adapter + m.Activations + m.Logits + m.Overhead
}

// Estimate is the planner's prediction for one Setup.
type Estimate struct {
	Setup  Setup
	Memory Memory
	// Trainable counts the parameters the optimizer updates.
	Trainable int64
	// FLOPsPerToken is the work of one training token.
	FLOPsPerToken float64
	// EpochTime is the predicted time for EpochTokens tokens.
	EpochTime time.Duration
	// Fits says Memory.Peak is within the budget asked.
	Fits bool
}

// Validate checks a Setup's numbers.
func (s Setup) Validate() error {
	switch s.Technique {
	case Full, LoRA, QLoRA:
	default:
		return fmt.Errorf("technique %q: want full, lora or qlora", s.Technique)
	}
	if s.Seq < 1 || s.MicroBatch < 1 || s.Accum < 1 {
		return fmt.Errorf("seq %d, micro-batch %d, accumulation %d: want positive values", s.Seq, s.MicroBatch, s.Accum)
	}
	if s.Technique != Full {
		if s.Rank < 1 {
			return fmt.Errorf("lora rank %d: want >= 1", s.Rank)
		}
		if _, err := expandTargets(s.Targets); err != nil {
			return err
		}
		if s.Dropout < 0 || s.Dropout >= 1 {
			return fmt.Errorf("lora dropout %v: want 0 <= dropout < 1", s.Dropout)
		}
	}
	return nil
}

// EstimateMemory predicts the peak memory of a training step of setup on a
// model of shape sh run as profile p describes.
func EstimateMemory(sh Shape, p Profile, s Setup) Memory {
	var m Memory
	n := float64(sh.Params)
	small := float64(sh.Params - sh.LinearParams() - sh.HeadParams())
	if !sh.Tied {
		small -= float64(sh.HeadParams()) // embedding and head both counted in Params
	}
	embed := float64(sh.Params-sh.LinearParams()) - small // embedding (+ head when untied)
	switch s.Technique {
	case Full:
		m.Weights = int64(n * p.Full.Weights)
		m.Master = int64(n * p.Full.Master)
		m.Gradients = int64(n * p.Full.Grad)
		m.Optimizer = int64(n * p.Full.Optim)
	case LoRA, QLoRA:
		if s.Technique == LoRA {
			m.Weights = int64((float64(sh.LinearParams())+embed)*p.Frozen + small*p.Small)
		} else {
			m.Weights = int64(float64(sh.LinearParams())*p.NF4 + embed*p.QLoRAOther + small*p.Small)
		}
		a := float64(sh.LoRAParams(s.Rank, s.Targets))
		m.Adapter = int64(a * 4)
		m.Gradients = int64(a * 4)
		m.Optimizer = int64(a * (p.Adapter - 8))
	}
	m.Activations = activationBytes(sh, p, s)
	m.Logits = logitBytes(sh, p, s)
	m.Overhead = p.Overhead
	return m
}

// activationBytes counts what one micro-batch's forward keeps for backward.
func activationBytes(sh Shape, p Profile, s Setup) int64 {
	tokens := float64(s.Seq * s.MicroBatch)
	h, f := float64(sh.Hidden), float64(sh.Intermediate)
	q, kv := float64(sh.q()), float64(sh.kv())
	heads := float64(sh.Heads)
	L := float64(sh.Layers)
	adapter := s.Technique != Full
	targets, _ := expandTargets(s.Targets)

	var layer, input, shared float64 // bytes per token
	switch p.Layout {
	case TorchLayout:
		a := p.Act
		// two RMSNorms: float32 input and normalised value, bf16 output
		layer = 2 * (4*h + 4*h + a*h)
		// RoPE keeps q and k; SDPA keeps q, k and v widened to the query
		// heads, its output and a float32 logsumexp; o_proj's input is a
		// contiguous copy of the output
		layer += a*(q+kv) + a*(4*q) + 4*heads + a*q
		// SiLU keeps gate, the product keeps silu(gate) and up, down_proj
		// its input
		layer += a * 4 * f
		if adapter {
			for _, t := range targets {
				in, _ := sh.moduleDims(t)
				if s.Dropout > 0 {
					layer += float64(in) * (1 + a) // bool mask, dropped input
				}
				layer += float64(s.Rank) * a // lora_A output, lora_B's input
			}
		}
		input = a * h // checkpointing keeps each layer's input
		shared = 0
	case HoneLayout:
		a := p.Act
		// layerActs: X, H1, X2, H2, Q, K, V, Att, G, U, two rstd, Lse
		el := 4*h + 2*q + 2*kv + 2*f + 2 + heads
		if sh.QKNorm {
			el += q + kv + heads + float64(sh.KVHeads)
		}
		layer = a * el
		// Backward scratch: out, dX, dH, dQ, dK, dV, dAtt, A, dA, dU (+
		// dQRaw, dKRaw), XF, HF, RstdF
		sc := 5*h + 2*q + 2*kv + 3*f + 1
		if sh.QKNorm {
			sc += q + kv
		}
		shared = a * sc
		input = a * h
		if adapter {
			// lora.Adapter keeps per layer and module t and dt [n, r], and
			// with dropout the dropped input, its gradient and the mask
			var per float64
			for _, t := range targets {
				in, _ := sh.moduleDims(t)
				per += 2 * float64(s.Rank) * a
				if s.Dropout > 0 {
					per += float64(in) * (2*a + 1)
				}
			}
			shared += per * L // per layer, even when checkpointing
		}
	}
	per := layer * L
	if s.Checkpointing {
		per = input*L + layer
	}
	return int64(tokens * (per + shared))
}

// logitBytes counts the loss's buffers.
func logitBytes(sh Shape, p Profile, s Setup) int64 {
	tokens := float64(s.Seq * s.MicroBatch)
	v := float64(sh.Vocab)
	switch p.Layout {
	case HoneLayout:
		// Loss projects chunks of rows bounded by 64 MiB of float32 logits;
		// the chunk's hidden rows and their gradient come with it.
		chunk := max(1, min(tokens, float64((64<<20)/(4*sh.Vocab))))
		return int64(chunk * (v + 2*float64(sh.Hidden)) * p.Act)
	default:
		// bf16 logits, their float32 copy for the loss, the float32 gradient
		return int64(tokens * v * (p.Act + 4 + 4))
	}
}

// FLOPsPerToken is the work of training on one token: 2 FLOPs per weight and
// token for each product, attention's two score products (causal, so half
// the positions on average), three times the forward pass for full
// training (forward, input gradients, weight gradients), twice for adapters
// (the frozen weights need no gradient) plus the adapters' own 6 FLOPs per
// parameter, and one more forward with checkpointing.
func FLOPsPerToken(sh Shape, s Setup) float64 {
	fwd := 2*float64(sh.LinearParams()+sh.HeadParams()) + 2*float64(sh.Layers)*float64(s.Seq)*float64(sh.q())
	passes := 3.0
	extra := 0.0
	if s.Technique != Full {
		passes = 2
		extra = 6 * float64(sh.LoRAParams(s.Rank, s.Targets))
	}
	if s.Checkpointing {
		passes++
	}
	return passes*fwd + extra
}

// Evaluate estimates setup's memory and the time of one epoch of
// epochTokens tokens, and whether it fits in budget bytes.
func Evaluate(sh Shape, p Profile, s Setup, epochTokens, budget int64) Estimate {
	e := Estimate{Setup: s, Memory: EstimateMemory(sh, p, s)}
	if s.Technique == Full {
		e.Trainable = sh.Params
	} else {
		e.Trainable = sh.LoRAParams(s.Rank, s.Targets)
	}
	e.FLOPsPerToken = FLOPsPerToken(sh, s)
	sec := float64(epochTokens) * e.FLOPsPerToken / p.FLOPS
	if s.Technique == QLoRA && p.Dequant > 0 {
		// every projection is dequantised in forward, backward and the
		// recomputed forward, once per micro-batch
		passes := 2.0
		if s.Checkpointing {
			passes = 3
		}
		steps := float64(epochTokens) / float64(s.Seq*s.MicroBatch)
		sec += steps * passes * float64(sh.LinearParams()) / p.Dequant
	}
	e.EpochTime = time.Duration(sec * float64(time.Second))
	e.Fits = budget <= 0 || e.Memory.Peak() <= budget
	return e
}

// KVCacheBytes is the key/value cache of generation: per layer, keys and
// values of tokens positions, elemBytes each.
func KVCacheBytes(sh Shape, tokens int, elemBytes float64) int64 {
	return int64(2 * float64(sh.Layers) * float64(sh.kv()) * float64(tokens) * elemBytes)
}
