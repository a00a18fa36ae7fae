package lora_test

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"hone/compute/cpu"
	"hone/lora"
	"hone/model"
	"hone/tensor"
	"hone/train"
)

// llama32_1B is the Llama-3.2-1B architecture.
func llama32_1B() *model.Config {
	return &model.Config{
		ModelType: "llama", Hidden: 2048, Intermediate: 8192, Layers: 16, Heads: 32, KVHeads: 8, HeadDim: 64,
		Vocab: 128256, MaxPositions: 131072, RMSEps: 1e-5, TieEmbeddings: true, BOS: 128000, EOS: []int{128001}, Pad: -1,
		Rope: model.Rope{Theta: 500000, Type: "llama3", Factor: 32, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositions: 8192},
	}
}

// writeRandom1B writes a Llama-3.2-1B-shaped bf16 checkpoint with random
// weights into dir (a real model folder, loaded the way runs load one).
func writeRandom1B(dir string) error {
	c := llama32_1B()
	c.DType = "bfloat16"
	c.Raw = c.HFConfig()
	rng := rand.New(rand.NewPCG(1, 2))
	w := &model.Weights{}
	for _, p := range w.Params(c) {
		t := tensor.New(tensor.BF16, p.Shape...)
		v := t.BF16()
		if len(p.Shape) == 1 {
			for i := range v {
				v[i] = tensor.F32ToBF16(1)
			}
		} else {
			for i := range v {
				v[i] = tensor.F32ToBF16(float32(rng.NormFloat64() * 0.02))
			}
		}
		*p.Ptr = t
	}
	w.LMHead = w.Embed
	return model.Save(dir, c, w, tensor.BF16)
}

