package cpu

import (
	"fmt"
	"math"
	"testing"

	"hone/compute"
	"hone/tensor"
)

// roundAll rounds x to bf16.
func roundAll(x []float32) []uint16 {
	h := make([]uint16, len(x))
	for i, f := range x {
		h[i] = tensor.F32ToBF16(f)
	}
	return h
}

// onequeryKernels returns the bf16 kernel sets with the one-query
// attention's assembly, skipping where there is none.
func onequeryKernels(t *testing.T) map[string]*bf16Kernel {
	return bf16KernelsWith(t, "the one-query attention's kernels", func(k *bf16Kernel) bool { return k.scores != nil })
}

// TestScoresBF16 checks scoresBF16 at awkward numbers of keys (the
// assembly's blocks of sixteen and the keys left over): the assembly bit
// for bit against the Go loop, which makes the instruction's sums in its
// order and the tree's, and both against float64 sums of the same bf16
// products, within float32 rounding of the sum of their magnitudes. A key
// summed into another key's register, or a chunk of q skipped, fails both.
func TestScoresBF16(t *testing.T) {
	r := newRand(31)
	for kname, kb := range onequeryKernels(t) {
		for _, hd := range []int{16, 32, 48, 64, 80, 96, 128} {
			for _, nk := range []int{1, 7, 15, 16, 17, 33, 63, 65, 577} {
				ldk := hd + 32*(nk%3) + 16
				q := roundAll(randT(r, hd).F32())
				k := roundAll(randT(r, nk*ldk).F32())
				got := make([]float32, nk+1)
				got[nk] = 42
				scoresBF16(kb, got[:nk], q, k, ldk)
				loop := make([]float32, nk)
				scoresBF16(nil, loop, q, k, ldk)
				name := fmt.Sprintf("scoresBF16 %s(hd=%d nk=%d)", kname, hd, nk)
				if got[nk] != 42 {
					t.Fatalf("%s wrote past its keys", name)
				}
				for j := range nk {
					var want, mag float64
					for d := range hd {
						x := float64(tensor.BF16ToF32(q[d])) * float64(tensor.BF16ToF32(k[j*ldk+d]))
						want += x
						mag += math.Abs(x)
					}
					if d := math.Abs(float64(got[j]) - want); d > float64(hd)*0x1p-24*mag {
						t.Fatalf("%s key %d = %g, want %g (|diff| %.3g of %.3g)", name, j, got[j], want, d, mag)
					}
					if math.Float32bits(got[j]) != math.Float32bits(loop[j]) {
						t.Fatalf("%s key %d = %g, the Go loop %g", name, j, got[j], loop[j])
					}
				}
			}
		}
	}
}

// TestAccPairsBF16 checks accPairsBF16 for one to seven heads sharing the
// value rows (the assembly takes three at a time), odd and even numbers of
// keys: the assembly bit for bit against the Go loop and both against
// float64 sums of the bf16 products; nothing outside each head's hd
// columns is written.
func TestAccPairsBF16(t *testing.T) {
	r := newRand(32)
	for kname, kb := range onequeryKernels(t) {
		for _, hd := range []int{16, 32, 48, 64, 80, 96, 128} {
			for _, nk := range []int{1, 2, 7, 16, 33, 64, 577} {
				for _, g := range []int{1, 2, 3, 4, 7} {
					ldo, ldp, ldv := hd+16, nk+3, hd+32*(nk%2)+64
					o := randT(r, g*ldo).F32()
					p := roundAll(randT(r, g*ldp).F32())
					v := roundAll(randT(r, nk*ldv).F32())
					got := append([]float32(nil), o...)
					accPairsBF16(kb, got, ldo, hd, g, p, ldp, nk, v, ldv)
					loop := append([]float32(nil), o...)
					accPairsBF16(nil, loop, ldo, hd, g, p, ldp, nk, v, ldv)
					name := fmt.Sprintf("accPairsBF16 %s(hd=%d nk=%d g=%d)", kname, hd, nk, g)
					for i := range g {
						for d := range ldo {
							at := i*ldo + d
							if d >= hd {
								if got[at] != o[at] {
									t.Fatalf("%s wrote column %d of head %d", name, d, i)
								}
								continue
							}
							want, mag := float64(o[at]), math.Abs(float64(o[at]))
							for j := range nk {
								x := float64(tensor.BF16ToF32(p[i*ldp+j])) * float64(tensor.BF16ToF32(v[j*ldv+d]))
								want += x
								mag += math.Abs(x)
							}
							if e := math.Abs(float64(got[at]) - want); e > float64(nk+1)*0x1p-24*mag {
								t.Fatalf("%s head %d [%d] = %g, want %g (|diff| %.3g of %.3g)", name, i, d, got[at], want, e, mag)
							}
							if math.Float32bits(got[at]) != math.Float32bits(loop[at]) {
								t.Fatalf("%s head %d [%d] = %g, the Go loop %g", name, i, d, got[at], loop[at])
							}
						}
					}
				}
			}
		}
	}
}

