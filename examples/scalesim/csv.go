package main

import (
	"encoding/csv"
	"io"
	"strconv"
)

// writeCSV writes one row per tick with a header; at is in seconds.
func writeCSV(w io.Writer, ticks []Tick) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"at_seconds", "readyPods", "stableConcurrency", "panicConcurrency",
		"stableRPS", "panicRPS", "desired", "excessBurstCapacity", "panic", "scale", "valid", "state", "activatorInPath"})
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	i := func(v int32) string { return strconv.Itoa(int(v)) }
	for _, t := range ticks {
		_ = cw.Write([]string{strconv.Itoa(t.Seconds), i(t.ReadyPods), f(t.StableConcurrency), f(t.PanicConcurrency),
			f(t.StableRPS), f(t.PanicRPS), i(t.Desired), i(t.ExcessBurstCapacity), strconv.FormatBool(t.Panic),
			i(t.Scale), strconv.FormatBool(t.Valid), t.State.String(), strconv.FormatBool(t.ActivatorInPath)})
	}
	cw.Flush()
	return cw.Error()
}
