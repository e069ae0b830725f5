package main

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

// writeSVG draws load (right axis), desired scale, applied scale and ready
// pods (left axis) against time, with panic periods shaded.
func writeSVG(out io.Writer, tr *Trace, ticks []Tick, name string) error {
	w := bufio.NewWriter(out)
	dur := tr.Duration.Seconds()
	rps := tr.Spec.Metric == autoscaler.MetricRPS
	loadName, loadUnit := "concurrency", "concurrency (in-flight requests, revision total)"
	if rps {
		loadName, loadUnit = "requests/s", "requests per second (revision total)"
	}

	// Ranges.
	maxLoad, maxPods := 0.0, 1.0
	for s := 0; float64(s) <= dur; s++ {
		c, r, ok := loadAt(tr, time.Duration(s)*time.Second)
		if ok {
			if rps {
				c = r
			}
			maxLoad = math.Max(maxLoad, c)
		}
	}
	for _, t := range ticks {
		maxPods = math.Max(maxPods, float64(max(t.Scale, t.Desired, t.ReadyPods)))
		maxLoad = math.Max(maxLoad, stableOf(t, rps))
	}
	// 10 % headroom so lines at the maximum stay off the frame.
	podTop, podStep := niceCeil(maxPods*1.1, 6)
	if podStep < 1 {
		podTop, podStep = math.Max(podTop, 1), 1
	}
	loadTop, loadStep := niceCeil(maxLoad*1.1, 6)
	_, timeStep := niceCeil(dur, 10)

	pw, ph := svgW-padL-padR, svgH-padT-padB
	x := func(s float64) float64 { return padL + s/dur*pw }
	yPods := func(v float64) float64 { return padT + ph - v/podTop*ph }
	yLoad := func(v float64) float64 { return padT + ph - v/loadTop*ph }

	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", svgW, svgH, svgW, svgH)
	fmt.Fprintf(w, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(w, `<text x="%g" y="22" font-size="16" font-weight="bold">scalesim: %s</text>`+"\n", padL, html.EscapeString(name))
	fmt.Fprintf(w, `<text x="%g" y="40" fill="#555">target %s %s/pod, stable window %gs, panic window %gs, panic threshold %s×, TBC %s</text>`+"\n",
		padL, fmtNum(tr.Spec.TargetValue), loadName, tr.Spec.StableWindow.Seconds(), tr.Spec.PanicWindow.Seconds(),
		fmtNum(tr.Spec.PanicThreshold), fmtNum(tr.Spec.TargetBurstCapacity))

	// Panic shading: from each panicking tick to the next tick.
	for i, t := range ticks {
		if !t.Panic {
			continue
		}
		end := float64(t.Seconds) + 2
		if i+1 < len(ticks) {
			end = float64(ticks[i+1].Seconds)
		}
		end = math.Min(end, dur)
		fmt.Fprintf(w, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" fill-opacity="0.6"/>`+"\n",
			x(float64(t.Seconds)), padT, math.Max(x(end)-x(float64(t.Seconds)), 0.5), ph, colPanic)
	}

	// Grid and axes.
	for v := 0.0; v <= podTop+1e-9; v += podStep {
		y := yPods(v)
		fmt.Fprintf(w, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#e0e0e0"/>`+"\n", padL, y, padL+pw, y)
		fmt.Fprintf(w, `<text x="%g" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`+"\n", padL-6, y, fmtNum(v))
	}
	for v := 0.0; v <= loadTop+1e-9; v += loadStep {
		fmt.Fprintf(w, `<text x="%g" y="%.1f" dominant-baseline="middle" fill="%s">%s</text>`+"\n", padL+pw+6, yLoad(v), colStable, fmtNum(v))
	}
	for s := 0.0; s <= dur+1e-9; s += timeStep {
		fmt.Fprintf(w, `<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="#333"/>`+"\n", x(s), padT+ph, x(s), padT+ph+5)
		fmt.Fprintf(w, `<text x="%.1f" y="%g" text-anchor="middle">%s</text>`+"\n", x(s), padT+ph+18, fmtNum(s))
	}
	fmt.Fprintf(w, `<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#333"/>`+"\n", padL, padT, pw, ph)
	fmt.Fprintf(w, `<text x="%g" y="%g" text-anchor="middle">time (s)</text>`+"\n", padL+pw/2, svgH-14.0)
	fmt.Fprintf(w, `<text transform="translate(20 %g) rotate(-90)" text-anchor="middle">pods</text>`+"\n", padT+ph/2)
	fmt.Fprintf(w, `<text transform="translate(%g %g) rotate(90)" text-anchor="middle" fill="%s">%s</text>`+"\n", svgW-20.0, padT+ph/2, colStable, loadUnit)

	// Load: the trace's steps, per second, as a filled area (gaps for noData).
	var area strings.Builder
	inRun := false
	closeRun := func(s float64) {
		if inRun {
			fmt.Fprintf(&area, " L%.1f,%.1f Z", x(s), yLoad(0))
			inRun = false
		}
	}
	for s := 0; float64(s) < dur; s++ {
		c, r, ok := loadAt(tr, time.Duration(s)*time.Second)
		v := c
		if rps {
			v = r
		}
		if !ok {
			closeRun(float64(s))
			continue
		}
		if !inRun {
			fmt.Fprintf(&area, " M%.1f,%.1f", x(float64(s)), yLoad(0))
			inRun = true
		}
		fmt.Fprintf(&area, " L%.1f,%.1f L%.1f,%.1f", x(float64(s)), yLoad(v), x(float64(s+1)), yLoad(v))
	}
	closeRun(dur)
	if area.Len() > 0 {
		fmt.Fprintf(w, `<path d="%s" fill="%s" fill-opacity="0.35" stroke="%s" stroke-width="1"/>`+"\n", area.String(), colLoad, colLoad)
	}

	// Tick series as step lines.
	step := func(val func(Tick) float64, y func(float64) float64, color, extra string, skip func(Tick) bool) {
		var b strings.Builder
		pen := false
		for i, t := range ticks {
			if skip != nil && skip(t) {
				pen = false
				continue
			}
			x0 := float64(t.Seconds)
			x1 := x0 + 2
			if i+1 < len(ticks) {
				x1 = float64(ticks[i+1].Seconds)
			}
			x1 = math.Min(x1, dur)
			cmd := "L"
			if !pen {
				cmd, pen = "M", true
			}
			fmt.Fprintf(&b, "%s%.1f,%.1f L%.1f,%.1f ", cmd, x(x0), y(val(t)), x(x1), y(val(t)))
		}
		if b.Len() > 0 {
			fmt.Fprintf(w, `<path d="%s" fill="none" stroke="%s" %s/>`+"\n", strings.TrimSpace(b.String()), color, extra)
		}
	}
	step(func(t Tick) float64 { return stableOf(t, rps) }, yLoad, colStable, `stroke-width="1.5" stroke-dasharray="2 3"`, func(t Tick) bool { return !t.Valid })
	step(func(t Tick) float64 { return float64(t.ReadyPods) }, yPods, colReady, `stroke-width="2"`, nil)
	step(func(t Tick) float64 { return float64(t.Scale) }, yPods, colScale, `stroke-width="3" stroke-opacity="0.85"`, nil)
	step(func(t Tick) float64 { return float64(t.Desired) }, yPods, colDesired, `stroke-width="2" stroke-dasharray="6 4"`, func(t Tick) bool { return t.Desired < 0 })

	// Revision state strip along the top: activating and inactive periods
	// (inactive = activator in the path, waiting out the grace period or at 0).
	for i, t := range ticks {
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
		end := float64(t.Seconds) + 2
		if i+1 < len(ticks) {
			end = float64(ticks[i+1].Seconds)
		}
		end = math.Min(end, dur)
		fmt.Fprintf(w, `<rect x="%.1f" y="%g" width="%.1f" height="6" fill="%s"/>`+"\n",
			x(float64(t.Seconds)), padT, math.Max(x(end)-x(float64(t.Seconds)), 0.5), col)
	}

	// Invalid ticks (no data): small marks under the axis.
	for _, t := range ticks {
		if !t.Valid {
			fmt.Fprintf(w, `<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="#b71c1c" stroke-width="2"/>`+"\n",
				x(float64(t.Seconds)), padT+ph-6, x(float64(t.Seconds)), padT+ph)
		}
	}

	// Legend.
	type item struct{ label, color, kind string }
	items := []item{
		{"load (" + loadName + ", right axis)", colLoad, "area"},
		{"stable average (right axis)", colStable, "dots"},
		{"desired (decider)", colDesired, "dash"},
		{"scale (applied)", colScale, "thick"},
		{"ready pods", colReady, "line"},
		{"panic", colPanic, "area"},
		{"no data", "#b71c1c", "mark"},
		{"state: activating", colActivating, "area"},
		{"state: inactive", colInactive, "area"},
	}
	lx, ly := padL, 58.0
	for _, it := range items {
		if wdt := 30 + 6.3*float64(len(it.label)); lx+wdt > svgW-padR+40 {
			lx, ly = padL, ly+16
		}
		switch it.kind {
		case "area":
			fmt.Fprintf(w, `<rect x="%g" y="%g" width="18" height="10" fill="%s" fill-opacity="0.6"/>`, lx, ly-5, it.color)
		case "mark":
			fmt.Fprintf(w, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="%s" stroke-width="2"/>`, lx+9, ly-5, lx+9, ly+5, it.color)
		default:
			dash := map[string]string{"dots": `stroke-dasharray="2 3"`, "dash": `stroke-dasharray="6 4"`, "thick": `stroke-width="3"`, "line": `stroke-width="2"`}[it.kind]
			fmt.Fprintf(w, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="%s" %s/>`, lx, ly, lx+18, ly, it.color, dash)
		}
		fmt.Fprintf(w, `<text x="%g" y="%g" dominant-baseline="middle">%s</text>`+"\n", lx+23, ly, html.EscapeString(it.label))
		lx += 30 + 6.3*float64(len(it.label))
	}
	fmt.Fprintln(w, `</svg>`)
	return w.Flush()
}

func stableOf(t Tick, rps bool) float64 {
	if rps {
		return t.StableRPS
	}
	return t.StableConcurrency
}
