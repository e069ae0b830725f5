package sim

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"math"
	"strings"
	"time"

	"github.com/servekit/servekit/autoscaler"
)

// Chart geometry (pixels).
const (
	svgW, svgH                     = 960, 540
	padL, padR, padT, padB float64 = 70, 90, 92, 56
)

// Series colours.
const (
	colLoad    = "#9e9e9e"
	colStable  = "#424242"
	colDesired = "#1e88e5"
	colScale   = "#ef6c00"
	colReady   = "#2e7d32"
	colPanic   = "#ffcdd2"
	// State strip colours.
	colActivating = "#ffb300"
	colInactive   = "#78909c"
)

// niceStep returns a 1/2/5×10^k step giving about n intervals up to max.
func niceStep(max float64, n int) float64 {
	if max <= 0 {
		return 1
	}
	raw := max / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			return m * mag
		}
	}
	return 10 * mag
}

func niceCeil(v float64, n int) (top, step float64) {
	step = niceStep(v, n)
	top = math.Ceil(v/step) * step
	if top <= 0 {
		top = step
	}
	return top, step
}

func fmtNum(v float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
}

// chart is one SVG chart being drawn: the trace, its ticks and the scales.
type chart struct {
	w     *bufio.Writer
	tr    *Trace
	spec  autoscaler.Spec
	ticks []Tick
	dur   float64 // seconds
	rps   bool    // the load axis shows requests per second
	cpu   bool    // an HPA-class trace: the load axis shows CPU, the stable line the per-pod average

	loadName, loadUnit string

	podTop, podStep   float64
	loadTop, loadStep float64
	timeStep          float64
	pw, ph            float64 // plot area
}

// WriteSVG draws the simulation of tr as an SVG chart (960×540) titled
// title: load (right axis), the stable average, desired scale, applied
// scale and ready pods (left axis) against time, with panic periods shaded,
// the revision state as a strip along the top, ticks without data marked
// and a legend. ticks are Simulate(tr)'s. It returns an error when tr is
// not valid, or the first write error.
func WriteSVG(w io.Writer, tr *Trace, ticks []Tick, title string) error {
	if err := tr.Validate(); err != nil {
		return err
	}
	c := newChart(bufio.NewWriter(w), tr, ticks)
	c.header(title)
	c.panicShading()
	c.axes()
	c.loadArea()
	c.tickSeries()
	c.stateStrip()
	c.noDataMarks()
	c.legend()
	fmt.Fprintln(c.w, `</svg>`)
	return c.w.Flush()
}

// newChart computes the axes' ranges: the trace's load and every tick's
// pods and stable average, with 10 % headroom.
func newChart(w *bufio.Writer, tr *Trace, ticks []Tick) *chart {
	c := &chart{w: w, tr: tr, spec: tr.spec(), ticks: ticks, dur: tr.Duration.Seconds()}
	c.rps = c.spec.Metric == autoscaler.MetricRPS
	c.cpu = c.spec.Class == autoscaler.ClassHPA
	c.loadName, c.loadUnit = "concurrency", "concurrency (in-flight requests, revision total)"
	switch {
	case c.cpu:
		c.loadName, c.loadUnit = "CPU %", "CPU, % of one pod's request (revision total)"
	case c.rps:
		c.loadName, c.loadUnit = "requests/s", "requests per second (revision total)"
	}
	maxLoad, maxPods := 0.0, 1.0
	for s := 0; float64(s) <= c.dur; s++ {
		if v, ok := c.loadAt(s); ok {
			maxLoad = math.Max(maxLoad, v)
		}
	}
	for _, t := range ticks {
		maxPods = math.Max(maxPods, float64(max(t.Scale, t.Desired, t.ReadyPods)))
		maxLoad = math.Max(maxLoad, c.stable(t))
	}
	// 10 % headroom so lines at the maximum stay off the frame.
	c.podTop, c.podStep = niceCeil(maxPods*1.1, 6)
	if c.podStep < 1 {
		c.podTop, c.podStep = math.Max(c.podTop, 1), 1
	}
	c.loadTop, c.loadStep = niceCeil(maxLoad*1.1, 6)
	_, c.timeStep = niceCeil(c.dur, 10)
	c.pw, c.ph = svgW-padL-padR, svgH-padT-padB
	return c
}

func (c *chart) x(s float64) float64     { return padL + s/c.dur*c.pw }
func (c *chart) yPods(v float64) float64 { return padT + c.ph - v/c.podTop*c.ph }
func (c *chart) yLoad(v float64) float64 { return padT + c.ph - v/c.loadTop*c.ph }

// loadAt is the charted metric's load at second s, and whether any was
// recorded.
func (c *chart) loadAt(s int) (float64, bool) {
	conc, rps, ok := loadAt(c.tr, time.Duration(s)*time.Second)
	if c.cpu {
		return cpuAt(c.tr, time.Duration(s)*time.Second)
	}
	if c.rps {
		return rps, ok
	}
	return conc, ok
}

