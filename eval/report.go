package eval

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"hone/internal/atomicfile"
)

// Side is one model's numbers in the comparison.
type Side struct {
	// Loss is the held-out mean loss per trained token; PPL is exp(Loss).
	Loss float64 `json:"loss"`
	PPL  float64 `json:"perplexity"`
	// GeneralPPL is the perplexity on the forgetting probe's general text
	// (0 when there is no probe).
	GeneralPPL float64 `json:"general_perplexity,omitempty"`
	// Metrics are the task metrics on generations, as rates.
	Metrics map[string]float64 `json:"metrics,omitempty"`
}

// Sample is one prompt with both models' answers.
type Sample struct {
	Prompt    string `json:"prompt"`
	Reference string `json:"reference"`
	Base      string `json:"base"`
	Tuned     string `json:"tuned"`
}

// Verdict is one conclusion with its level: "ok", "warn" or "fail".
type Verdict struct {
	Level   string `json:"level"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Report is the base-versus-tuned comparison that ends every run.
type Report struct {
	Title    string    `json:"title"`
	Model    string    `json:"model"`
	Adapter  string    `json:"adapter,omitempty"`
	Data     string    `json:"data"`
	Created  time.Time `json:"created"`
	Examples int       `json:"examples"`
	// Skipped lists the held-out examples left out of the comparison, as
	// "file:line: reason" (a prompt that leaves no room in the model's
	// context, a conversation longer than the sequence length).
	Skipped []string `json:"skipped,omitempty"`
	Base    Side     `json:"base"`
	Tuned   Side     `json:"tuned"`
	// GeneralChange is the relative change of general perplexity
	// (tuned/base - 1); the forgetting probe's result.
	GeneralChange float64   `json:"general_perplexity_change"`
	Curves        *Curves   `json:"curves,omitempty"`
	Samples       []Sample  `json:"samples"`
	Verdicts      []Verdict `json:"verdicts"`
}

// Thresholds decide the verdicts.
type Thresholds struct {
	// Forgetting warns when general perplexity rises by more than this
	// fraction (default 0.25) and fails above twice it.
	Forgetting float64
	// OverfitEvals is the number of consecutive rising validation losses
	// that count as overfitting (default 3).
	OverfitEvals int
}

// DefaultThresholds are the verdict thresholds hone uses.
var DefaultThresholds = Thresholds{Forgetting: 0.25, OverfitEvals: 3}

// Judge fills r.Verdicts from the numbers.
func (r *Report) Judge(th Thresholds) {
	r.Verdicts = nil
	add := func(level, code, format string, args ...any) {
		r.Verdicts = append(r.Verdicts, Verdict{level, code, fmt.Sprintf(format, args...)})
	}
	if r.Base.Loss > 0 && r.Tuned.Loss > 0 {
		if r.Tuned.Loss < r.Base.Loss {
			add("ok", "improved", "held-out loss fell from %.3f to %.3f (perplexity %.2f → %.2f)", r.Base.Loss, r.Tuned.Loss, r.Base.PPL, r.Tuned.PPL)
		} else {
			add("fail", "no_improvement", "held-out loss did not improve (%.3f → %.3f): check the data, the template and the learning rate", r.Base.Loss, r.Tuned.Loss)
		}
	}
	for _, name := range MetricNames(r.Tuned.Metrics) {
		b, t := r.Base.Metrics[name], r.Tuned.Metrics[name]
		switch {
		case t+1e-9 < b:
			add("warn", "metric_dropped", "%s fell from %.1f%% to %.1f%%", name, 100*b, 100*t)
		case t > b:
			add("ok", "metric_improved", "%s rose from %.1f%% to %.1f%%", name, 100*b, 100*t)
		}
	}
	if r.Base.GeneralPPL > 0 && r.Tuned.GeneralPPL > 0 {
		r.GeneralChange = r.Tuned.GeneralPPL/r.Base.GeneralPPL - 1
		switch {
		case r.GeneralChange > 2*th.Forgetting:
			add("fail", "forgetting", "general perplexity %+.0f%%: catastrophic forgetting — mix in general data (data.mix) or lower the learning rate", 100*r.GeneralChange)
		case r.GeneralChange > th.Forgetting:
			add("warn", "forgetting", "general perplexity %+.0f%%: forgetting — mix in general data (data.mix) or lower the learning rate", 100*r.GeneralChange)
		default:
			add("ok", "no_forgetting", "general perplexity %+.1f%%: within %.0f%%", 100*r.GeneralChange, 100*th.Forgetting)
		}
	}
	if r.Curves != nil && th.OverfitEvals > 0 {
		rising := 0
		ev := r.Curves.Eval
		for i := 1; i < len(ev); i++ {
			if ev[i].Value > ev[i-1].Value {
				rising++
			} else {
				rising = 0
			}
			if rising >= th.OverfitEvals {
				add("warn", "overfitting", "validation loss rose for %d evaluations in a row (from step %d): overfitting — the kept checkpoint is step %d", rising, ev[i-rising].Step, r.Curves.BestStep)
				break
			}
		}
	}
}

// Failed reports whether any verdict failed.
func (r *Report) Failed() bool {
	for _, v := range r.Verdicts {
		if v.Level == "fail" {
			return true
		}
	}
	return false
}

// PPL returns exp(loss), the perplexity of a mean loss.
func PPL(loss float64) float64 { return math.Exp(loss) }

// Write writes report.json, report.md, report.html and, when there are
// curves, loss.png into dir, each atomically.
func (r *Report) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, "report.json"), append(js, '\n')); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, "report.md"), []byte(r.Markdown())); err != nil {
		return err
	}
	page, err := r.HTML()
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, "report.html"), page); err != nil {
		return err
	}
	if r.Curves != nil && len(r.Curves.Train) > 0 {
		png, err := LossPNG(*r.Curves)
		if err != nil {
			return err
		}
		if err := atomicfile.Write(filepath.Join(dir, "loss.png"), png); err != nil {
			return err
		}
	}
	return nil
}

func pct(v float64) string { return fmt.Sprintf("%.1f%%", 100*v) }

// Markdown renders the report as Markdown.
func (r *Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", r.Title)
	fmt.Fprintf(&b, "Model `%s`", r.Model)
	if r.Adapter != "" {
		fmt.Fprintf(&b, ", adapter `%s`", r.Adapter)
	}
	fmt.Fprintf(&b, "; data `%s` (%d examples); %s.\n\n", r.Data, r.Examples, r.Created.Format(time.RFC3339))
	if len(r.Skipped) > 0 {
		fmt.Fprintf(&b, "%d held-out examples were left out:\n\n", len(r.Skipped))
		for _, s := range r.Skipped {
			fmt.Fprintf(&b, "- %s\n", s)
		}
		b.WriteString("\n")
	}
	b.WriteString("## Verdicts\n\n")
	for _, v := range r.Verdicts {
		fmt.Fprintf(&b, "- **%s** %s\n", strings.ToUpper(v.Level), v.Message)
	}
	b.WriteString("\n## Base vs tuned\n\n| measure | base | tuned |\n|---|---|---|\n")
	if r.Base.Loss > 0 {
		fmt.Fprintf(&b, "| held-out loss | %.4f | %.4f |\n| held-out perplexity | %.3f | %.3f |\n", r.Base.Loss, r.Tuned.Loss, r.Base.PPL, r.Tuned.PPL)
	}
	for _, n := range MetricNames(r.Tuned.Metrics) {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", n, pct(r.Base.Metrics[n]), pct(r.Tuned.Metrics[n]))
	}
	if r.Base.GeneralPPL > 0 {
		fmt.Fprintf(&b, "| general perplexity (forgetting probe) | %.3f | %.3f (%+.1f%%) |\n", r.Base.GeneralPPL, r.Tuned.GeneralPPL, 100*r.GeneralChange)
	}
	if len(r.Samples) > 0 {
		b.WriteString("\n## Samples\n")
		for i, s := range r.Samples {
			fmt.Fprintf(&b, "\n### %d\n\n**Prompt**\n\n```\n%s\n```\n\n**Reference**\n\n```\n%s\n```\n\n**Base**\n\n```\n%s\n```\n\n**Tuned**\n\n```\n%s\n```\n", i+1, s.Prompt, s.Reference, s.Base, s.Tuned)
		}
	}
	return b.String()
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct":   pct,
	"upper": strings.ToUpper,
	"f4":    func(v float64) string { return fmt.Sprintf("%.4f", v) },
	"f3":    func(v float64) string { return fmt.Sprintf("%.3f", v) },
	"sgn":   func(v float64) string { return fmt.Sprintf("%+.1f%%", 100*v) },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>{{.R.Title}}</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .7rem;text-align:left}
.ok{color:#1a7f37}.warn{color:#9a6700}.fail{color:#cf222e}
pre{background:#f6f8fa;padding:.5rem;white-space:pre-wrap;margin:.2rem 0}
.plot svg{max-width:100%;height:auto}.samples td{vertical-align:top;width:25%}
</style></head><body>
<h1>{{.R.Title}}</h1>
<p>Model <code>{{.R.Model}}</code>{{if .R.Adapter}}, adapter <code>{{.R.Adapter}}</code>{{end}}; data <code>{{.R.Data}}</code> ({{.R.Examples}} examples).</p>
{{if .R.Skipped}}<p id="skipped">{{len .R.Skipped}} held-out examples were left out:</p><ul>{{range .R.Skipped}}<li><code>{{.}}</code></li>{{end}}</ul>{{end}}
<h2>Verdicts</h2><ul id="verdicts">{{range .R.Verdicts}}<li class="{{.Level}}"><b>{{upper .Level}}</b> {{.Message}}</li>{{end}}</ul>
<h2>Base vs tuned</h2>
<table id="comparison"><tr><th>measure</th><th>base</th><th>tuned</th></tr>
{{if .R.Base.Loss}}<tr><td>held-out loss</td><td>{{f4 .R.Base.Loss}}</td><td>{{f4 .R.Tuned.Loss}}</td></tr>
<tr><td>held-out perplexity</td><td>{{f3 .R.Base.PPL}}</td><td>{{f3 .R.Tuned.PPL}}</td></tr>{{end}}
{{range .Names}}<tr><td>{{.}}</td><td>{{pct (index $.R.Base.Metrics .)}}</td><td>{{pct (index $.R.Tuned.Metrics .)}}</td></tr>{{end}}
{{if .R.Base.GeneralPPL}}<tr><td>general perplexity (forgetting probe)</td><td>{{f3 .R.Base.GeneralPPL}}</td><td>{{f3 .R.Tuned.GeneralPPL}} ({{sgn .R.GeneralChange}})</td></tr>{{end}}
</table>
{{if .Metrics}}<div class="plot" id="metrics-plot">{{.Metrics}}</div>{{end}}
{{if .Loss}}<h2>Training</h2><div class="plot" id="loss-plot">{{.Loss}}</div>{{end}}
{{if .R.Samples}}<h2>Samples</h2><table class="samples"><tr><th>prompt</th><th>reference</th><th>base</th><th>tuned</th></tr>
{{range .R.Samples}}<tr><td><pre>{{.Prompt}}</pre></td><td><pre>{{.Reference}}</pre></td><td><pre>{{.Base}}</pre></td><td><pre>{{.Tuned}}</pre></td></tr>{{end}}</table>{{end}}
<p><small>Written by hone on {{.R.Created.Format "2006-01-02 15:04 MST"}}. This page is self-contained and loads nothing from the network.</small></p>
</body></html>
`))

