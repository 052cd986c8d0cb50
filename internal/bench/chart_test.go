package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/crmsim"
)

// syntheticSeries is a backfill held to 100 calls per 10 s: a burst of the first window's
// allowance, then ten a second, with a few 429s and a quiet gap.
func syntheticSeries() []crmsim.SecondCount {
	var s []crmsim.SecondCount
	for i := int64(0); i < 60; i++ {
		c := crmsim.SecondCount{Unix: 1_000 + i, Requests: 10}
		switch {
		case i == 0:
			c.Requests = 100
		case i < 10:
			c.Requests = 0
		case i == 30:
			c.Requests, c.RateLimited = 14, 4
		case i > 40 && i < 44:
			continue // no calls at all: the series leaves such seconds out
		}
		s = append(s, c)
	}
	return s
}

func TestChartDecodesWithTheQuotaLineWhereItBelongs(t *testing.T) {
	t.Parallel()
	spec := chartSpec{title: "a-100-0s", series: syntheticSeries(), quota: 100, window: 10 * time.Second}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, renderChart(spec)))
	img, err := png.Decode(&buf)
	require.NoError(t, err)
	require.Equal(t, image.Rect(0, 0, chartWidth, chartHeight), img.Bounds())

	p := newPlot(spec)
	require.Equal(t, 60, p.seconds)
	require.InDelta(t, 100, p.yMax, 20, "the first second's burst of 100 sets the scale")
	row := p.y(10) // B/10 s = 10 calls per second
	for _, x := range []int{p.area.Min.X + 2, (p.area.Min.X + p.area.Max.X) / 2, p.area.Max.X - 2} {
		require.Equal(t, colQuota, color.RGBAModel.Convert(img.At(x, row)), "the quota line at (%d, %d)", x, row)
	}
	// A bar of the quiet seconds' neighbours reaches the quota line; the quiet seconds have none.
	quiet := p.x(42.5)
	require.Equal(t, colBackground, color.RGBAModel.Convert(img.At(quiet, p.y(5))))
	require.Equal(t, colCalls, color.RGBAModel.Convert(img.At(p.x(20.5), p.y(5))))
	require.Equal(t, col429, color.RGBAModel.Convert(img.At(p.x(30.5), p.y(12))), "the 429s are red, on top")
}

func TestWindowSumsRollOverTheWindow(t *testing.T) {
	t.Parallel()
	require.Equal(t, []int{1, 3, 6, 9, 12}, windowSums([]int{1, 2, 3, 4, 5}, 3))
	calls, refused := perSecond([]crmsim.SecondCount{{Unix: 5, Requests: 2}, {Unix: 8, Requests: 3, RateLimited: 1}})
	require.Equal(t, []int{2, 0, 0, 3}, calls)
	require.Equal(t, []int{0, 0, 0, 1}, refused)
}

// The bench draws a chart for each run that wrote a per-second series, none for the others.
func TestWriteChartsForRunsWithASeries(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b, err := json.Marshal(syntheticSeries())
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a-100-0s-persecond.json"), b, 0o644))
	written, err := writeCharts(dir, []result{
		{Run: "a-100-0s", Quota: 100, Records: 5000, APICalls: 150, ElapsedS: 60},
		{Run: "f-10", Quota: 100},
		{Run: "a-190-0s", Error: "boom"},
	})
	require.NoError(t, err)
	require.Equal(t, []string{filepath.Join(dir, "a-100-0s.png")}, written)
	f, err := os.Open(written[0])
	require.NoError(t, err)
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	require.NoError(t, err)
	require.Equal(t, chartWidth, cfg.Width)
	require.Equal(t, chartHeight, cfg.Height)
}
