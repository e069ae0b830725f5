// Command scalesim replays a load trace through servekit's autoscaler
// (metric windows, KPA decider, scale bounds and scale to zero) exactly as
// the platform runs it, and prints every decision.
//
// Usage:
//
//	scalesim [-svg chart.svg] [-csv] [trace.json]
//
// The trace is read from the file argument or stdin. Output is one JSON
// object per decider tick (every 2 s) on stdout, or CSV with -csv; -svg also
// writes a chart of load, desired scale, applied scale and ready pods, with
// panic periods shaded.
//
// # Trace format
//
//	{
//	  "config":      {"stable-window": "60s", "...": "..."},
//	  "annotations": {"autoscaling.knative.dev/target": "10"},
//	  "containerConcurrency": 0,
//	  "duration":    "180s",
//	  "podStartup":  "3s",
//	  "samples": [
//	    {"at": "0s",  "concurrency": 0,  "rps": 0},
//	    {"at": "10s", "concurrency": 55, "rps": 120, "readyPods": 3},
//	    {"at": "90s", "noData": true}
//	  ]
//	}
//
// config, annotations and containerConcurrency are Knative's (absent →
// defaults). Samples are steps: each holds from its at until the next
// sample's at. concurrency and rps are revision totals for each second;
// noData records nothing. readyPods, when present, is the ready pod count
// the decider sees; otherwise pods follow the applied scale, each ready
// podStartup (default 0s) after it was asked for, leaving at once on scale
// down. t = 0 is the Unix epoch. The decider is created at t = 0 with the
// ready pods then (more than one starts it in panic, as in Knative). For
// every whole second t from 0 to duration the step in effect is recorded
// for second t, then, if t > 0 and t is even, the decider runs at now = t.
//
// Each output line looks like
//
//	{"at":"2s","readyPods":1,"stableConcurrency":10,"panicConcurrency":10,"stableRPS":0,"panicRPS":0,"desired":2,"excessBurstCapacity":-122,"panic":false,"scale":2,"valid":true}
//
// desired is the decider's DesiredPodCount, scale the replica count applied
// after bounds and scale-to-zero gating; valid is false when the decider
// had no data (ErrNoData) and kept its last decision.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
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
	tr, err := DecodeTrace(in)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	ticks, err := Simulate(tr)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(stdout)
	if *asCSV {
		err = writeCSV(w, ticks)
	} else {
		enc := json.NewEncoder(w)
		for _, t := range ticks {
			if err = enc.Encode(t); err != nil {
				break
			}
		}
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
		if err := writeSVG(f, tr, ticks, name); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	return nil
}
