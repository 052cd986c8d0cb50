package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/crmsync/crmsync/internal/crmsim"
)

// The chart's size and the plot area's margins, in pixels.
const (
	chartWidth, chartHeight = 960, 480
	marginLeft, marginRight = 64, 72
	marginTop, marginBottom = 56, 48
)

// The chart's colours.
var (
	colBackground = color.RGBA{255, 255, 255, 255}
	colAxis       = color.RGBA{60, 60, 60, 255}
	colGrid       = color.RGBA{228, 228, 228, 255}
	colText       = color.RGBA{20, 20, 20, 255}
	colCalls      = color.RGBA{110, 160, 210, 255}
	col429        = color.RGBA{215, 48, 39, 255}
	colWindow     = color.RGBA{26, 128, 60, 255}
	colQuota      = color.RGBA{240, 120, 0, 255}
)

// chartSpec is what one chart shows: the calls of every second of a run, and the quota of
// `quota` calls per `window` they are held to (no quota line when quota is 0).
type chartSpec struct {
	title  string
	series []crmsim.SecondCount
	quota  int
	window time.Duration
}

// plot maps data to pixels: x in seconds since the first one, y in calls per second.
type plot struct {
	seconds int
	yMax    float64
	area    image.Rectangle
}

func (p plot) x(sec float64) int {
	return p.area.Min.X + int(math.Round(sec/float64(p.seconds)*float64(p.area.Dx())))
}

func (p plot) y(v float64) int {
	return p.area.Max.Y - int(math.Round(v/p.yMax*float64(p.area.Dy())))
}

// perSecond spreads the series over every second from its first to its last, seconds
// without calls included.
func perSecond(series []crmsim.SecondCount) (calls, refused []int) {
	if len(series) == 0 {
		return nil, nil
	}
	first, last := series[0].Unix, series[0].Unix
	for _, s := range series {
		first, last = min(first, s.Unix), max(last, s.Unix)
	}
	calls, refused = make([]int, last-first+1), make([]int, last-first+1)
	for _, s := range series {
		calls[s.Unix-first] += s.Requests
		refused[s.Unix-first] += s.RateLimited
	}
	return calls, refused
}

// windowSums is, for each second, the calls of the window ending with it.
func windowSums(calls []int, window int) []int {
	out := make([]int, len(calls))
	sum := 0
	for i, c := range calls {
		sum += c
		if i >= window {
			sum -= calls[i-window]
		}
		out[i] = sum
	}
	return out
}

// newPlot lays out a chart of spec.
func newPlot(spec chartSpec) plot {
	calls, _ := perSecond(spec.series)
	win := max(1, int(spec.window/time.Second))
	top := 1.0
	for i, s := range windowSums(calls, win) {
		top = max(top, float64(calls[i]), float64(s)/float64(win))
	}
	if spec.quota > 0 {
		top = max(top, float64(spec.quota)/spec.window.Seconds())
	}
	return plot{
		seconds: max(1, len(calls)),
		yMax:    niceCeil(top * 1.15),
		area:    image.Rect(marginLeft, marginTop, chartWidth-marginRight, chartHeight-marginBottom),
	}
}

// renderChart draws the calls per second as bars (the part refused with 429 in red), the
// quota's average rate B/window as a horizontal line, and each window's calls (divided by
// its length, so the same axis holds them) as a line that touches the quota line when a
// window is full. The right axis reads that line in calls per window.
func renderChart(spec chartSpec) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, chartWidth, chartHeight))
	draw.Draw(img, img.Bounds(), image.NewUniform(colBackground), image.Point{}, draw.Src)
	p := newPlot(spec)
	calls, refused := perSecond(spec.series)
	win := max(1, int(spec.window/time.Second))

	// Grid and axes' ticks.
	step := niceStep(p.yMax)
	for v := 0.0; v <= p.yMax+step/2; v += step {
		y := p.y(v)
		hline(img, p.area.Min.X, p.area.Max.X, y, colGrid)
		label(img, p.area.Min.X-6-textWidth(num(v)), y+4, num(v))
		label(img, p.area.Max.X+6, y+4, num(v*float64(win)))
	}
	xstep := niceStep(float64(p.seconds))
	for s := 0.0; s <= float64(p.seconds); s += xstep {
		x := p.x(s)
		vline(img, x, p.area.Max.Y, p.area.Max.Y+4, colAxis)
		label(img, x-textWidth(num(s))/2, p.area.Max.Y+18, num(s))
	}

	// Bars: calls per second, 429s on top in red.
	for i, c := range calls {
		x0, x1 := p.x(float64(i))+1, max(p.x(float64(i+1))-1, p.x(float64(i))+2)
		fill(img, image.Rect(x0, p.y(float64(c-refused[i])), x1, p.area.Max.Y), colCalls)
		if refused[i] > 0 {
			fill(img, image.Rect(x0, p.y(float64(c)), x1, p.y(float64(c-refused[i]))), col429)
		}
	}
	// The window's calls, per second of window.
	sums := windowSums(calls, win)
	for i := 1; i < len(sums); i++ {
		line(img, p.x(float64(i-1)+0.5), p.y(float64(sums[i-1])/float64(win)), p.x(float64(i)+0.5), p.y(float64(sums[i])/float64(win)), colWindow)
	}
	// The quota's average rate.
	if spec.quota > 0 {
		y := p.y(float64(spec.quota) / spec.window.Seconds())
		for d := -1; d <= 1; d++ {
			hline(img, p.area.Min.X, p.area.Max.X, y+d, colQuota)
		}
	}
	// Axes.
	vline(img, p.area.Min.X, p.area.Min.Y, p.area.Max.Y, colAxis)
	vline(img, p.area.Max.X, p.area.Min.Y, p.area.Max.Y, colAxis)
	hline(img, p.area.Min.X, p.area.Max.X, p.area.Max.Y, colAxis)

	// Title, axis names, legend.
	label(img, marginLeft, 18, spec.title)
	label(img, 4, marginTop-8, "calls/s")
	perWindow := "calls/" + spec.window.String()
	label(img, chartWidth-4-textWidth(perWindow), marginTop-8, perWindow)
	xname := "seconds since the first call"
	label(img, (p.area.Min.X+p.area.Max.X-textWidth(xname))/2, chartHeight-10, xname)
	x := marginLeft
	x = legend(img, x, 36, colCalls, "calls in the second")
	x = legend(img, x, 36, col429, "refused (429)")
	x = legend(img, x, 36, colWindow, "calls in the last "+spec.window.String()+" (right axis)")
	if spec.quota > 0 {
		legend(img, x, 36, colQuota, fmt.Sprintf("quota: %d per %s", spec.quota, spec.window))
	}
	return img
}

