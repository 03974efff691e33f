package main

import (
	"fmt"
	"image/color"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// cdfSeries is one line of a CDF chart. Color (an index into plotutil's
// palette; -1: the series' own index) and Dash (plotutil's dash styles) let
// lines that belong together share a color.
type cdfSeries struct {
	Name  string
	Dist  *Dist
	Color int
	Dash  int
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
	step := (n + maxCDFPoints - 1) / maxCDFPoints
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
	p.Add(plotter.NewGrid())
	leg := plot.NewLegend()
	leg.Top, leg.Left = true, true
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
		if s.Color >= 0 {
			l.Color = plotutil.Color(s.Color)
		}
		l.Dashes = plotutil.Dashes(s.Dash)
		l.Width = vg.Points(1.5)
		p.Add(l)
		leg.Add(s.Name, l)
		drawn++
	}
	if drawn == 0 {
		return nil
	}
	return savePlotLegendRight(p, &leg, path, 9.5*vg.Inch, 5*vg.Inch, 3*vg.Inch)
}

// savePlotLegendRight draws the plot with its legend in a column on the right,
// where it cannot hide a line.
func savePlotLegendRight(p *plot.Plot, leg *plot.Legend, path string, w, h, legendW vg.Length) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	img := vgimg.New(w, h)
	dc := draw.New(img)
	p.Draw(draw.Crop(dc, 0, -legendW, 0, 0))
	leg.YOffs = -p.Title.TextStyle.Height(p.Title.Text) - vg.Points(10)
	leg.Draw(draw.Crop(dc, w-legendW+vg.Points(8), 0, 0, 0))
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// xySeries is one line of a chart against the number of clients.
type xySeries struct {
	Name string
	XY   plotter.XYs
}

// saveLineChart draws lines with points, and optional horizontal reference
// lines, on a linear or (logY) logarithmic y axis.
func saveLineChart(path, title, xLabel, yLabel string, series []xySeries, refs map[string]float64, logY bool) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Y.Min = 0
	if logY {
		p.Y.Min = 0.1
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		p.Y.Label.Text += " (log scale)"
		for i := range series {
			series[i].XY = clampY(series[i].XY, 0.1)
		}
	}
	p.Add(plotter.NewGrid())
	leg := plot.NewLegend()
	leg.Top, leg.Left = true, true
	xmin, xmax := 0.0, 1.0
	for i, s := range series {
		s.XY = slices.DeleteFunc(slices.Clone(s.XY), func(p plotter.XY) bool { return math.IsNaN(p.Y) || math.IsInf(p.Y, 0) })
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
		leg.Add(s.Name, l, pts)
	}
	names := slices.Sorted(maps.Keys(refs))
	for i, name := range names {
		y := refs[name]
		ref, err := plotter.NewLine(plotter.XYs{{X: xmin, Y: y}, {X: xmax, Y: y}})
		if err != nil {
			return err
		}
		ref.Color = color.RGBA{R: 200, A: 255}
		ref.Dashes = plotutil.Dashes(i + 1)
		p.Add(ref)
		leg.Add(name, ref)
	}
	return savePlotLegendRight(p, &leg, path, 9.5*vg.Inch, 4.5*vg.Inch, 2.6*vg.Inch)
}

// clampY raises every y below lo to lo (a log axis cannot show zero).
func clampY(xy plotter.XYs, lo float64) plotter.XYs {
	out := make(plotter.XYs, len(xy))
	for i, p := range xy {
		out[i] = plotter.XY{X: p.X, Y: max(p.Y, lo)}
	}
	return out
}
