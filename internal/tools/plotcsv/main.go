// Command plotcsv renders columns of a CSV file as a line chart in a PNG, one line per
// -y column against the -x column (rows whose cells do not parse as numbers are
// skipped), for the curves in BENCHMARKS.md.
//
//	plotcsv -csv docs/bench/keys.csv -x keys -y full_sync_seconds -title T -xlabel X -ylabel Y -logx -out docs/bench/x.png
package main

import (
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"image/color"
	"log"
	"os"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// options are the command's flags.
type options struct {
	csv, x, y, title, xlabel, ylabel, out string
	logx, logy                            bool
	width, height                         float64
}

func main() {
	var o options
	flag.StringVar(&o.csv, "csv", "", "CSV file with a header row")
	flag.StringVar(&o.x, "x", "", "column of the x axis")
	flag.StringVar(&o.y, "y", "", "column(s) of the y axis, comma-separated")
	flag.StringVar(&o.title, "title", "", "chart title")
	flag.StringVar(&o.xlabel, "xlabel", "", "x axis label (default: the column)")
	flag.StringVar(&o.ylabel, "ylabel", "", "y axis label (default: the column)")
	flag.BoolVar(&o.logx, "logx", false, "logarithmic x axis")
	flag.BoolVar(&o.logy, "logy", false, "logarithmic y axis")
	flag.StringVar(&o.out, "out", "", "PNG file to write")
	flag.Float64Var(&o.width, "width", 16, "width in centimetres")
	flag.Float64Var(&o.height, "height", 10, "height in centimetres")
	flag.Parse()
	if err := run(o); err != nil {
		log.Fatalf("plotcsv: %v", err)
	}
}

func run(o options) error {
	if o.csv == "" || o.x == "" || o.y == "" || o.out == "" {
		return errors.New("-csv, -x, -y and -out are required")
	}
	f, err := os.Open(o.csv)
	if err != nil {
		return err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return fmt.Errorf("reading %s: %w", o.csv, err)
	}
	if len(rows) < 2 {
		return fmt.Errorf("%s has no data rows", o.csv)
	}
	col := func(name string) (int, error) {
		if i := slices.Index(rows[0], name); i >= 0 {
			return i, nil
		}
		return 0, fmt.Errorf("%s has no column %q (has %s)", o.csv, name, strings.Join(rows[0], ", "))
	}
	xi, err := col(o.x)
	if err != nil {
		return err
	}

	p := plot.New()
	p.Title.Text = o.title
	p.X.Label.Text, p.Y.Label.Text = or(o.xlabel, o.x), or(o.ylabel, o.y)
	p.Add(plotter.NewGrid())
	if o.logx {
		p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, shortTicks{plot.LogTicks{Prec: -1}}
	}
	if o.logy {
		p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, shortTicks{plot.LogTicks{Prec: -1}}
	}
	p.Legend.Top, p.Legend.Left = true, true
	for n, name := range strings.Split(o.y, ",") {
		yi, err := col(name)
		if err != nil {
			return err
		}
		var pts plotter.XYs
		for _, r := range rows[1:] {
			x, errX := strconv.ParseFloat(r[xi], 64)
			y, errY := strconv.ParseFloat(r[yi], 64)
			if errX != nil || errY != nil || (o.logx && x <= 0) || (o.logy && y <= 0) {
				continue
			}
			pts = append(pts, plotter.XY{X: x, Y: y})
		}
		if len(pts) == 0 {
			return fmt.Errorf("column %q has no numbers to plot", name)
		}
		slices.SortFunc(pts, func(a, b plotter.XY) int {
			switch {
			case a.X < b.X:
				return -1
			case a.X > b.X:
				return 1
			}
			return 0
		})
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return fmt.Errorf("plotting %q: %w", name, err)
		}
		c := plotutil.Color(n)
		line.Color, points.Color = c, c
		line.Width = vg.Points(1.5)
		points.Shape = plotutil.Shape(n)
		p.Add(line, points)
		p.Legend.Add(name, line, points)
	}
	// Room above the highest point for the legend, which sits in the top left corner.
	if o.logy {
		p.Y.Max *= 4
	} else {
		p.Y.Min = min(p.Y.Min, 0)
		p.Y.Max += (p.Y.Max - p.Y.Min) * 0.3
	}
	p.BackgroundColor = color.White
	if err := p.Save(vg.Length(o.width)*vg.Centimeter, vg.Length(o.height)*vg.Centimeter, o.out); err != nil {
		return fmt.Errorf("writing %s: %w", o.out, err)
	}
	return nil
}

// shortTicks labels a log axis' ticks 10k, 1M, 0.1 rather than 10000, 1e+06.
type shortTicks struct{ plot.Ticker }

func (t shortTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := t.Ticker.Ticks(lo, hi)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = short(ticks[i].Value)
		}
	}
	return ticks
}

// short writes v with a k, M or G suffix from 1,000 up.
func short(v float64) string {
	for _, u := range []struct {
		div float64
		sfx string
	}{{1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
		if v >= u.div {
			return strconv.FormatFloat(v/u.div, 'g', 4, 64) + u.sfx
		}
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
