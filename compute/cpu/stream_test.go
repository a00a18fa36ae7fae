package cpu

import (
	"math"
	"testing"
)

// TestStreamRead: the sum of squares of every word read, for lengths that
// are not multiples of a chunk, a vector or a word.
func TestStreamRead(t *testing.T) {
	e := New(2)
	defer e.Close()
	for _, words := range []int{0, 1, 15, 17, streamChunk + 3, 3*streamChunk - 1} {
		v := make([]float32, words)
		var want float64
		for i := range v {
			v[i] = float32(i%7) - 3
			want += float64(v[i]) * float64(v[i])
		}
		data := make([]byte, 4*words+3) // a partial word at the end is not read
		for i, x := range v {
			b := math.Float32bits(x)
			data[4*i], data[4*i+1], data[4*i+2], data[4*i+3] = byte(b), byte(b>>8), byte(b>>16), byte(b>>24)
		}
		if got := e.StreamRead(data); got != want {
			t.Errorf("StreamRead(%d words) = %g, want %g", words, got, want)
		}
		if got := e.StreamRead(data, nil, data[:3], data); got != 2*want {
			t.Errorf("StreamRead(%d words twice) = %g, want %g", words, got, 2*want)
		}
	}
}
