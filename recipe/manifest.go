package recipe

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"hone/internal/atomicfile"
)

// Manifest records what a run was made from, so that it can be audited and
// repeated: hashes of every input, the resolved recipe, versions and the
// hardware.
type Manifest struct {
	Created  time.Time         `json:"created"`
	Command  []string          `json:"command"`
	Inputs   map[string]string `json:"inputs"` // path -> sha256
	Recipe   string            `json:"recipe"` // resolved YAML
	Template string            `json:"template,omitempty"`
	Hone     string            `json:"hone_version"`
	Go       string            `json:"go_version"`
	Hardware Hardware          `json:"hardware"`
	Settings map[string]any    `json:"settings,omitempty"`
}

// Hardware describes the machine a run used.
type Hardware struct {
	OS, Arch string
	CPU      string `json:"cpu"`
	Cores    int    `json:"cores"`
	MemBytes int64  `json:"memory_bytes"`
	Engine   string `json:"engine"`
}

// NewManifest starts a manifest for the current process.
func NewManifest(engine string) *Manifest {
	m := &Manifest{Created: time.Now().UTC(), Command: os.Args, Inputs: map[string]string{}, Go: runtime.Version(), Hone: "devel"}
	if bi, ok := debug.ReadBuildInfo(); ok {
		m.Hone = bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				m.Hone += " " + s.Value
			}
		}
	}
	m.Hardware = Hardware{OS: runtime.GOOS, Arch: runtime.GOARCH, Cores: runtime.NumCPU(), CPU: cpuModel(), MemBytes: memTotal(), Engine: engine}
	return m
}

// AddInput hashes a file, or every file of a folder (model folders), under
// its path.
func (m *Manifest) AddInput(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		h, err := hashFile(path)
		if err != nil {
			return err
		}
		m.Inputs[path] = h
		return nil
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		return err
	}
	var names []string
	for _, e := range ents {
		if !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, n := range names {
		h, err := hashFile(filepath.Join(path, n))
		if err != nil {
			return err
		}
		m.Inputs[filepath.Join(path, n)] = h
	}
	return nil
}

func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Write saves the manifest as JSON, atomically.
func (m *Manifest) Write(path string) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(data, '\n'))
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func memTotal() int64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "MemTotal:") {
			var kb int64
			for _, f := range strings.Fields(line)[1:2] {
				for _, c := range f {
					kb = kb*10 + int64(c-'0')
				}
			}
			return kb * 1024
		}
	}
	return 0
}
