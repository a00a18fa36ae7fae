package data

import (
	"math"
	"math/rand/v2"
	"slices"
)

// Split divides examples into a training and a validation set, the same
// way for the same seed on every machine. Examples that are duplicates,
// near duplicates (the Checker's MinHash test) or share a prompt form one
// group, and a group goes to one side whole, so that validation never
// scores the model on what it trained on. Groups are drawn in a seeded
// order until the validation side holds at least frac of the examples.
// Both sides keep the input order.
func Split(exs []*Example, frac float64, seed uint64) (train, val []*Example) {
	if frac <= 0 || len(exs) == 0 {
		return exs, nil
	}
	n := len(exs)
	parent := make([]int, n)
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	union := func(a, b int) {
		ra, rb := find(a), find(b)
		if ra != rb {
			parent[max(ra, rb)] = min(ra, rb)
		}
	}
	keys := make([]uint64, n)
	exact := map[uint64]int{}
	prompts := map[uint64]int{}
	bands := map[uint32]int{}
	sigs := make([]uint8, 0, n*numHashes)
	var sig [numHashes]uint32
	for i, ex := range exs {
		target := Normalize(ex.Target())
		full := target
		if !ex.IsText() {
			prompt := Normalize(ex.Prompt())
			full = prompt + " \x00 " + target
			if j, ok := prompts[fnv64(prompt)]; ok {
				union(i, j)
			} else {
				prompts[fnv64(prompt)] = i
			}
		}
		keys[i] = fnv64(full)
		if j, ok := exact[keys[i]]; ok {
			union(i, j)
		} else {
			exact[keys[i]] = i
		}
		has := signature(full, &sig)
		sigs = short(&sig, sigs)
		if !has {
			continue
		}
		mine := sigs[i*numHashes : (i+1)*numHashes]
		for b := 0; b < lshBands; b++ {
			k := bandKey(&sig, b)
			if j, ok := bands[k]; ok {
				if similarity(mine, sigs[j*numHashes:(j+1)*numHashes]) >= 0.7 {
					union(i, j)
				}
			} else {
				bands[k] = i
			}
		}
	}
	// Groups in a seeded order, by the key of their first member.
	size := map[int]int{}
	for i := range exs {
		size[find(i)]++
	}
	roots := make([]int, 0, len(size))
	for r := range size {
		roots = append(roots, r)
	}
	order := func(r int) uint64 { return mix64(keys[r] ^ mix64(seed)) }
	slices.SortFunc(roots, func(a, b int) int {
		if oa, ob := order(a), order(b); oa != ob {
			if oa < ob {
				return -1
			}
			return 1
		}
		return a - b
	})
	want := int(math.Round(frac * float64(n)))
	inVal := map[int]bool{}
	got := 0
	for _, r := range roots {
		if got >= want {
			break
		}
		if got+size[r] > n-1 { // keep at least one training example
			continue
		}
		inVal[r] = true
		got += size[r]
	}
	for i, ex := range exs {
		if inVal[find(i)] {
			val = append(val, ex)
		} else {
			train = append(train, ex)
		}
	}
	return train, val
}

// mix64 is the splitmix64 finaliser.
func mix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Shuffle puts xs in a seeded random order, in place: the same order for
// the same seed and length on every machine.
func Shuffle[T any](xs []T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x73687566666c65))
	rng.Shuffle(len(xs), func(i, j int) { xs[i], xs[j] = xs[j], xs[i] })
}

// Mix blends general-purpose items into task items so that they make up
// ratio of the result (0 <= ratio < 1): the usual guard against
// catastrophic forgetting. General items are drawn without replacement in
// a seeded order, starting a new pass when they run out. The task items
// come first, then the general ones; Shuffle the result.
func Mix[T any](task, general []T, ratio float64, seed uint64) []T {
	out := append([]T(nil), task...)
	if ratio <= 0 || ratio >= 1 || len(general) == 0 {
		return out
	}
	want := int(math.Round(float64(len(task)) * ratio / (1 - ratio)))
	idx := make([]int, len(general))
	for i := range idx {
		idx[i] = i
	}
	for pass := uint64(0); want > 0; pass++ {
		Shuffle(idx, seed^mix64(pass+0x6d6978))
		for _, i := range idx[:min(want, len(idx))] {
			out = append(out, general[i])
		}
		want -= min(want, len(idx))
	}
	return out
}
