package main

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// cdfSeries is one line of a CDF chart.
type cdfSeries struct {
	Name string
	Dist *Dist
}

// maxCDFPoints bounds the points drawn per CDF line; more only slows drawing.
const maxCDFPoints = 400

// cdfPoints returns the empirical CDF of d, thinned to at most maxCDFPoints
// points (the last point, the maximum, is always kept).
func cdfPoints(d *Dist) plotter.XYs {
	s := d.Sorted()
	n := len(s)
	if n == 0 {
		return nil
	}
	step := max(1, n/maxCDFPoints)
	var pts plotter.XYs
	for i := 0; i < n; i += step {
		pts = append(pts, plotter.XY{X: max(s[i], 0.01), Y: float64(i+1) / float64(n)})
	}
	if last := pts[len(pts)-1]; last.Y < 1 {
		pts = append(pts, plotter.XY{X: max(s[n-1], 0.01), Y: 1})
	}
	return pts
}

// saveCDFChart draws latency CDFs on a logarithmic millisecond axis.
func saveCDFChart(path, title string, series []cdfSeries) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "latency (ms, log scale)"
	p.Y.Label.Text = "fraction of samples ≤ x"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Y.Min, p.Y.Max = 0, 1
	p.Legend.Top = false
	p.Legend.Left = false
	p.Add(plotter.NewGrid())
	drawn := 0
	for i, s := range series {
		pts := cdfPoints(s.Dist)
		if len(pts) == 0 {
			continue
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return fmt.Errorf("chart %s: %w", s.Name, err)
		}
		l.Color = plotutil.Color(i)
		l.Dashes = plotutil.Dashes(i / len(plotutil.DefaultColors))
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(s.Name, l)
		drawn++
	}
	if drawn == 0 {
		return nil
	}
	return savePlot(p, path, 8*vg.Inch, 5*vg.Inch)
}

// xySeries is one line of a chart against the number of clients.
type xySeries struct {
	Name string
	XY   plotter.XYs
}

// saveLineChart draws lines with points, and optional horizontal reference lines.
func saveLineChart(path, title, xLabel, yLabel string, series []xySeries, refs map[string]float64) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Y.Min = 0
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	xmin, xmax := 0.0, 1.0
	for i, s := range series {
		if len(s.XY) == 0 {
			continue
		}
		for _, pt := range s.XY {
			xmax = max(xmax, pt.X)
		}
		l, pts, err := plotter.NewLinePoints(s.XY)
		if err != nil {
			return fmt.Errorf("chart %s: %w", s.Name, err)
		}
		l.Color = plotutil.Color(i)
		pts.Color = plotutil.Color(i)
		pts.Shape = draw.CircleGlyph{}
		p.Add(l, pts)
		p.Legend.Add(s.Name, l, pts)
	}
	for name, y := range refs {
		ref, err := plotter.NewLine(plotter.XYs{{X: xmin, Y: y}, {X: xmax, Y: y}})
		if err != nil {
			return err
		}
		ref.Color = color.RGBA{R: 200, A: 255}
		ref.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(ref)
		p.Legend.Add(name, ref)
	}
	return savePlot(p, path, 7*vg.Inch, 4.5*vg.Inch)
}

func savePlot(p *plot.Plot, path string, w, h vg.Length) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return p.Save(w, h, path)
}
