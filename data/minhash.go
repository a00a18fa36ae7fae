package data

import "strings"

// MinHash parameters: numHashes values per signature, cut into lshBands
// bands of lshRows for locality-sensitive lookup. Two examples with word
// 3-shingle Jaccard similarity s share at least one band with probability
// 1-(1-s^5)^20: 0.975 at s = 0.7, 0.9996 at s = 0.8, 0.47 at s = 0.5;
// candidates are then kept only when the signatures estimate s (standard
// error about 0.045 at 0.7) at or above the threshold.
//
// Memory is what bounds a streaming check, so the index keeps per example
// only the low 8 bits of each value (b-bit minwise hashing: a chance match,
// 1 in 256, is corrected for in similarity) and one 32-bit key per band in
// a single map: about 100 + 20*16 bytes.
const (
	numHashes = 100
	lshBands  = 20
	lshRows   = numHashes / lshBands
	shingleN  = 3
	// minShingles is the fewest shingles for which similarity is judged:
	// shorter examples are left to the exact duplicate check.
	minShingles = 4
)

var (
	// mhA and mhB are the multiply-shift hash functions' coefficients,
	// fixed so that signatures are reproducible across runs.
	mhA, mhB [numHashes]uint64
)

func init() {
	x := uint64(0x9e3779b97f4a7c15)
	next := func() uint64 { // splitmix64
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		return z ^ (z >> 31)
	}
	for i := range mhA {
		mhA[i] = next() | 1
		mhB[i] = next()
	}
}

// fnv64 hashes a string with FNV-1a; it is stable across runs (for
// splits that must not change between runs).
func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// signature computes the MinHash signature of the word 3-shingles of a
// normalised text into sig, and reports whether the text has enough
// shingles to be compared.
func signature(norm string, sig *[numHashes]uint32) bool {
	words := strings.Fields(norm)
	for i := range sig {
		sig[i] = ^uint32(0)
	}
	n := len(words) - shingleN + 1
	if n < minShingles {
		return false
	}
	xs := make([]uint64, n)
	var buf []byte
	for i := range xs {
		buf = buf[:0]
		for _, w := range words[i : i+shingleN] {
			buf = append(buf, w...)
			buf = append(buf, ' ')
		}
		xs[i] = fnv64(string(buf))
	}
	// One hash function at a time keeps its minimum in a register.
	for k := range sig {
		a, b := mhA[k], mhB[k]
		m := ^uint32(0)
		for _, x := range xs {
			if v := uint32((a*x + b) >> 32); v < m {
				m = v
			}
		}
		sig[k] = m
	}
	return true
}

// bandKey hashes band b of a signature, the band's number included, into
// one 32-bit key (a chance collision only adds a candidate that similarity
// then rejects).
func bandKey(sig *[numHashes]uint32, b int) uint32 {
	h := uint64(b+1) * 0x9e3779b97f4a7c15
	for _, v := range sig[b*lshRows : (b+1)*lshRows] {
		h ^= uint64(v)
		h *= 0x100000001b3
		h ^= h >> 29
	}
	return uint32(h ^ h>>32)
}

// short appends the low 8 bits of each signature value to dst: what the
// index stores to compare candidates.
func short(sig *[numHashes]uint32, dst []uint8) []uint8 {
	for _, v := range sig {
		dst = append(dst, uint8(v))
	}
	return dst
}

// similarity estimates the Jaccard similarity of two 8-bit signatures:
// values match with probability s + (1-s)/256, which is inverted.
func similarity(a, b []uint8) float64 {
	same := 0
	for i := range a {
		if a[i] == b[i] {
			same++
		}
	}
	const c = 1.0 / 256
	return max(0, (float64(same)/float64(len(a))-c)/(1-c))
}
