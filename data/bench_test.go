package data

import (
	"bufio"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeSynthetic writes n chat examples of random words (so that few are
// near duplicates) and returns the file's path and size.
func writeSynthetic(tb testing.TB, n int) (string, int64) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "synthetic.jsonl")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriter(f)
	rng := rand.New(rand.NewPCG(1, 1))
	syll := []string{"ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "po", "da", "fe", "gu", "hi", "jo", "be"}
	word := func() string {
		k := 1 + rng.IntN(3)
		var b strings.Builder
		for i := 0; i < k; i++ {
			b.WriteString(syll[rng.IntN(len(syll))])
		}
		return b.String()
	}
	sentence := func(n int) string {
		ws := make([]string, n)
		for i := range ws {
			ws[i] = word()
		}
		return strings.Join(ws, " ") + "."
	}
	enc := json.NewEncoder(w)
	for i := 0; i < n; i++ {
		enc.Encode(map[string]any{"messages": []map[string]string{
			{"role": "system", "content": "You answer briefly."},
			{"role": "user", "content": sentence(10 + rng.IntN(20))},
			{"role": "assistant", "content": sentence(15 + rng.IntN(40))},
		}})
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	f.Close()
	st, _ := os.Stat(path)
	return path, st.Size()
}

// cpuTime returns the user and system CPU time of the process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCheck measures hone data check on a 100k-example file: the
// structural checks with duplicates and near duplicates alone, and with
// rendering through Qwen3's chat template and tokenizer.
func BenchmarkCheck(b *testing.B) {
	const n = 100_000
	path, size := writeSynthetic(b, n)
	tok, tmpl, _ := sharedTokenizer(b, "qwen3")
	for _, bc := range []struct {
		name string
		opts CheckOptions
	}{
		{"structure", CheckOptions{}},
		{"render-qwen3", CheckOptions{Template: tmpl, Tokenizer: tok, MaxLen: 4096}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(size)
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				rep, err := CheckFiles([]string{path}, nil, bc.opts)
				if err != nil {
					b.Fatal(err)
				}
				if rep.Files[0].Rows != n {
					b.Fatalf("checked %d rows, want %d", rep.Files[0].Rows, n)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "examples/s")
			// CPU time per example is what a busy machine does not distort.
			b.ReportMetric((cpuTime()-cpu0).Seconds()*1e6/float64(n*b.N), "cpu-µs/example")
		})
	}
}