// writeChart renders spec into path as a PNG.
func writeChart(path string, spec chartSpec) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	if err := png.Encode(f, renderChart(spec)); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// writeCharts draws <outDir>/<run>.png for every run that wrote a per-second series, and
// returns the files written.
func writeCharts(outDir string, results []result) ([]string, error) {
	var written []string
	for _, r := range results {
		if r.Error != "" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(outDir, r.Run+"-persecond.json"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return written, fmt.Errorf("reading the per-second series of %s: %w", r.Run, err)
		}
		var series []crmsim.SecondCount
		if err := json.Unmarshal(b, &series); err != nil {
			return written, fmt.Errorf("reading the per-second series of %s: %w", r.Run, err)
		}
		if len(series) == 0 {
			continue
		}
		title := fmt.Sprintf("%s: calls per second against the quota (%d records, %d calls, %.1fs)", r.Run, r.Records, r.APICalls, r.ElapsedS)
		path := filepath.Join(outDir, r.Run+".png")
		if err := writeChart(path, chartSpec{title: title, series: series, quota: r.Quota, window: quotaWindow}); err != nil {
			return written, err
		}
		written = append(written, path)
	}
	return written, nil
}

// niceStep is a round tick step (1, 2 or 5 times a power of ten) giving about six ticks
// up to top.
func niceStep(top float64) float64 {
	raw := top / 6
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			return m * mag
		}
	}
	return 10 * mag
}

// niceCeil rounds v up to a multiple of its tick step.
func niceCeil(v float64) float64 {
	s := niceStep(v)
	return math.Ceil(v/s) * s
}

// num formats a tick value.
func num(v float64) string {
	if v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func fill(img *image.RGBA, r image.Rectangle, c color.Color) {
	draw.Draw(img, r.Canon(), image.NewUniform(c), image.Point{}, draw.Src)
}

func hline(img *image.RGBA, x0, x1, y int, c color.RGBA) {
	for x := x0; x <= x1; x++ {
		img.SetRGBA(x, y, c)
	}
}

func vline(img *image.RGBA, x, y0, y1 int, c color.RGBA) {
	for y := y0; y <= y1; y++ {
		img.SetRGBA(x, y, c)
	}
}

// line draws a two-pixel line from (x0, y0) to (x1, y1).
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	n := max(abs(x1-x0), abs(y1-y0), 1)
	for i := 0; i <= n; i++ {
		x := x0 + (x1-x0)*i/n
		y := y0 + (y1-y0)*i/n
		img.SetRGBA(x, y, c)
		img.SetRGBA(x, y+1, c)
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// face is the fixed 7x13 font of golang.org/x/image: every label, no font files.
var face = basicfont.Face7x13

func label(img *image.RGBA, x, y int, s string) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(colText), Face: face, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

func textWidth(s string) int { return font.MeasureString(face, s).Round() }

// legend draws a swatch and its text at (x, y) and returns where the next one starts.
func legend(img *image.RGBA, x, y int, c color.RGBA, s string) int {
	fill(img, image.Rect(x, y-9, x+12, y+1), c)
	label(img, x+16, y, s)
	return x + 16 + textWidth(s) + 18
}
