package train

import (
	"fmt"
	"math/rand/v2"

	"hone/compute"
	"hone/model"
)

// Sequence is one tokenized training row: ids and aligned labels
// (IgnoreIndex where nothing is trained), and for packed rows the position
// and segment ids (nil otherwise).
type Sequence struct {
	IDs, Labels []int32
	Pos, Seg    []int32
}

// Batcher cuts a dataset into micro-batches in a seeded, per-epoch shuffled
// order. Rows of a batch are right-padded to its longest row with PadID and
// ignored labels, which causal attention never lets a real token see.
type Batcher struct {
	Seqs      []Sequence
	BatchSize int
	PadID     int32
	Seed      uint64
	// Shuffle draws a new order every epoch; off, rows keep file order.
	Shuffle bool
}

// BatchesPerEpoch is the number of micro-batches in one pass (the last
// one may be smaller).
func (b *Batcher) BatchesPerEpoch() int { return (len(b.Seqs) + b.BatchSize - 1) / b.BatchSize }

// order returns the row order of an epoch: the same for the same seed and
// epoch, on every machine.
func (b *Batcher) order(epoch int) []int {
	idx := make([]int, len(b.Seqs))
	for i := range idx {
		idx[i] = i
	}
	if b.Shuffle {
		rng := rand.New(rand.NewPCG(b.Seed, uint64(epoch)+0x5851f42d4c957f2d))
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
	}
	return idx
}

// Batch returns micro-batch k of epoch.
func (b *Batcher) Batch(epoch, k int) *model.Batch {
	order := b.order(epoch)
	lo := k * b.BatchSize
	hi := min(lo+b.BatchSize, len(order))
	if lo >= hi {
		panic(fmt.Sprintf("train.Batcher: batch %d of an epoch of %d", k, b.BatchesPerEpoch()))
	}
	rows := make([]Sequence, 0, hi-lo)
	for _, i := range order[lo:hi] {
		rows = append(rows, b.Seqs[i])
	}
	return Collate(rows, b.PadID)
}

// Collate stacks rows into one batch, right-padding to the longest.
func Collate(rows []Sequence, pad int32) *model.Batch {
	T := 0
	packed := false
	for _, r := range rows {
		T = max(T, len(r.IDs))
		packed = packed || r.Seg != nil || r.Pos != nil
	}
	mb := &model.Batch{B: len(rows), T: T}
	mb.IDs = make([]int32, len(rows)*T)
	mb.Labels = make([]int32, len(rows)*T)
	if packed {
		mb.Pos = make([]int32, len(rows)*T)
		mb.Seg = make([]int32, len(rows)*T)
	}
	for i, r := range rows {
		off := i * T
		copy(mb.IDs[off:], r.IDs)
		copy(mb.Labels[off:], r.Labels)
		for t := len(r.IDs); t < T; t++ {
			mb.IDs[off+t] = pad
			mb.Labels[off+t] = compute.IgnoreIndex
		}
		if packed {
			for t := 0; t < T; t++ {
				switch {
				case t >= len(r.IDs):
					mb.Pos[off+t] = int32(t)
					mb.Seg[off+t] = -1
				case r.Pos != nil:
					mb.Pos[off+t], mb.Seg[off+t] = r.Pos[t], r.Seg[t]
				default:
					mb.Pos[off+t], mb.Seg[off+t] = int32(t), 0
				}
			}
		}
	}
	return mb
}