// HTML renders the report as one self-contained page with its plots as
// inline SVG; it references no external resource.
func (r *Report) HTML() ([]byte, error) {
	data := struct {
		R       *Report
		Names   []string
		Loss    template.HTML
		Metrics template.HTML
	}{R: r, Names: MetricNames(r.Tuned.Metrics)}
	if r.Curves != nil && len(r.Curves.Train) > 0 {
		svg, err := LossSVG(*r.Curves)
		if err != nil {
			return nil, err
		}
		data.Loss = template.HTML(stripXMLHeader(svg))
	}
	if len(r.Tuned.Metrics) > 0 {
		svg, err := MetricsSVG(r.Base.Metrics, r.Tuned.Metrics)
		if err != nil {
			return nil, err
		}
		data.Metrics = template.HTML(stripXMLHeader(svg))
	}
	var buf bytes.Buffer
	if err := page.Execute(&buf, data); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func stripXMLHeader(svg []byte) []byte {
	if i := bytes.Index(svg, []byte("<svg")); i >= 0 {
		return svg[i:]
	}
	return svg
}

// Summary is a few lines for a terminal: the comparison and the verdicts.
func (r *Report) Summary() string {
	var b strings.Builder
	if r.Base.Loss > 0 {
		fmt.Fprintf(&b, "held-out loss        %8.4f -> %8.4f\n", r.Base.Loss, r.Tuned.Loss)
	}
	for _, n := range MetricNames(r.Tuned.Metrics) {
		fmt.Fprintf(&b, "%-20s %8s -> %8s\n", n, pct(r.Base.Metrics[n]), pct(r.Tuned.Metrics[n]))
	}
	if r.Base.GeneralPPL > 0 {
		fmt.Fprintf(&b, "general perplexity   %8.3f -> %8.3f (%+.1f%%)\n", r.Base.GeneralPPL, r.Tuned.GeneralPPL, 100*r.GeneralChange)
	}
	for _, v := range r.Verdicts {
		fmt.Fprintf(&b, "%-4s %s\n", strings.ToUpper(v.Level), v.Message)
	}
	if n := len(r.Skipped); n > 0 {
		fmt.Fprintf(&b, "left out %d held-out examples (listed in the report), the first: %s\n", n, r.Skipped[0])
	}
	return b.String()
}
