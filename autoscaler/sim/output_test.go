package sim_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/servekit/servekit/autoscaler"
	"github.com/servekit/servekit/autoscaler/sim"
)

func TestTickJSON(t *testing.T) {
	tk := sim.Tick{At: 60 * time.Second, ReadyPods: 3, StableConcurrency: 2.5, PanicConcurrency: 4, StableRPS: 1, PanicRPS: 2,
		Desired: 4, ExcessBurstCapacity: -7, Panic: true, Scale: 4, Valid: true, State: autoscaler.StateInactive, ActivatorInPath: true}
	b, err := json.Marshal(tk)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"at":"60s","readyPods":3,"stableConcurrency":2.5,"panicConcurrency":4,"stableRPS":1,"panicRPS":2,"desired":4,"excessBurstCapacity":-7,"panic":true,"scale":4,"valid":true}`
	if string(b) != want {
		t.Errorf("Marshal\n got %s\nwant %s", b, want)
	}
	var back sim.Tick
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	tk.State, tk.ActivatorInPath = 0, false // not in the JSON form
	if diff := cmp.Diff(tk, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if err := json.Unmarshal([]byte(`{"at":"soon"}`), &back); err == nil || !strings.Contains(err.Error(), "sim: tick at") {
		t.Errorf("bad at: err = %v", err)
	}
}

func TestWriteCSV(t *testing.T) {
	ticks := simulate(t, loadTrace(t, "drain-to-zero.json"))
	var out bytes.Buffer
	if err := sim.WriteCSV(&out, ticks); err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(rows) != len(ticks)+1 {
		t.Fatalf("%d rows for %d ticks", len(rows), len(ticks))
	}
	if want := "at_seconds,readyPods,stableConcurrency,panicConcurrency,stableRPS,panicRPS,desired,excessBurstCapacity,panic,scale,valid,state,activatorInPath"; rows[0] != want {
		t.Errorf("header %q", rows[0])
	}
	// At 120 s the last pod has gone: inactive, activator in the path.
	if want := "120,1,0,0,0,0,0,"; !strings.HasPrefix(rows[60], want) || !strings.HasSuffix(rows[60], ",false,0,true,inactive,true") {
		t.Errorf("row at 120 s: %q", rows[60])
	}
}

type failWriter struct{}

var errWrite = errors.New("disk full")

func (failWriter) Write([]byte) (int, error) { return 0, errWrite }

func TestWritersReportErrors(t *testing.T) {
	tr := loadTrace(t, "steady.json")
	ticks := simulate(t, tr)
	for name, write := range map[string]func() error{
		"WriteJSONLines": func() error { return sim.WriteJSONLines(failWriter{}, ticks) },
		"WriteCSV":       func() error { return sim.WriteCSV(failWriter{}, ticks) },
		"WriteSVG":       func() error { return sim.WriteSVG(failWriter{}, tr, ticks, "steady") },
	} {
		if err := write(); !errors.Is(err, errWrite) {
			t.Errorf("%s: err = %v, want %v", name, err, errWrite)
		}
	}
}

func TestWriteSVG(t *testing.T) {
	tr := loadTrace(t, "burst.json")
	var out bytes.Buffer
	if err := sim.WriteSVG(&out, tr, simulate(t, tr), "burst <&>"); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"<svg", "burst &lt;&amp;&gt;", "time (s)", "pods", "concurrency (in-flight requests",
		"target 10 concurrency/pod, stable window 60s, panic window 6s", "scale (applied)", "desired (decider)", "ready pods",
		`fill="#ffcdd2"`, "</svg>\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}

	// The rps metric charts requests per second; noData leaves a gap and
	// marks the invalid ticks.
	tr, err := sim.DecodeTrace(strings.NewReader(`{"annotations":{"autoscaling.knative.dev/metric":"rps","autoscaling.knative.dev/target":"50"},
		"config":{"stable-window":"10s"},"duration":"40s","samples":[{"at":"0s","rps":100},{"at":"10s","noData":true},{"at":"30s","rps":20}]}`))
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := sim.WriteSVG(&out, tr, simulate(t, tr), "rps"); err != nil {
		t.Fatal(err)
	}
	s = out.String()
	for _, want := range []string{"requests per second (revision total)", "load (requests/s, right axis)", `stroke="#b71c1c" stroke-width="2"/>`} {
		if !strings.Contains(s, want) {
			t.Errorf("rps SVG lacks %q", want)
		}
	}
	if n := strings.Count(s, " Z"); n != 2 {
		t.Errorf("load area has %d runs, want 2 (a gap for noData)", n)
	}

	if err := sim.WriteSVG(&out, &sim.Trace{}, nil, "empty"); err == nil || !strings.Contains(err.Error(), "sim: duration") {
		t.Errorf("invalid trace: err = %v", err)
	}
}
