package experiment

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/deepnmf/deepnmf/internal/atomicfile"
)

// Series is one line of a line plot.
type Series struct {
	Name string
	X, Y []float64
}

// lineChart is a plot with one line (and point markers) per series. On a log
// axis the points that cannot be drawn (≤ 0, e.g. an error that is exactly 0)
// are left out rather than failing the whole plot.
func lineChart(title, xLabel, yLabel string, series []Series, logY bool) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	if logY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	for i, s := range series {
		var pts plotter.XYs
		for j := range s.X {
			y := s.Y[j]
			if math.IsNaN(y) || math.IsInf(y, 0) || (logY && y <= 0) {
				continue
			}
			pts = append(pts, plotter.XY{X: s.X[j], Y: y})
		}
		if len(pts) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			continue // only for non-finite values, filtered above
		}
		c := plotutil.Color(i)
		line.Color = c
		line.Dashes = plotutil.Dashes(i / 7)
		line.Width = vg.Points(1.5)
		points.Color = c
		points.Shape = plotutil.Shape(i)
		points.Radius = vg.Points(2.5)
		p.Add(line, points)
		p.Legend.Add(s.Name, line, points)
	}
	return p
}

// saveFigure writes a grid of plots (rows × columns, nil cells left empty) as
// dir/base.png and dir/base.svg, each written atomically, and returns the
// two file names.
func saveFigure(grid [][]*plot.Plot, w, h vg.Length, dir, base string) ([]string, error) {
	var files []string
	for _, ext := range []string{"png", "svg"} {
		var c interface {
			vg.CanvasSizer
			io.WriterTo
		}
		switch ext {
		case "png":
			img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(110), vgimg.UseBackgroundColor(color.White))
			c = vgimg.PngCanvas{Canvas: img}
		case "svg":
			c = vgsvg.New(w, h)
		}
		dc := draw.New(c)
		tiles := draw.Tiles{Rows: len(grid), Cols: len(grid[0]), PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4,
			PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
		canvases := plot.Align(grid, tiles, dc)
		for i := range grid {
			for j, p := range grid[i] {
				if p != nil {
					p.Draw(canvases[i][j])
				}
			}
		}
		name := filepath.Join(dir, base+"."+ext)
		if err := writeTo(name, c); err != nil {
			return nil, err
		}
		files = append(files, name)
	}
	return files, nil
}

func writeTo(path string, w io.WriterTo) error {
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return atomicfile.WriteFile(path, buf.Bytes())
}

// ensureDir creates the output directory.
func ensureDir(dir string) error {
	if dir == "" {
		return fmt.Errorf("no output directory given")
	}
	return os.MkdirAll(dir, 0o755)
}