// stable is the charted metric's stable average at a tick.
func (c *chart) stable(t Tick) float64 {
	if c.cpu {
		return t.CPU
	}
	if c.rps {
		return t.StableRPS
	}
	return t.StableConcurrency
}

// span is the time ticks[i] holds, in seconds: until the next tick (or 2 s
// for the last), cut at the trace's end.
func (c *chart) span(i int) (start, end float64) {
	start = c.ticks[i].At.Seconds()
	end = start + 2
	if i+1 < len(c.ticks) {
		end = c.ticks[i+1].At.Seconds()
	}
	return start, math.Min(end, c.dur)
}

// header opens the SVG and writes the title and the spec line.
func (c *chart) header(title string) {
	fmt.Fprintf(c.w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", svgW, svgH, svgW, svgH)
	fmt.Fprintf(c.w, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(c.w, `<text x="%g" y="22" font-size="16" font-weight="bold">%s</text>`+"\n", padL, html.EscapeString(title))
	fmt.Fprintf(c.w, `<text x="%g" y="40" fill="#555">target %s %s/pod, stable window %gs, panic window %gs, panic threshold %s×, TBC %s</text>`+"\n",
		padL, fmtNum(c.spec.TargetValue), c.loadName, c.spec.StableWindow.Seconds(), c.spec.PanicWindow.Seconds(),
		fmtNum(c.spec.PanicThreshold), fmtNum(c.spec.TargetBurstCapacity))
}

// panicShading shades each panicking tick's span.
func (c *chart) panicShading() {
	for i, t := range c.ticks {
		if !t.Panic {
			continue
		}
		start, end := c.span(i)
		fmt.Fprintf(c.w, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" fill-opacity="0.6"/>`+"\n",
			c.x(start), padT, math.Max(c.x(end)-c.x(start), 0.5), c.ph, colPanic)
	}
}

// axes draws the grid, the three axes' labels and the frame.
func (c *chart) axes() {
	w, pw, ph := c.w, c.pw, c.ph
	for v := 0.0; v <= c.podTop+1e-9; v += c.podStep {
		y := c.yPods(v)
		fmt.Fprintf(w, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#e0e0e0"/>`+"\n", padL, y, padL+pw, y)
		fmt.Fprintf(w, `<text x="%g" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`+"\n", padL-6, y, fmtNum(v))
	}
	for v := 0.0; v <= c.loadTop+1e-9; v += c.loadStep {
		fmt.Fprintf(w, `<text x="%g" y="%.1f" dominant-baseline="middle" fill="%s">%s</text>`+"\n", padL+pw+6, c.yLoad(v), colStable, fmtNum(v))
	}
	for s := 0.0; s <= c.dur+1e-9; s += c.timeStep {
		fmt.Fprintf(w, `<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="#333"/>`+"\n", c.x(s), padT+ph, c.x(s), padT+ph+5)
		fmt.Fprintf(w, `<text x="%.1f" y="%g" text-anchor="middle">%s</text>`+"\n", c.x(s), padT+ph+18, fmtNum(s))
	}
	fmt.Fprintf(w, `<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#333"/>`+"\n", padL, padT, pw, ph)
	fmt.Fprintf(w, `<text x="%g" y="%g" text-anchor="middle">time (s)</text>`+"\n", padL+pw/2, svgH-14.0)
	fmt.Fprintf(w, `<text transform="translate(20 %g) rotate(-90)" text-anchor="middle">pods</text>`+"\n", padT+ph/2)
	fmt.Fprintf(w, `<text transform="translate(%g %g) rotate(90)" text-anchor="middle" fill="%s">%s</text>`+"\n", svgW-20.0, padT+ph/2, colStable, c.loadUnit)
}

// loadArea draws the trace's steps, per second, as a filled area with gaps
// where nothing was recorded.
func (c *chart) loadArea() {
	var area strings.Builder
	inRun := false
	closeRun := func(s float64) {
		if inRun {
			fmt.Fprintf(&area, " L%.1f,%.1f Z", c.x(s), c.yLoad(0))
			inRun = false
		}
	}
	for s := 0; float64(s) < c.dur; s++ {
		v, ok := c.loadAt(s)
		if !ok {
			closeRun(float64(s))
			continue
		}
		if !inRun {
			fmt.Fprintf(&area, " M%.1f,%.1f", c.x(float64(s)), c.yLoad(0))
			inRun = true
		}
		fmt.Fprintf(&area, " L%.1f,%.1f L%.1f,%.1f", c.x(float64(s)), c.yLoad(v), c.x(float64(s+1)), c.yLoad(v))
	}
	closeRun(c.dur)
	if area.Len() > 0 {
		fmt.Fprintf(c.w, `<path d="%s" fill="%s" fill-opacity="0.35" stroke="%s" stroke-width="1"/>`+"\n", area.String(), colLoad, colLoad)
	}
}

// tickSeries draws the stable average, ready pods, applied scale and
// desired scale as step lines.
func (c *chart) tickSeries() {
	c.stepLine(c.stable, c.yLoad, colStable, `stroke-width="1.5" stroke-dasharray="2 3"`, func(t Tick) bool { return !t.Valid })
	c.stepLine(func(t Tick) float64 { return float64(t.ReadyPods) }, c.yPods, colReady, `stroke-width="2"`, nil)
	c.stepLine(func(t Tick) float64 { return float64(t.Scale) }, c.yPods, colScale, `stroke-width="3" stroke-opacity="0.85"`, nil)
	c.stepLine(func(t Tick) float64 { return float64(t.Desired) }, c.yPods, colDesired, `stroke-width="2" stroke-dasharray="6 4"`, func(t Tick) bool { return t.Desired < 0 })
}

// stepLine draws val over the ticks as a step line on the y scale, lifting
// the pen over ticks for which skip (when not nil) reports true.
func (c *chart) stepLine(val func(Tick) float64, y func(float64) float64, color, extra string, skip func(Tick) bool) {
	var b strings.Builder
	pen := false
	for i, t := range c.ticks {
		if skip != nil && skip(t) {
			pen = false
			continue
		}
		x0, x1 := c.span(i)
		cmd := "L"
		if !pen {
			cmd, pen = "M", true
		}
		fmt.Fprintf(&b, "%s%.1f,%.1f L%.1f,%.1f ", cmd, c.x(x0), y(val(t)), c.x(x1), y(val(t)))
	}
	if b.Len() > 0 {
		fmt.Fprintf(c.w, `<path d="%s" fill="none" stroke="%s" %s/>`+"\n", strings.TrimSpace(b.String()), color, extra)
	}
}

// stateStrip marks activating and inactive periods along the top
// (inactive = activator in the path, waiting out the grace period or at 0).
func (c *chart) stateStrip() {
	for i, t := range c.ticks {
		col := ""
		switch t.State {
		case autoscaler.StateActivating:
			col = colActivating
		case autoscaler.StateInactive:
			col = colInactive
		}
		if col == "" {
			continue
		}
		start, end := c.span(i)
		fmt.Fprintf(c.w, `<rect x="%.1f" y="%g" width="%.1f" height="6" fill="%s"/>`+"\n",
			c.x(start), padT, math.Max(c.x(end)-c.x(start), 0.5), col)
	}
}

// noDataMarks draws a small mark under the axis at each invalid tick.
func (c *chart) noDataMarks() {
	for _, t := range c.ticks {
		if !t.Valid {
			x := c.x(t.At.Seconds())
			fmt.Fprintf(c.w, `<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="#b71c1c" stroke-width="2"/>`+"\n",
				x, padT+c.ph-6, x, padT+c.ph)
		}
	}
}

// legend draws the legend above the plot, wrapping to a new row when a
// row is full.
func (c *chart) legend() {
	type item struct{ label, color, kind string }
	items := []item{
		{"load (" + c.loadName + ", right axis)", colLoad, "area"},
		{"stable average (right axis)", colStable, "dots"},
		{"desired (decider)", colDesired, "dash"},
		{"scale (applied)", colScale, "thick"},
		{"ready pods", colReady, "line"},
		{"panic", colPanic, "area"},
		{"no data", "#b71c1c", "mark"},
		{"state: activating", colActivating, "area"},
		{"state: inactive", colInactive, "area"},
	}
	strokes := map[string]string{"dots": `stroke-dasharray="2 3"`, "dash": `stroke-dasharray="6 4"`, "thick": `stroke-width="3"`, "line": `stroke-width="2"`}
	w := c.w
	lx, ly := padL, 58.0
	for _, it := range items {
		width := 30 + 6.3*float64(len(it.label))
		if lx+width > svgW-padR+40 {
			lx, ly = padL, ly+16
		}
		switch it.kind {
		case "area":
			fmt.Fprintf(w, `<rect x="%g" y="%g" width="18" height="10" fill="%s" fill-opacity="0.6"/>`, lx, ly-5, it.color)
		case "mark":
			fmt.Fprintf(w, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="%s" stroke-width="2"/>`, lx+9, ly-5, lx+9, ly+5, it.color)
		default:
			fmt.Fprintf(w, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="%s" %s/>`, lx, ly, lx+18, ly, it.color, strokes[it.kind])
		}
		fmt.Fprintf(w, `<text x="%g" y="%g" dominant-baseline="middle">%s</text>`+"\n", lx+23, ly, html.EscapeString(it.label))
		lx += width
	}
}
