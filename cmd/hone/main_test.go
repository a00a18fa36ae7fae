package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"hone/internal/shared"
)

var honeBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hone-cmd-test")
	if err != nil {
		panic(err)
	}
	honeBin = filepath.Join(dir, "hone")
	build := exec.Command("go", "build", "-o", honeBin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		panic("building hone: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// hone runs the binary and returns stdout, stderr and the exit code.
func hone(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(honeBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Stdin = strings.NewReader(stdin)
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// allCommands returns every command of the tree under c (c included),
// cobra's completion commands too, leaving out help and hidden commands.
func allCommands(c *cobra.Command) []*cobra.Command {
	rootCmd.InitDefaultCompletionCmd()
	out := []*cobra.Command{c}
	for _, sub := range c.Commands() {
		if sub.Hidden || sub.Name() == "help" {
			continue
		}
		out = append(out, allCommands(sub)...)
	}
	return out
}

// TestHelpListsCommands: hone --help, and the help of each command with
// subcommands, lists every command of the tree.
func TestHelpListsCommands(t *testing.T) {
	n := 0
	for _, c := range allCommands(rootCmd) {
		if !c.HasAvailableSubCommands() {
			continue
		}
		args := append(strings.Fields(strings.TrimPrefix(c.CommandPath(), "hone")), "--help")
		out, _, code := hone(t, "", args...)
		if code != 0 {
			t.Fatalf("%s --help exited %d", c.CommandPath(), code)
		}
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" {
				continue
			}
			n++
			if !regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(sub.Name()) + ` `).MatchString(out) {
				t.Errorf("%s --help does not list %q:\n%s", c.CommandPath(), sub.Name(), out)
			}
		}
	}
	if n < 30 {
		t.Errorf("the help listed %d commands in all; the tree has more", n)
	}
}

// TestReadmeReference: README.md's command reference has a section for
// every command that takes flags, headed by the command in backquotes, and
// the section names each of the command's flags and its default, so that
// the reference cannot silently go stale.
func TestReadmeReference(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	// sections[cmd] is the text under every heading that names `hone cmd`
	sections := map[string]string{}
	lines := strings.Split(readme, "\n")
	heading := regexp.MustCompile("`(hone[^`]*)`")
	for i, l := range lines {
		if !strings.HasPrefix(l, "#") {
			continue
		}
		end := i + 1
		for end < len(lines) && !strings.HasPrefix(lines[end], "#") {
			end++
		}
		body := strings.ReplaceAll(strings.Join(lines[i+1:end], "\n"), `\|`, "|")
		for _, m := range heading.FindAllStringSubmatch(l, -1) {
			sections[m[1]] += body
		}
	}
	for _, c := range allCommands(rootCmd) {
		if c == rootCmd {
			continue
		}
		path := c.CommandPath()
		if !strings.Contains(readme, "`"+path) {
			t.Errorf("README.md does not mention %s", path)
		}
		if !hasOwnFlags(c) {
			continue
		}
		sec, ok := sections[path]
		if !ok {
			t.Errorf("README.md has no section headed `%s` for its flags", path)
			continue
		}
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Name == "help" || f.Hidden {
				return
			}
			if !strings.Contains(sec, "--"+f.Name+" ") && !strings.Contains(sec, "--"+f.Name+"`") {
				t.Errorf("README.md's section on %s lacks --%s", path, f.Name)
				return
			}
			def := strings.TrimSuffix(strings.TrimPrefix(f.DefValue, "["), "]")
			if def == "" || def == "0" || def == "false" {
				return
			}
			row := ""
			for _, l := range strings.Split(sec, "\n") {
				if strings.Contains(l, "--"+f.Name+" ") || strings.Contains(l, "--"+f.Name+"`") {
					row = l
				}
			}
			if !strings.Contains(row, "`"+def+"`") {
				t.Errorf("README.md's section on %s gives --%s without its default %s: %s", path, f.Name, def, row)
			}
		})
	}
}

