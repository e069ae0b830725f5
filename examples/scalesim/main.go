// Command scalesim replays a load trace through servekit's autoscaler
// (metric windows, KPA decider, scale bounds and scale to zero; or, for an
// HPA-class trace with a cpu column, the HPA's algorithm) exactly as the
// platform runs it, and prints every decision. It is a thin wrapper
// around package github.com/servekit/servekit/autoscaler/sim, whose doc
// specifies the trace format, the simulated clock and the output.
//
// Usage:
//
//	scalesim [-svg chart.svg] [-csv] [trace.json]
//
// The trace is read from the file argument or stdin. Output is one JSON
// object per decider tick (every 2 s) on stdout (sim.WriteJSONLines), or
// CSV with -csv (sim.WriteCSV); -svg also writes a chart of load, desired
// scale, applied scale and ready pods, with panic periods shaded
// (sim.WriteSVG). A malformed trace gets an error naming the field and
// nothing is printed.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/servekit/servekit/autoscaler/sim"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("scalesim", flag.ContinueOnError)
	svgPath := fs.String("svg", "", "also write an SVG chart to this `file`")
	asCSV := fs.Bool("csv", false, "print CSV instead of JSON lines")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: scalesim [-svg chart.svg] [-csv] [trace.json]  (stdin when no file)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return fmt.Errorf("scalesim: want at most one trace file, got %d", fs.NArg())
	}
	in := stdin
	name := "stdin"
	if fs.NArg() == 1 {
		f, err := os.Open(fs.Arg(0))
		if err != nil {
			return fmt.Errorf("scalesim: %w", err)
		}
		defer f.Close()
		in, name = f, fs.Arg(0)
	}
	tr, err := sim.DecodeTrace(in)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	ticks, err := sim.Simulate(tr)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(stdout)
	if *asCSV {
		err = sim.WriteCSV(w, ticks)
	} else {
		err = sim.WriteJSONLines(w, ticks)
	}
	if err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if *svgPath != "" {
		f, err := os.Create(*svgPath)
		if err != nil {
			return fmt.Errorf("scalesim: %w", err)
		}
		if err := sim.WriteSVG(f, tr, ticks, "scalesim: "+name); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	return nil
}
