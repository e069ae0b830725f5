package sim_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/servekit/servekit/autoscaler/sim"
)

// TestHPATrace replays testdata/hpa-cpu.json: target 80 % of the CPU
// request, 300 % of one pod's request from 50 s, nothing from 240 s, a
// silence at 400 s, then 20 %.
func TestHPATrace(t *testing.T) {
	ticks := simulate(t, loadTrace(t, "hpa-cpu.json"))
	if len(ticks) != 40 {
		t.Fatalf("%d ticks, want 40 (one per 15 s over 600 s)", len(ticks))
	}
	for _, tk := range ticks {
		if !tk.HPA {
			t.Fatalf("tick at %v is not an HPA tick", tk.At)
		}
		if tk.Scale < 1 {
			t.Errorf("tick at %v: scale %d: the HPA class never scales to zero", tk.At, tk.Scale)
		}
	}
	// 1 pod at 300 %: ceil(300/80) = 4 pods on the first tick after the rise.
	if got := first(ticks, func(tk sim.Tick) bool { return tk.Scale == 4 }); got != 60 {
		t.Errorf("scale first 4 at %ds, want 60s", got)
	}
	// 4 pods at 75 %: within the tolerance of 80 %, so they stay.
	if tk := ticks[4]; tk.ReadyPods != 4 || tk.CPU != 75 || tk.Desired != 4 {
		t.Errorf("tick at 75s: %+v, want 4 ready pods at 75 %% recommending 4", tk)
	}
	// Idle from 240 s: the recommendation drops at once, the scale holds
	// for the 300 s down window after the last recommendation of 4 (225 s;
	// the silent tick at 405 s records nothing).
	if got := first(ticks, func(tk sim.Tick) bool { return tk.At >= 60*time.Second && tk.Desired < 4 }); got != 240 {
		t.Errorf("recommendation first below 4 at %ds, want 240s", got)
	}
	if got := last(ticks, func(tk sim.Tick) bool { return tk.Scale == 4 }); got != 510 {
		t.Errorf("scale last 4 at %ds, want 510s", got)
	}
	if got := first(ticks, func(tk sim.Tick) bool { return !tk.Valid }); got != 405 {
		t.Errorf("first invalid tick at %ds, want 405s", got)
	}
	if got := ticks[len(ticks)-1]; got.Scale != 1 || got.CPU != 20 {
		t.Errorf("last tick %+v, want 1 pod at 20 %%", got)
	}

	var out bytes.Buffer
	if err := sim.WriteCSV(&out, ticks); err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(out.String(), "\n")
	if !strings.HasSuffix(rows[0], ",activatorInPath,cpu") || rows[4] != "60,1,0,0,0,0,4,0,false,4,true,,false,300" {
		t.Errorf("CSV header %q, row at 60s %q", rows[0], rows[4])
	}
	out.Reset()
	if err := sim.WriteJSONLines(&out, ticks[:1]); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"cpu":40}`) {
		t.Errorf("JSON %s has no cpu", out.String())
	}
	if err := sim.WriteSVG(&out, loadTrace(t, "hpa-cpu.json"), ticks, "hpa"); err != nil || !strings.Contains(out.String(), "CPU") {
		t.Errorf("SVG: %v, CPU axis present: %v", err, strings.Contains(out.String(), "CPU"))
	}
}

func TestHPATraceErrors(t *testing.T) {
	const hpaAnn = `"annotations": {"autoscaling.knative.dev/class": "hpa.autoscaling.knative.dev"}`
	for _, tc := range []struct {
		name, trace, want string
	}{
		{"cpu in a KPA trace", `{"duration": "60s", "samples": [{"at": "0s", "cpu": 10}]}`, "sim: samples[0].cpu: cpu drives only an HPA-class trace"},
		{"concurrency in an HPA trace", `{` + hpaAnn + `, "duration": "60s", "samples": [{"at": "0s", "concurrency": 10}]}`, "sim: samples[0].concurrency:"},
		{"rps in an HPA trace", `{` + hpaAnn + `, "duration": "60s", "samples": [{"at": "0s", "rps": 10}]}`, "sim: samples[0].rps:"},
		{"negative cpu", `{` + hpaAnn + `, "duration": "60s", "samples": [{"at": "0s", "cpu": -1}]}`, "sim: samples[0].cpu: -1 must be in"},
		{"cpu with noData", `{` + hpaAnn + `, "duration": "60s", "samples": [{"at": "0s", "cpu": 1, "noData": true}]}`, "sim: samples[0].noData:"},
		{"memory metric", `{"annotations": {"autoscaling.knative.dev/class": "hpa.autoscaling.knative.dev", "autoscaling.knative.dev/metric": "memory", "autoscaling.knative.dev/target": "100"}, "duration": "60s"}`, `sim: annotations: metric "memory"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sim.DecodeTrace(strings.NewReader(tc.trace))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("DecodeTrace = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
