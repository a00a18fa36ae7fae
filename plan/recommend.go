package plan

import (
	"errors"
	"fmt"
	"time"
)

// Request is what the user asks the planner.
type Request struct {
	// Profile is the implementation and hardware.
	Profile Profile
	// Memory is the budget in bytes (GPU memory on cuda, RAM on cpu).
	Memory int64
	// Seq is the sequence length; Batch the sequences per optimizer step
	// (micro-batch × accumulation).
	Seq, Batch int
	// EpochTokens is the number of training tokens in one epoch.
	EpochTokens int64
	// Rank, Targets and Dropout configure LoRA and QLoRA.
	Rank    int
	Targets []string
	Dropout float64
	// Headroom is the fraction of Memory kept free for what the estimate
	// does not see (allocator fragmentation, other processes): a setup fits
	// when its peak is at most Memory·(1-Headroom).
	Headroom float64
}

// usable is the memory a setup may take.
func (r Request) usable() int64 { return int64(float64(r.Memory) * (1 - r.Headroom)) }

// Validate checks the request's numbers.
func (r Request) Validate() error {
	if r.Seq < 1 || r.Batch < 1 {
		return fmt.Errorf("seq %d, batch %d: want positive values", r.Seq, r.Batch)
	}
	if r.Memory < 0 || r.EpochTokens < 0 {
		return errors.New("memory and tokens must not be negative")
	}
	if r.Headroom < 0 || r.Headroom >= 1 {
		return fmt.Errorf("headroom %v: want 0 <= headroom < 1", r.Headroom)
	}
	if r.Profile.FLOPS <= 0 {
		return errors.New("profile FLOPS must be positive")
	}
	s := Setup{Technique: LoRA, Seq: r.Seq, MicroBatch: 1, Accum: 1, Rank: r.Rank, Targets: r.Targets, Dropout: r.Dropout}
	return s.Validate()
}

// Plan is the planner's answer.
type Plan struct {
	Shape   Shape
	Request Request
	// Options has one Estimate per technique (full, lora, qlora): the
	// fastest settings that fit, or the least memory when nothing fits.
	Options []Estimate
	// Choice is the recommended technique, or "" when none fits.
	Choice Technique
	// Reasons explain the choice, one sentence each.
	Reasons []string
	// KVCache is the key/value cache of generating Seq tokens at batch 1
	// (evaluation and serving), in the profile's activation dtype.
	KVCache int64
}

// Option returns the estimate for technique t.
func (p *Plan) Option(t Technique) Estimate {
	for _, e := range p.Options {
		if e.Setup.Technique == t {
			return e
		}
	}
	return Estimate{}
}

// LargeDataTokens is the epoch size from which full fine-tuning is
// preferred when it fits: with this much data the extra capacity pays for
// its cost, below it adapters match it and forget less.
const LargeDataTokens = 50_000_000

