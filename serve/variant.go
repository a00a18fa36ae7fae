package serve

import "hone/model"

// ShareBase returns a model over the same weight tensors as base but with
// its own linear-layer structs, so that an adapter loaded into it (with
// lora.Load) leaves base and every other variant untouched: several
// adapters are served over one copy of the base weights.
func ShareBase(base *model.Model) *model.Model {
	w := *base.W
	w.Layers = append([]model.Layer(nil), base.W.Layers...)
	return model.New(base.Config, &w)
}
