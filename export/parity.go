package export

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strings"
	"time"

	"hone/chat"
	"hone/compute"
	"hone/gguf"
	"hone/model"
)

// ErrParity is wrapped by the error Parity returns when the two models
// disagree.
var ErrParity = errors.New("parity check failed")

// DefaultPrompts are the fixed texts the parity check tokenizes and runs
// through both models: prose, code, digits, whitespace runs, and text
// outside ASCII (byte fallback and multi-byte characters).
var DefaultPrompts = []string{
	"Once upon a time, there was a little girl named Lily.",
	"The quick brown fox jumps over the lazy dog. 1234567890",
	"func main() {\n\tfmt.Println(\"hi\")\n}\n",
	"  leading spaces,   runs of spaces\tand\ttabs\n\nnew paragraphs",
	"Ünïcödé — naïve café, 日本語, emoji 😀!",
}

// parityConversation is the conversation whose rendering must agree.
var parityConversation = []chat.Message{
	{Role: "system", Content: "You are a helpful assistant."},
	{Role: "user", Content: "Tell me a story about a cat."},
	{Role: "assistant", Content: "Once upon a time, a cat sat on a mat."},
	{Role: "user", Content: "And then?"},
}

// Tolerance returns the largest logit difference, relative to the
// reference's logit range (max - min over the prompts), that an export
// whose matrices are of type t may show against the model it came from.
//
//   - F32: 1e-5. The same weights and the same engine: differences come
//     only from a different summation order, if any (measured: 0).
//   - F16, BF16: 1e-2. Rounding each weight to 11 (F16) or 8 (BF16)
//     significant bits perturbs a dot product by about 2^-9 of its size
//     per term, growing with depth (measured 1e-3 to 5e-3).
//   - Q8_0: 3e-2. 8-bit blocks of 32 with an F16 scale err by up to
//     1/254 of the block maximum per weight (measured 4e-3 to 1.1e-2,
//     the most on stories260K, whose 64-wide layers average little).
//   - Q4_0, Q4_K: 0.25. 4-bit blocks err by up to 1/16 of the block's
//     range; logits move by 4 to 10% of their range on the random test
//     models and by 15% on stories260K, which greedy decoding still
//     follows at 5 of 6 positions. At this tolerance the check catches a
//     broken export (a missing Q/K permutation moves logits by 60% of
//     their range), not a subtle one: two swapped rows of one matrix
//     (7%) pass, which the F32 tolerance catches.
func Tolerance(t gguf.TensorType) float64 {
	switch t {
	case gguf.F32:
		return 1e-5
	case gguf.F16, gguf.BF16:
		return 1e-2
	case gguf.Q8_0:
		return 3e-2
	}
	return 0.25
}

// ParityOptions control a parity check.
type ParityOptions struct {
	// Prompts are the texts to compare on; nil means DefaultPrompts.
	Prompts []string
	// Tol is the largest logit difference allowed, relative to the
	// reference's logit range; 0 means Tolerance(F32).
	Tol float64
	// MaxTokens caps the tokens of each prompt (default 64).
	MaxTokens int
}

// ParityReport is what a parity check measured.
type ParityReport struct {
	// Sequences is the number of token sequences both models ran.
	Sequences int
	// Positions is the number of logit rows compared.
	Positions int
	// MaxAbsDiff is the largest |logit difference| over every row.
	MaxAbsDiff float64
	// LogitRange is the reference's max logit minus min logit.
	LogitRange float64
	// RelDiff is MaxAbsDiff / LogitRange; Tol is the bound it was held to.
	RelDiff, Tol float64
	// ArgmaxAgree counts the rows whose most likely next token agrees.
	ArgmaxAgree int
	// Tokenizer and Template say what was compared ("same", "absent in
	// both", or the first difference).
	Tokenizer, Template string
	// Problems lists every disagreement; empty when the check passed.
	Problems []string
}

// String summarises the report on one line.
func (r *ParityReport) String() string {
	s := fmt.Sprintf("logits: max |Δ| %.3g over %d positions of %d sequences (%.3g of the logit range %.3g, tolerance %.3g); greedy agrees at %d/%d; tokenizer: %s; template: %s",
		r.MaxAbsDiff, r.Positions, r.Sequences, r.RelDiff, r.LogitRange, r.Tol, r.ArgmaxAgree, r.Positions, r.Tokenizer, r.Template)
	if len(r.Problems) > 0 {
		s += "; PROBLEMS: " + strings.Join(r.Problems, "; ")
	}
	return s
}