// hasOwnFlags reports whether c defines flags besides help.
func hasOwnFlags(c *cobra.Command) bool {
	own := false
	c.LocalFlags().VisitAll(func(f *pflag.Flag) { own = own || f.Name != "help" })
	return own
}

// copyDir copies a model folder so that a test can damage the copy.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644)
	}
	return dst
}

// TestBadModelInput: each kind of broken model folder gives a one-line
// error naming the path, and a non-zero exit.
func TestBadModelInput(t *testing.T) {
	golden := shared.Path(t, "golden", "llama")
	tests := []struct {
		name   string
		damage func(dir string) string
		want   []string
	}{
		{"missing folder", func(dir string) string { return filepath.Join(dir, "nope") }, []string{"nope", "no such model folder"}},
		{"unknown model_type", func(dir string) string {
			p := filepath.Join(dir, "config.json")
			data, _ := os.ReadFile(p)
			os.WriteFile(p, bytes.Replace(data, []byte(`"model_type": "llama"`), []byte(`"model_type": "gpt_neox"`), 1), 0o644)
			return dir
		}, []string{"config.json", `model_type "gpt_neox" is not supported`}},
		{"truncated safetensors", func(dir string) string {
			p := filepath.Join(dir, "model.safetensors")
			data, _ := os.ReadFile(p)
			os.WriteFile(p, data[:len(data)/2], 0o644)
			return dir
		}, []string{"model.safetensors"}},
		{"mismatched shapes", func(dir string) string {
			p := filepath.Join(dir, "config.json")
			data, _ := os.ReadFile(p)
			os.WriteFile(p, bytes.Replace(data, []byte(`"intermediate_size": 176`), []byte(`"intermediate_size": 170`), 1), 0o644)
			return dir
		}, []string{"mlp.gate_proj.weight has shape [176 64], config wants [170 64]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.damage(copyDir(t, golden))
			_, stderr, code := hone(t, "", "generate", "--model", dir, "--prompt", "hi", "--max-tokens", "2")
			if code == 0 {
				t.Fatal("hone generate succeeded on a broken model")
			}
			if lines := strings.Count(strings.TrimSpace(stderr), "\n"); lines != 0 {
				t.Errorf("error is %d lines, want one:\n%s", lines+1, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("error %q does not contain %q", strings.TrimSpace(stderr), w)
				}
			}
			if !strings.Contains(stderr, dir) && tt.name != "missing folder" {
				t.Errorf("error %q does not name the folder %s", strings.TrimSpace(stderr), dir)
			}
		})
	}
}

// TestStories260K converts the llama2.c model and checks that greedy
// generation prints exactly what llama2.c's run.c prints.
func TestStories260K(t *testing.T) {
	src := shared.Path(t, "models", "stories260K")
	want, err := os.ReadFile(filepath.Join(src, "golden-greedy-t0-n200.txt"))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "stories260K")
	if _, stderr, code := hone(t, "", "convert", "llama2c", "--checkpoint", filepath.Join(src, "stories260K.bin"),
		"--tokenizer", filepath.Join(src, "tok512.bin"), "--out", out); code != 0 {
		t.Fatalf("convert exited %d: %s", code, stderr)
	}
	for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("converted folder lacks %s", f)
		}
	}
	const prompt = "Once upon a time"
	// llama2.c runs 200 positions from BOS: the prompt's tokens (without BOS)
	// are forced, the rest sampled.
	ids, stderr, code := hone(t, prompt, "tokenize", "--tokenizer", out)
	if code != 0 {
		t.Fatalf("tokenize exited %d: %s", code, stderr)
	}
	n := 200 - len(strings.Fields(strings.Trim(strings.TrimSpace(ids), "[]")))
	got, stderr, code := hone(t, "", "generate", "--model", out, "--prompt", prompt, "--temperature", "0", "--max-tokens", itoa(n))
	if code != 0 {
		t.Fatalf("generate exited %d: %s", code, stderr)
	}
	if got != string(want) {
		t.Fatalf("hone generate printed\n%q\nllama2.c printed\n%q", got, want)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