// qloraChild runs a few LoRA training steps at the Llama-3.2-1B shape (seq
// 256, batch 1, r 16 on all seven projections, gradient checkpointing) over
// the checkpoint in dir, loaded in bf16 (technique "lora") or with the
// projections quantised to NF4 at load time (technique "qlora"), and prints
// tokens/s and the process's peak resident memory over the steps.
func qloraChild(technique, dir string) error {
	debug.SetGCPercent(50) // as hone train sets it
	load := model.Load
	if technique == "qlora" {
		load = func(dir string, prec model.Precision) (*model.Model, func() error, error) {
			return model.LoadQuantized(dir, prec, "nf4")
		}
	}
	m, closeModel, err := load(dir, model.BF16)
	if err != nil {
		return err
	}
	defer closeModel()
	c := m.Config
	rng := rand.New(rand.NewPCG(3, 4))
	// measure the training steps, not the loading: free its garbage and
	// reset the peak-RSS mark (Linux: clear_refs 5)
	runtime.GC()
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return fmt.Errorf("resetting the peak RSS mark: %w", err)
	}

	heap := func(what string) {
		if os.Getenv("HONE_QLORA_HEAPPROF") != "" {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			fmt.Printf("HEAP %s: %d MiB live, %d MiB in use, RSS %d MiB\n", what, ms.HeapAlloc>>20, ms.HeapInuse>>20, peakRSS()>>20)
		}
	}
	heap("loaded")
	set, err := lora.New(m, lora.Config{R: 16, Alpha: 32, Targets: []string{"all-linear"}}, 1)
	if err != nil {
		return err
	}
	var ps []train.Param
	for _, p := range set.Params() {
		ps = append(ps, train.Param{Name: p.Name, Value: p.Value, Grad: p.Grad})
	}
	opt := train.NewAdamW(ps, 0.9, 0.999, 1e-8, 0)
	e := cpu.New(0)
	const T = 256
	ids := make([]int32, T)
	for i := range ids {
		ids[i] = int32(rng.IntN(c.Vocab))
	}
	b := &model.Batch{B: 1, T: T, IDs: ids, Labels: ids}
	heap("adapters")
	a := m.NewActivations(1, T, true)
	heap("activations")
	var best time.Duration
	for step := 0; step < 3; step++ {
		t0 := time.Now()
		train.ZeroGrads(ps)
		m.Forward(e, b, a, true)
		m.Loss(e, b, a, nil, 1.0/T, true)
		m.Backward(e, b, a, nil)
		opt.Update(ps, 1e-4)
		heap(fmt.Sprint("step ", step))
		if f := os.Getenv("HONE_QLORA_HEAPPROF"); f != "" {
			pf, _ := os.Create(fmt.Sprintf("%s.%s.%d", f, technique, step))
			pprof.WriteHeapProfile(pf)
			pf.Close()
		}
		if d := time.Since(t0); step > 0 && (best == 0 || d < best) {
			best = d
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if f := os.Getenv("HONE_QLORA_HEAPPROF"); f != "" {
		runtime.GC()
		pf, _ := os.Create(f + "." + technique)
		pprof.WriteHeapProfile(pf)
		pf.Close()
	}
	fmt.Printf("MEM %s heap-sys %d MiB, heap-in-use %d MiB, heap-released %d MiB, stacks %d MiB, other runtime %d MiB, GC cycles %d\n",
		technique, ms.HeapSys>>20, ms.HeapInuse>>20, ms.HeapReleased>>20, ms.StackSys>>20, (ms.Sys-ms.HeapSys-ms.StackSys)>>20, ms.NumGC)
	fmt.Printf("RESULT %s %.2f %d\n", technique, T/best.Seconds(), peakRSS())
	return nil
}

// peakRSS reads the process's peak resident set (VmHWM) in bytes.
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// TestQLoRAChild is the child process of BenchmarkQLoRA1B; it does nothing
// unless the benchmark starts it.
func TestQLoRAChild(t *testing.T) {
	tech := os.Getenv("HONE_QLORA_CHILD")
	if tech == "" {
		t.Skip("runs only as a child of BenchmarkQLoRA1B")
	}
	if err := qloraChild(tech, os.Getenv("HONE_QLORA_DIR")); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkQLoRA1B compares a QLoRA step with a bf16 LoRA step at the
// Llama-3.2-1B shape, each in its own process so that peak memory is the
// process's own: `HONE_BENCH_1B=1 go test ./lora -run XXX -bench QLoRA1B`.
func BenchmarkQLoRA1B(b *testing.B) {
	if os.Getenv("HONE_BENCH_1B") == "" {
		b.Skip("set HONE_BENCH_1B=1 to run (two processes of ~3 GB, a few minutes)")
	}
	// HONE_BENCH_1B_DIR keeps the 2.5 GB checkpoint between runs
	dir := os.Getenv("HONE_BENCH_1B_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
		if err := writeRandom1B(dir); err != nil {
			b.Fatal(err)
		}
	}
	res := map[string][2]float64{}
	for _, tech := range []string{"lora", "qlora"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestQLoRAChild$", "-test.v")
		cmd.Env = append(os.Environ(), "HONE_QLORA_CHILD="+tech, "HONE_QLORA_DIR="+dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("%s child: %v\n%s", tech, err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, "MEM ") {
				b.Log(line)
			}
			if f := strings.Fields(line); len(f) == 4 && f[0] == "RESULT" {
				tps, _ := strconv.ParseFloat(f[2], 64)
				rss, _ := strconv.ParseFloat(f[3], 64)
				res[tech] = [2]float64{tps, rss}
			}
		}
	}
	l, q := res["lora"], res["qlora"]
	b.Logf("LoRA bf16: %.1f tokens/s, peak RSS %.2f GiB", l[0], l[1]/(1<<30))
	b.Logf("QLoRA NF4: %.1f tokens/s, peak RSS %.2f GiB", q[0], q[1]/(1<<30))
	b.Logf("QLoRA/LoRA: speed %.0f%%, peak memory %.0f%%", 100*q[0]/l[0], 100*q[1]/l[1])
	b.ReportMetric(q[0]/l[0], "speed-ratio")
	b.ReportMetric(q[1]/l[1], "memory-ratio")
}