// Parity checks that got (an export read back) behaves as ref (the model
// it was made from): the same vocabulary size and end-of-generation
// token, the same tokenization and decoding of every prompt, the same
// rendering of a fixed conversation by the chat template, and logits on
// every prompt (and on the rendered conversation) within opt.Tol of the
// reference's logit range. Every disagreement is listed in the report; the
// error, which wraps ErrParity, lists them too.
func Parity(e compute.Engine, ref, got *Bundle, opt ParityOptions) (*ParityReport, error) {
	if opt.Prompts == nil {
		opt.Prompts = DefaultPrompts
	}
	if opt.Tol == 0 {
		opt.Tol = Tolerance(gguf.F32)
	}
	if opt.MaxTokens <= 0 {
		opt.MaxTokens = 64
	}
	r := &ParityReport{Tol: opt.Tol}
	fail := func(format string, args ...any) { r.Problems = append(r.Problems, fmt.Sprintf(format, args...)) }
	rc, gc := ref.Model.Config, got.Model.Config
	if rc.Vocab != gc.Vocab || rc.Hidden != gc.Hidden || rc.Layers != gc.Layers {
		fail("shapes differ: vocab %d vs %d, hidden %d vs %d, layers %d vs %d", rc.Vocab, gc.Vocab, rc.Hidden, gc.Hidden, rc.Layers, gc.Layers)
		return r, r.err(ref, got)
	}
	if len(ref.EOS) > 0 && (ref.Tokenizer != nil || got.Tokenizer != nil) {
		shared := false
		for _, id := range ref.EOS {
			shared = shared || slices.Contains(got.EOS, id)
		}
		if !shared {
			fail("end-of-generation ids %v, the reference has %v", got.EOS, ref.EOS)
		}
	}

	// tokenization
	var seqs [][]int32
	switch {
	case ref.Tokenizer == nil && got.Tokenizer == nil:
		r.Tokenizer = "absent in both"
	case ref.Tokenizer == nil || got.Tokenizer == nil:
		r.Tokenizer = "present in one only"
		fail("tokenizer present in one model only")
	default:
		r.Tokenizer = "same"
		for i, p := range opt.Prompts {
			a, b := ref.Tokenizer.Encode(p, true), got.Tokenizer.Encode(p, true)
			if !slices.Equal(a, b) {
				r.Tokenizer = "differs"
				fail("prompt %d %q tokenizes as %v, the reference as %v", i, abbrev(p), abbrevIDs(b), abbrevIDs(a))
			}
			if da, db := ref.Tokenizer.Decode(a, false), got.Tokenizer.Decode(a, false); da != db {
				r.Tokenizer = "differs"
				fail("prompt %d decodes as %q, the reference as %q", i, abbrev(db), abbrev(da))
			}
			seqs = append(seqs, a)
		}
	}

	// chat template
	switch {
	case ref.Template == nil && got.Template == nil:
		r.Template = "absent in both"
	case ref.Template == nil || got.Template == nil:
		r.Template = "present in one only"
		fail("chat template present in one model only")
	default:
		r.Template = "same"
		now := func() time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC) }
		for _, agp := range []bool{false, true} {
			msgs := parityConversation
			if !agp {
				msgs = msgs[:3]
			}
			a, errA := ref.Template.RenderText(msgs, chat.Options{AddGenerationPrompt: agp, Now: now})
			b, errB := got.Template.RenderText(msgs, chat.Options{AddGenerationPrompt: agp, Now: now})
			switch {
			case errA != nil || errB != nil:
				if (errA == nil) != (errB == nil) {
					r.Template = "differs"
					fail("template rendering: reference error %v, export error %v", errA, errB)
				}
			case a != b:
				r.Template = "differs"
				fail("template renders %q, the reference %q", abbrev(b), abbrev(a))
			case ref.Tokenizer != nil && agp:
				seqs = append(seqs, ref.Tokenizer.Encode(a, false))
			}
		}
	}
	if seqs == nil {
		seqs = syntheticSequences(rc.Vocab, len(opt.Prompts), opt.MaxTokens)
	}

	// logits
	for i, ids := range seqs {
		if len(ids) > opt.MaxTokens {
			ids = ids[:opt.MaxTokens]
		}
		if n := min(rc.MaxPositions, gc.MaxPositions); len(ids) > n {
			ids = ids[:n]
		}
		if len(ids) == 0 {
			continue
		}
		la, err := ref.Model.Logits(e, &model.Batch{B: 1, T: len(ids), IDs: ids})
		if err != nil {
			return r, fmt.Errorf("%s: %w", ref.Name, err)
		}
		lb, err := got.Model.Logits(e, &model.Batch{B: 1, T: len(ids), IDs: ids})
		if err != nil {
			return r, fmt.Errorf("%s: %w", got.Name, err)
		}
		av, bv := la.ToF32().F32(), lb.ToF32().F32()
		if err := finite(bv); err != nil {
			fail("sequence %d: export logits: %v", i, err)
			continue
		}
		r.Sequences++
		v := rc.Vocab
		for row := 0; row < len(ids); row++ {
			ra, rb := av[row*v:(row+1)*v], bv[row*v:(row+1)*v]
			lo, hi := ra[0], ra[0]
			for j := range ra {
				lo, hi = min(lo, ra[j]), max(hi, ra[j])
				r.MaxAbsDiff = max(r.MaxAbsDiff, math.Abs(float64(ra[j]-rb[j])))
			}
			r.LogitRange = max(r.LogitRange, float64(hi-lo))
			if argmax(ra) == argmax(rb) {
				r.ArgmaxAgree++
			}
			r.Positions++
		}
	}
	if r.LogitRange > 0 {
		r.RelDiff = r.MaxAbsDiff / r.LogitRange
	}
	if r.RelDiff > opt.Tol || (r.LogitRange == 0 && r.MaxAbsDiff > 0) {
		fail("logits differ by %.3g, %.3g of the logit range %.3g (tolerance %.3g)", r.MaxAbsDiff, r.RelDiff, r.LogitRange, opt.Tol)
	}
	return r, r.err(ref, got)
}

func (r *ParityReport) err(ref, got *Bundle) error {
	if len(r.Problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s against %s: %s", ErrParity, got.Name, ref.Name, strings.Join(r.Problems, "; "))
}

// syntheticSequences returns fixed pseudo-random token sequences for
// models without a tokenizer.
func syntheticSequences(vocab, n, length int) [][]int32 {
	out := make([][]int32, n)
	for i := range out {
		h := fnv.New64a()
		fmt.Fprintf(h, "parity-%d", i)
		x := h.Sum64()
		for range min(length, 24) {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			out[i] = append(out[i], int32(x%uint64(vocab)))
		}
	}
	return out
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

func abbrev(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

func abbrevIDs(ids []int32) string {
	if len(ids) > 16 {
		return fmt.Sprintf("%v...", ids[:16])
	}
	return fmt.Sprint(ids)
}
