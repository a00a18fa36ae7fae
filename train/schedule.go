package train

import (
	"fmt"
	"math"
)

// Schedule gives the learning rate of each step.
type Schedule struct {
	// Kind is "constant", "linear" (decay to 0) or "cosine" (to 0).
	Kind string
	// Peak is the learning rate after warmup.
	Peak float64
	// Warmup is the number of steps of linear warmup from 0.
	Warmup int
	// Total is the number of steps of the run.
	Total int
}

// Validate reports an impossible schedule, naming the key.
func (s Schedule) Validate() error {
	switch s.Kind {
	case "constant", "linear", "cosine":
	default:
		return fmt.Errorf("lr_scheduler: %q, want constant, linear or cosine", s.Kind)
	}
	if !(s.Peak > 0) || math.IsInf(s.Peak, 0) {
		return fmt.Errorf("learning_rate: %v, want a positive number", s.Peak)
	}
	if s.Warmup < 0 {
		return fmt.Errorf("warmup_steps: %d, want 0 or more", s.Warmup)
	}
	return nil
}

// LR returns the learning rate of step (0-based), as transformers'
// get_{constant,linear,cosine}_schedule_with_warmup compute it.
func (s Schedule) LR(step int) float64 {
	if step < s.Warmup {
		return s.Peak * float64(step) / float64(max(1, s.Warmup))
	}
	switch s.Kind {
	case "linear":
		return s.Peak * math.Max(0, float64(s.Total-step)/float64(max(1, s.Total-s.Warmup)))
	case "cosine":
		p := float64(step-s.Warmup) / float64(max(1, s.Total-s.Warmup))
		return s.Peak * math.Max(0, 0.5*(1+math.Cos(math.Pi*p)))
	}
	return s.Peak
}
