package eval

import (
	"bytes"
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Point is one (step, value) of a curve.
type Point struct {
	Step  int     `json:"step"`
	Value float64 `json:"value"`
}

// Curves are the loss curves of a training run.
type Curves struct {
	Train []Point `json:"train"`
	Eval  []Point `json:"eval"`
	// BestStep marks the kept checkpoint (0: none).
	BestStep int `json:"best_step"`
}

func lossPlot(c Curves) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Loss"
	p.X.Label.Text = "step"
	p.Y.Label.Text = "loss (nats per trained token)"
	p.Add(plotter.NewGrid())
	add := func(pts []Point, name string, col color.Color, dots bool) error {
		if len(pts) == 0 {
			return nil
		}
		xy := make(plotter.XYs, len(pts))
		for i, q := range pts {
			xy[i].X, xy[i].Y = float64(q.Step), q.Value
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			return err
		}
		l.Color = col
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(name, l)
		if dots {
			s, err := plotter.NewScatter(xy)
			if err != nil {
				return err
			}
			s.Color = col
			s.Shape = draw.CircleGlyph{}
			p.Add(s)
		}
		return nil
	}
	if err := add(c.Train, "train", color.RGBA{31, 119, 180, 255}, false); err != nil {
		return nil, err
	}
	if err := add(c.Eval, "validation", color.RGBA{214, 39, 40, 255}, true); err != nil {
		return nil, err
	}
	if c.BestStep > 0 {
		for _, q := range c.Eval {
			if q.Step == c.BestStep {
				s, _ := plotter.NewScatter(plotter.XYs{{X: float64(q.Step), Y: q.Value}})
				s.Shape = draw.RingGlyph{}
				s.Radius = vg.Points(6)
				s.Color = color.RGBA{44, 160, 44, 255}
				p.Add(s)
				p.Legend.Add(fmt.Sprintf("kept (step %d)", q.Step), s)
			}
		}
	}
	p.Legend.Top = true
	return p, nil
}

// LossPNG renders the loss curves as a PNG image.
func LossPNG(c Curves) ([]byte, error) {
	p, err := lossPlot(c)
	if err != nil {
		return nil, err
	}
	canvas := vgimg.PngCanvas{Canvas: vgimg.New(7*vg.Inch, 4*vg.Inch)}
	p.Draw(draw.New(canvas))
	var buf bytes.Buffer
	if _, err := canvas.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// LossSVG renders the loss curves as an SVG document (for inline HTML).
func LossSVG(c Curves) ([]byte, error) {
	p, err := lossPlot(c)
	if err != nil {
		return nil, err
	}
	return svgOf(p, 7*vg.Inch, 4*vg.Inch)
}

func svgOf(p *plot.Plot, w, h vg.Length) ([]byte, error) {
	canvas := vgsvg.New(w, h)
	p.Draw(draw.New(canvas))
	var buf bytes.Buffer
	if _, err := canvas.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// MetricsSVG renders base-versus-tuned task metrics as grouped bars.
func MetricsSVG(base, tuned map[string]float64) ([]byte, error) {
	names := MetricNames(tuned)
	if len(names) == 0 {
		return nil, nil
	}
	p := plot.New()
	p.Title.Text = "Task metrics: base vs tuned"
	p.Y.Label.Text = "rate"
	p.Y.Min, p.Y.Max = 0, 1
	var bv, tv plotter.Values
	for _, n := range names {
		bv = append(bv, base[n])
		tv = append(tv, tuned[n])
	}
	w := vg.Points(18)
	b1, err := plotter.NewBarChart(bv, w)
	if err != nil {
		return nil, err
	}
	b1.Color = color.RGBA{150, 150, 150, 255}
	b1.Offset = -w / 2
	b2, err := plotter.NewBarChart(tv, w)
	if err != nil {
		return nil, err
	}
	b2.Color = color.RGBA{31, 119, 180, 255}
	b2.Offset = w / 2
	p.Add(b1, b2)
	p.Legend.Add("base", b1)
	p.Legend.Add("tuned", b2)
	p.Legend.Top = true
	p.NominalX(names...)
	return svgOf(p, 7*vg.Inch, 3.5*vg.Inch)
}