// TestAttentionFewAsOne: over a bf16 cache in bf16 products
// (onequeryBF16), two to four queries a sequence (a prompt prefilled a few
// tokens at a time, or a speculative check) get bit for bit the attention
// that one query each (decoding the same tokens one by one) gets,
// log-sum-exps included, on one thread and split over two.
func TestAttentionFewAsOne(t *testing.T) {
	onequeryKernels(t)
	r := newRand(33)
	for _, threads := range []int{1, 2} {
		e := New(threads)
		defer e.Close()
		for _, c := range [][5]int{{1, 2, 9, 3, 64}, {2, 4, 8, 2, 32}, {1, 3, 4, 4, 128}, {3, 4, 14, 2, 64}, {2, 4, 6, 2, 80}, {1, 4, 4, 2, 16}} {
			for _, n := range []int{5, 40, 129, 700} {
				batch, tq := c[0], c[1]
				s := compute.AttnShape{Batch: batch, Tq: tq, Tk: n + 2, QOffset: n - tq, Heads: c[2], KVHeads: c[3], HeadDim: c[4], Scale: 0.2}
				if !e.onequeryBF16(s) {
					t.Fatalf("%v: not in bf16 products", s)
				}
				ldq, ldk := s.Heads*s.HeadDim, s.KVHeads*s.HeadDim
				q := randT(r, batch*tq, ldq)
				k := randT(r, batch*s.Tk, ldk).To(tensor.BF16)
				v := randT(r, batch*s.Tk, ldk).To(tensor.BF16)
				got := tensor.New(tensor.F32, batch*tq, ldq)
				lse := tensor.New(tensor.F32, batch, s.Heads, tq)
				e.Attention(got, q, k, v, lse, s)
				one := s
				one.Tq = 1
				for i := range tq {
					one.QOffset = s.QOffset + i
					qi := tensor.New(tensor.F32, batch, ldq)
					for b := range batch {
						copy(qi.F32()[b*ldq:(b+1)*ldq], q.F32()[(b*tq+i)*ldq:])
					}
					oi := tensor.New(tensor.F32, batch, ldq)
					li := tensor.New(tensor.F32, batch, s.Heads, 1)
					e.Attention(oi, qi, k, v, li, one)
					name := fmt.Sprintf("threads=%d B=%d Tq=%d H=%d KV=%d hd=%d n=%d query %d", threads, batch, tq, s.Heads, s.KVHeads, s.HeadDim, n, i)
					for b := range batch {
						for d := range ldq {
							if g, w := got.F32()[(b*tq+i)*ldq+d], oi.F32()[b*ldq+d]; math.Float32bits(g) != math.Float32bits(w) {
								t.Fatalf("%s: sequence %d [%d] = %g, alone %g", name, b, d, g, w)
							}
						}
						for h := range s.Heads {
							if g, w := lse.F32()[(b*s.Heads+h)*tq+i], li.F32()[b*s.Heads+h]; math.Float32bits(g) != math.Float32bits(w) {
								t.Fatalf("%s: sequence %d head %d lse %g, alone %g", name, b, h, g, w)
							}
						}
					}
				}
			}
		}
	}
}
