package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testdata holds the shipped traces, next to the package that simulates
// them.
var testdata = filepath.Join("..", "..", "autoscaler", "sim", "testdata")

func TestRunOutput(t *testing.T) {
	dir := t.TempDir()
	svg := filepath.Join(dir, "out.svg")
	var out bytes.Buffer
	if err := run([]string{"-svg", svg, filepath.Join(testdata, "burst.json")}, nil, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 90 {
		t.Errorf("%d lines, want 90 (one per 2 s tick up to 180 s)", len(lines))
	}
	wantFirst := `{"at":"2s","readyPods":0,"stableConcurrency":5,"panicConcurrency":5,"stableRPS":10,"panicRPS":10,"desired":1,"excessBurstCapacity":-216,"panic":false,"scale":1,"valid":true}`
	if lines[0] != wantFirst {
		t.Errorf("first line\n got %s\nwant %s", lines[0], wantFirst)
	}
	var keys []string
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(lines[14]), &m); err != nil {
		t.Fatal(err)
	}
	for k := range m {
		keys = append(keys, k)
	}
	if len(keys) != 11 {
		t.Errorf("line has fields %v, want the 11 of the format", keys)
	}
	b, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{"<svg", "time (s)", "pods", "concurrency (in-flight requests", "scale (applied)", "desired (decider)", "ready pods", `fill="#ffcdd2"`, "</svg>"} {
		if !strings.Contains(s, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}

	// stdin and CSV.
	f, err := os.Open(filepath.Join(testdata, "steady.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out.Reset()
	if err := run([]string{"-csv"}, f, &out); err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(rows) != 61 || !strings.HasPrefix(rows[0], "at_seconds,readyPods,") || !strings.HasPrefix(rows[1], "2,1,30,30,60,60,3,") {
		t.Errorf("CSV: %d rows, header %q, first %q", len(rows), rows[0], rows[1])
	}
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		name, in string
		args     []string
		want     string
	}{
		{"malformed trace", `{"duration":"10s","samples":[{"at":"11s"}]}`, nil, "stdin: sim: samples[0].at"},
		{"not JSON", `{`, nil, "stdin: sim: trace"},
		{"two files", ``, []string{"a.json", "b.json"}, "want at most one trace file, got 2"},
		{"missing file", ``, []string{filepath.Join(t.TempDir(), "none.json")}, "scalesim: open"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(tc.args, strings.NewReader(tc.in), &out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
			if out.Len() != 0 {
				t.Errorf("printed %q; want nothing", out.String())
			}
		})
	}
}
