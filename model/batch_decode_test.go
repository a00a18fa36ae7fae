package model

import (
	"math"
	"testing"

	"hone/compute"
	"hone/compute/cpu"
	"hone/compute/ref"
	"hone/tensor"
)

// TestBatchDecodeMatchesDecode: sequences of different lengths decoded one
// token at a time together give the logits of decoding each alone.
func TestBatchDecodeMatchesDecode(t *testing.T) {
	for _, qk := range []bool{false, true} {
		c := &Config{
			ModelType: "llama", Hidden: 32, Intermediate: 48, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 8,
			Vocab: 50, MaxPositions: 64, RMSEps: 1e-5, BOS: 1, EOS: []int{2}, Pad: -1, QKNorm: qk,
			Rope: Rope{Theta: 10000, Type: "default", Factor: 1},
		}
		m := New(c, Init(c, 0.3, 5))
		prompts := [][]int32{{1, 5, 9}, {1}, {1, 7, 3, 3, 8, 11}}
		steps := [][]int32{{4, 6, 7}, {12, 13, 14}, {20, 21, 22}}
		n := len(prompts)
		// alone
		want := make([][][]float32, n)
		for i, p := range prompts {
			kc := m.NewCache(16)
			lg := tensor.New(tensor.F32, 1, c.Vocab)
			if err := m.Decode(ref.Engine{}, kc, p, lg); err != nil {
				t.Fatal(err)
			}
			for _, id := range steps[i] {
				if err := m.Decode(ref.Engine{}, kc, []int32{id}, lg); err != nil {
					t.Fatal(err)
				}
				want[i] = append(want[i], append([]float32(nil), lg.F32()...))
			}
		}
		// together
		caches := make([]*Cache, n)
		lg := tensor.New(tensor.F32, 1, c.Vocab)
		for i, p := range prompts {
			caches[i] = m.NewCache(16)
			if err := m.Decode(ref.Engine{}, caches[i], p, lg); err != nil {
				t.Fatal(err)
			}
		}
		bd := m.NewBatchDecoder()
		blg := tensor.New(tensor.F32, n, c.Vocab)
		for s := 0; s < 3; s++ {
			ids := []int32{steps[0][s], steps[1][s], steps[2][s]}
			var e compute.Engine = ref.Engine{}
			if s == 2 {
				e = cpu.New(2) // the fast engine continues the same caches
			}
			if err := bd.Decode(e, caches, ids, blg); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < n; i++ {
				got := blg.F32()[i*c.Vocab : (i+1)*c.Vocab]
				var d float64
				for j := range got {
					d = math.Max(d, math.Abs(float64(got[j]-want[i][s][j])))
				}
				if d > 1e-4 {
					t.Errorf("qknorm %v step %d sequence %d: batched logits differ from alone by %g", qk, s, i, d)
				}
			}
		}
		for i, kc := range caches {
			if kc.Len != len(prompts[i])+3 {
				t.Errorf("cache %d holds %d positions, want %d", i, kc.Len, len(prompts[i])+3)
			}
		}
		// errors: shared cache, wrong logits shape, full cache
		if err := bd.Decode(ref.Engine{}, []*Cache{caches[0], caches[0]}, []int32{1, 1}, tensor.New(tensor.F32, 2, c.Vocab)); err == nil {
			t.Error("a cache shared by two sequences was accepted")
		}
		if err := bd.Decode(ref.Engine{}, caches[:1], []int32{1}, blg); err == nil {
			t.Error("logits of the wrong shape were accepted")
		}
		full := m.NewCache(1)
		full.Len = 1
		if err := bd.Decode(ref.Engine{}, []*Cache{full}, []int32{1}, tensor.New(tensor.F32, 1, c.Vocab)); err == nil {
			t.Error("a full cache was accepted")
		}
	}
}