// Recommend estimates every technique for sh, picks for each the fastest
// settings that fit (the micro-batch as large as fits, gradient accumulation
// making up the batch, checkpointing only when nothing fits without it),
// and recommends one: full fine-tuning when it fits and the data is large,
// else LoRA when it fits, else QLoRA.
func Recommend(sh Shape, r Request) (*Plan, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	p := &Plan{Shape: sh, Request: r, KVCache: KVCacheBytes(sh, r.Seq, r.Profile.Act)}
	for _, t := range Techniques {
		p.Options = append(p.Options, bestSetup(sh, r, t))
	}
	full, lora, qlora := p.Option(Full), p.Option(LoRA), p.Option(QLoRA)
	budget := byteString(r.Memory)
	why := func(e Estimate) string {
		s := fmt.Sprintf("micro-batch %d", e.Setup.MicroBatch)
		if e.Setup.Accum > 1 {
			s += fmt.Sprintf(" × %d accumulation steps", e.Setup.Accum)
		}
		if e.Setup.Checkpointing {
			s += " with gradient checkpointing (a third more compute, activations cut to one layer's)"
		}
		return s
	}
	switch {
	case full.Fits && r.EpochTokens >= LargeDataTokens:
		p.Choice = Full
		p.Reasons = append(p.Reasons,
			fmt.Sprintf("full fine-tuning fits: %s peak of %s, with %s", byteString(full.Memory.Peak()), budget, why(full)),
			fmt.Sprintf("with %d M tokens an epoch the data can use every weight's capacity; adapters would train %.2f%% of them", r.EpochTokens/1e6, 100*float64(lora.Trainable)/float64(sh.Params)))
	case lora.Fits:
		p.Choice = LoRA
		p.Reasons = append(p.Reasons,
			fmt.Sprintf("LoRA fits: %s peak of %s, with %s", byteString(lora.Memory.Peak()), budget, why(lora)),
			fmt.Sprintf("it trains %.2f%% of the weights (%d M), keeps the base intact (less forgetting) and saves a small adapter", 100*float64(lora.Trainable)/float64(sh.Params), lora.Trainable/1e6))
		if full.Fits {
			p.Reasons = append(p.Reasons, fmt.Sprintf("full fine-tuning also fits (%s); prefer it for large datasets (%d M tokens or more) or a large shift of domain", byteString(full.Memory.Peak()), LargeDataTokens/1_000_000))
		} else {
			p.Reasons = append(p.Reasons, fmt.Sprintf("full fine-tuning needs %s even at micro-batch 1 with checkpointing: weights, gradients and Adam's moments cost %.0f bytes a parameter", byteString(full.Memory.Peak()), r.Profile.Full.Total()))
		}
	case qlora.Fits:
		p.Choice = QLoRA
		p.Reasons = append(p.Reasons,
			fmt.Sprintf("QLoRA fits: %s peak of %s, with %s", byteString(qlora.Memory.Peak()), budget, why(qlora)),
			fmt.Sprintf("LoRA needs %s: its frozen weights alone take %s; NF4 stores them in %s", byteString(lora.Memory.Peak()), byteString(lora.Memory.Weights), byteString(qlora.Memory.Weights)),
			"QLoRA matches LoRA's quality in published comparisons (Dettmers et al., 2023) for the price of dequantising the weights in every pass")
	default:
		p.Reasons = append(p.Reasons,
			fmt.Sprintf("nothing fits in %s: QLoRA at micro-batch 1 with checkpointing needs %s", budget, byteString(qlora.Memory.Peak())))
		if qlora.Memory.Activations+qlora.Memory.Logits > qlora.Memory.Peak()/3 {
			p.Reasons = append(p.Reasons, fmt.Sprintf("activations and logits take %s of it: shorten the sequences (--seq)", byteString(qlora.Memory.Activations+qlora.Memory.Logits)))
		} else {
			p.Reasons = append(p.Reasons, "the weights dominate: pick a smaller base model (hone models lists some) or a machine with more memory")
		}
	}
	return p, nil
}

// bestSetup searches micro-batch sizes (halving from Batch) without, then
// with, gradient checkpointing, and returns the first that fits: the
// largest micro-batch without recomputation. When none fits it returns the
// least memory, micro-batch 1 with checkpointing.
func bestSetup(sh Shape, r Request, t Technique) Estimate {
	var mbs []int
	for mb := r.Batch; mb >= 1; mb = (mb + 1) / 2 {
		mbs = append(mbs, mb)
		if mb == 1 {
			break
		}
	}
	var last Estimate
	for _, ckpt := range []bool{false, true} {
		for _, mb := range mbs {
			s := Setup{Technique: t, Seq: r.Seq, MicroBatch: mb, Accum: (r.Batch + mb - 1) / mb, Checkpointing: ckpt,
				Rank: r.Rank, Targets: r.Targets, Dropout: r.Dropout}
			if t == Full {
				s.Rank, s.Targets, s.Dropout = 0, nil, 0
			}
			last = Evaluate(sh, r.Profile, s, r.EpochTokens, r.usable())
			if last.Fits {
				return last
			}
		}
	}
	return last
}

// byteString prints a byte count in GiB or MiB.
func byteString(n int64) string {
	if n >= 1<<30 {
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	}
	return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
}

// ByteString prints a byte count the way plan's reports do (GiB or MiB).
func ByteString(n int64) string { return byteString(n) }

// DurationString prints an epoch time rounded to what matters.
func DurationString(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%.1f days", d.Hours()/24)
	case d >= time.Hour:
		return d.Round(time.Minute).String()
	default:
		return d.Round(time.Second).String()
	}
}
