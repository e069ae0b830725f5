package route

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// t0 is the fixed epoch of every rollout test.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func revs(kv ...any) []RevisionRollout {
	var out []RevisionRollout
	for i := 0; i < len(kv); i += 2 {
		out = append(out, RevisionRollout{RevisionName: kv[i].(string), Percent: kv[i+1].(int)})
	}
	return out
}

// one builds a Rollout with a single default-tag configuration "cfg".
func one(p int, params RolloutParams, rr ...RevisionRollout) *Rollout {
	return &Rollout{Configurations: []ConfigurationRollout{{ConfigurationName: "cfg", Percent: p, Revisions: rr, StepParams: params}}}
}

func goal(rev string, p int) *Rollout {
	return one(p, RolloutParams{}, RevisionRollout{RevisionName: rev, Percent: p})
}

func TestObserveReady(t *testing.T) {
	// The reference's TestObserveReady examples, rollout duration 120 s.
	tests := []struct {
		name  string
		p     int
		took  time.Duration
		want  RolloutParams
		steps int
	}{{
		name: "first step took 1.98µs",
		p:    100, took: 1980 * time.Nanosecond,
		// minStep 1 s, 119 s left, 99 steps of 1% every 119/99 s.
		want: RolloutParams{StepSize: 1, StepDuration: 1_202_020_202},
	}, {
		name: "first step took 2.4s",
		p:    100, took: 2400 * time.Millisecond,
		// minStep 3 s, 117 s left, 39 steps: round(99/39) = 3% every 3 s.
		want: RolloutParams{StepSize: 3, StepDuration: 3 * int64(time.Second)},
	}, {
		name: "2.4s at 75%",
		p:    75, took: 2400 * time.Millisecond,
		want: RolloutParams{StepSize: 2, StepDuration: 3 * int64(time.Second)},
	}, {
		name: "2.4s at 50%",
		p:    50, took: 2400 * time.Millisecond,
		want: RolloutParams{StepSize: 1, StepDuration: 3 * int64(time.Second)},
	}, {
		name: "first step took longer than the whole rollout",
		p:    100, took: 150 * time.Second,
		want: RolloutParams{StepSize: 99, StepDuration: int64(time.Second)},
	}, {
		name: "few percent: one step per percent",
		p:    5, took: time.Second,
		// 119 s left but only 4% to move: 4 steps of 1% every 29.75 s.
		want: RolloutParams{StepSize: 1, StepDuration: 29_750_000_000},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ro := one(tc.p, RolloutParams{StartTime: t0.UnixNano()}, revs("old", tc.p-1, "new", 1)...)
			now := t0.Add(tc.took)
			ro.ObserveReady(now, 120*time.Second)
			want := tc.want
			want.StartTime = t0.UnixNano()
			want.NextStepTime = now.UnixNano() + want.StepDuration
			got := ro.Configurations[0].StepParams
			// Knative adds in float64 nanoseconds, which rounds to 256 ns at
			// today's Unix times; we keep that arithmetic.
			if d := got.NextStepTime - want.NextStepTime; d > -1000 && d < 1000 {
				got.NextStepTime = want.NextStepTime
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("StepParams (-want +got):\n%s", diff)
			}
			// Only configs that started and have no step duration yet change.
			again := ro.Configurations[0].StepParams
			ro.ObserveReady(now.Add(time.Hour), 120*time.Second)
			if diff := cmp.Diff(again, ro.Configurations[0].StepParams); diff != "" {
				t.Errorf("second ObserveReady changed params (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRolloutStepTable drives one 120 s rollout from A to B through Advance
// on fixed instants, as a route reconciler would: the first 1% goes live
// 2.4 s after the rollout starts.
func TestRolloutStepTable(t *testing.T) {
	const dur = 120 * time.Second
	type row struct {
		at      time.Duration
		latest  string // the latest ready revision the traffic asks for
		applied bool   // the previous effective rollout is live
		want    []RevisionRollout
		next    time.Duration // -1: no timer
	}
	rows := []row{
		{at: 0, latest: "A", want: revs("A", 100), next: -1},
		{at: time.Second, latest: "B", want: revs("A", 99, "B", 1), next: -1},     // start: 1% at once, no timer yet
		{at: 2 * time.Second, latest: "B", want: revs("A", 99, "B", 1), next: -1}, // not live yet: nothing
		{at: 3400 * time.Millisecond, latest: "B", applied: true, want: revs("A", 99, "B", 1), next: 6400 * time.Millisecond},
		{at: 6399 * time.Millisecond, latest: "B", applied: true, want: revs("A", 99, "B", 1), next: 6400 * time.Millisecond},
		{at: 6400 * time.Millisecond, latest: "B", applied: true, want: revs("A", 96, "B", 4), next: 9400 * time.Millisecond},
		{at: 9400 * time.Millisecond, latest: "B", applied: true, want: revs("A", 93, "B", 7), next: 12400 * time.Millisecond},
		// A late reconcile moves one step only and restarts the timer from now.
		{at: 20 * time.Second, latest: "B", applied: true, want: revs("A", 90, "B", 10), next: 23 * time.Second},
	}
	var prev *Rollout
	for _, r := range rows {
		cur := goal(r.latest, 100)
		eff, next := Advance(cur, prev, dur, r.applied, at(r.at))
		if diff := cmp.Diff(r.want, eff.Configurations[0].Revisions); diff != "" {
			t.Fatalf("at %v: revisions (-want +got):\n%s", r.at, diff)
		}
		wantNext := time.Time{}
		if r.next >= 0 {
			wantNext = at(r.next)
		}
		if !next.Equal(wantNext) {
			t.Fatalf("at %v: next = %v, want %v", r.at, next, wantNext)
		}
		if got := eff.Done(); got != (len(r.want) < 2) {
			t.Fatalf("at %v: Done() = %v", r.at, got)
		}
		// Persist through the annotation form, as Knative does.
		if prev, _ = ParseRollout(eff.JSON()); prev == nil {
			t.Fatalf("at %v: state %s does not parse back", r.at, eff.JSON())
		}
	}
	// Run the rollout to its end, reconciling exactly when asked.
	now := at(23 * time.Second)
	steps := 0
	for {
		eff, next := Advance(goal("B", 100), prev, dur, true, now)
		steps++
		prev = eff
		if next.IsZero() {
			if diff := cmp.Diff(revs("B", 100), eff.Configurations[0].Revisions); diff != "" {
				t.Fatalf("final (-want +got):\n%s", diff)
			}
			if eff.Configurations[0].StepParams != (RolloutParams{}) {
				t.Fatalf("final StepParams = %+v, want cleared", eff.Configurations[0].StepParams)
			}
			break
		}
		if next.Sub(now) != 3*time.Second {
			t.Fatalf("step %d: interval %v, want 3s", steps, next.Sub(now))
		}
		now = next
	}
	// 10% after the late step, 3% per step: 30 more steps to 100%.
	if steps != 30 {
		t.Errorf("took %d more steps, want 30", steps)
	}
}

func TestRolloutFullOnSchedule(t *testing.T) {
	// Reconciling exactly on time, a 120 s rollout with 3% steps ends after
	// 33 steps, about 101 s after it started (Knative's rollout algorithm).
	ro, _ := Advance(goal("B", 100), goal("A", 100), 120*time.Second, true, t0)
	now := t0.Add(2400 * time.Millisecond)
	ro, next := Advance(goal("B", 100), ro, 120*time.Second, true, now)
	steps := 0
	for !next.IsZero() {
		now = next
		ro, next = Advance(goal("B", 100), ro, 120*time.Second, true, now)
		steps++
	}
	if steps != 33 || now.Sub(t0) != 101400*time.Millisecond {
		t.Errorf("finished after %d steps at +%v, want 33 steps at +1m41.4s", steps, now.Sub(t0))
	}
}

func TestRolloutStep(t *testing.T) {
	startTS := at(-time.Minute).UnixNano()
	running := RolloutParams{StartTime: startTS, StepDuration: int64(10 * time.Second), StepSize: 10, NextStepTime: at(0).UnixNano()}
	tests := []struct {
		name     string
		cur      *Rollout
		prev     *Rollout
		want     *Rollout
		wantNext time.Time
	}{{
		name: "no previous state: cur as is",
		cur:  goal("B", 100),
		prev: nil,
		want: goal("B", 100),
	}, {
		name: "steady state",
		cur:  goal("A", 100),
		prev: goal("A", 100),
		want: goal("A", 100),
	}, {
		name: "new revision takes 1%",
		cur:  goal("B", 100),
		prev: goal("A", 100),
		want: one(100, RolloutParams{StartTime: t0.UnixNano()}, revs("A", 99, "B", 1)...),
	}, {
		name: "new revision mid-rollout: 1% from the newest, timing reset",
		cur:  goal("C", 100),
		prev: one(100, running, revs("A", 95, "B", 5)...),
		want: one(100, RolloutParams{StartTime: t0.UnixNano()}, revs("A", 95, "B", 4, "C", 1)...),
	}, {
		name: "new revision while the newest has 1%: it drops out",
		cur:  goal("C", 100),
		prev: one(100, RolloutParams{StartTime: startTS}, revs("A", 99, "B", 1)...),
		want: one(100, RolloutParams{StartTime: t0.UnixNano()}, revs("A", 99, "C", 1)...),
	}, {
		name:     "due step moves from the second newest first",
		cur:      goal("C", 100),
		prev:     one(100, running, revs("A", 50, "B", 5, "C", 45)...),
		want:     one(100, RolloutParams{StartTime: startTS, StepDuration: running.StepDuration, StepSize: 10, NextStepTime: at(10 * time.Second).UnixNano()}, revs("A", 45, "C", 55)...),
		wantNext: at(10 * time.Second),
	}, {
		name:     "step not due yet",
		cur:      goal("B", 100),
		prev:     one(100, RolloutParams{StartTime: startTS, StepDuration: running.StepDuration, StepSize: 10, NextStepTime: at(time.Second).UnixNano()}, revs("A", 60, "B", 40)...),
		want:     one(100, RolloutParams{StartTime: startTS, StepDuration: running.StepDuration, StepSize: 10, NextStepTime: at(time.Second).UnixNano()}, revs("A", 60, "B", 40)...),
		wantNext: at(time.Second),
	}, {
		name: "last step clears the parameters",
		cur:  goal("B", 100),
		prev: one(100, running, revs("A", 7, "B", 93)...),
		want: one(100, RolloutParams{}, revs("B", 100)...),
	}, {
		name: "started but not observed: no stepping",
		cur:  goal("B", 100),
		prev: one(100, RolloutParams{StartTime: startTS}, revs("A", 99, "B", 1)...),
		want: one(100, RolloutParams{StartTime: startTS}, revs("A", 99, "B", 1)...),
	}, {
		name: "share grows: the newest revision gets the increase",
		cur:  goal("B", 80),
		prev: one(50, RolloutParams{StartTime: startTS}, revs("A", 40, "B", 10)...),
		want: one(80, RolloutParams{StartTime: startTS}, revs("A", 40, "B", 40)...),
	}, {
		name: "share shrinks: the oldest revisions give it up first",
		cur:  goal("C", 30),
		prev: one(60, RolloutParams{StartTime: startTS}, revs("A", 20, "B", 20, "C", 20)...),
		want: one(30, RolloutParams{StartTime: startTS}, revs("B", 10, "C", 20)...),
	}, {
		// Knative's own example: R1=40 R2=10 step 10 total 60 → total 15.
		name: "shrinks below the step size: newest capped at the share",
		cur:  goal("R2", 15),
		prev: one(50, RolloutParams{StartTime: startTS, StepDuration: running.StepDuration, StepSize: 10, NextStepTime: at(0).UnixNano()}, revs("R1", 40, "R2", 10)...),
		want: one(15, RolloutParams{}, revs("R2", 15)...),
	}, {
		name: "1% canary is never rolled out",
		cur:  goal("B", 1),
		prev: goal("A", 1),
		want: goal("B", 1),
	}, {
		name: "0% config is dropped",
		cur:  goal("B", 0),
		prev: goal("A", 100),
		want: &Rollout{},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prevJSON := ""
			if tc.prev != nil {
				prevJSON = tc.prev.JSON()
			}
			got, next := tc.cur.Step(tc.prev, t0)
			if diff := cmp.Diff(tc.want, got, cmpEmpty); diff != "" {
				t.Errorf("Step (-want +got):\n%s", diff)
			}
			if !next.Equal(tc.wantNext) {
				t.Errorf("next = %v, want %v", next, tc.wantNext)
			}
			if tc.prev != nil && tc.prev.JSON() != prevJSON {
				t.Errorf("Step modified prev: %s -> %s", prevJSON, tc.prev.JSON())
			}
		})
	}
}

// cmpEmpty treats nil and empty slices alike.
var cmpEmpty = cmp.Transformer("emptyRollout", func(r *Rollout) []ConfigurationRollout {
	if r == nil || len(r.Configurations) == 0 {
		return nil
	}
	return r.Configurations
})

func TestRolloutStepTagsAndConfigs(t *testing.T) {
	cr := func(tag, cfg string, p int, params RolloutParams, rr ...RevisionRollout) ConfigurationRollout {
		return ConfigurationRollout{Tag: tag, ConfigurationName: cfg, Percent: p, Revisions: rr, StepParams: params}
	}
	start := RolloutParams{StartTime: t0.UnixNano()}
	cur := &Rollout{Configurations: []ConfigurationRollout{
		cr("", "a", 50, RolloutParams{}, revs("a-2", 50)...),    // new revision: rollout starts
		cr("", "b", 30, RolloutParams{}, revs("b-1", 30)...),    // new config: as is
		cr("", "d", 20, RolloutParams{}, revs("d-1", 20)...),    // unchanged
		cr("x", "a", 100, RolloutParams{}, revs("a-2", 100)...), // tag unchanged config, new revision
		cr("y", "a", 100, RolloutParams{}, revs("a-2", 100)...), // new tag: as is
	}}
	prev := &Rollout{Configurations: []ConfigurationRollout{
		cr("", "a", 50, RolloutParams{}, revs("a-1", 50)...),
		cr("", "c", 30, RolloutParams{}, revs("c-1", 30)...), // removed: dropped
		cr("", "d", 20, RolloutParams{}, revs("d-1", 20)...),
		cr("x", "a", 100, RolloutParams{}, revs("a-1", 100)...),
		cr("z", "a", 100, RolloutParams{}, revs("a-1", 100)...), // removed tag
	}}
	got, next := cur.Step(prev, t0)
	want := &Rollout{Configurations: []ConfigurationRollout{
		cr("", "a", 50, start, revs("a-1", 49, "a-2", 1)...),
		cr("", "b", 30, RolloutParams{}, revs("b-1", 30)...),
		cr("", "d", 20, RolloutParams{}, revs("d-1", 20)...),
		cr("x", "a", 100, start, revs("a-1", 99, "a-2", 1)...),
		cr("y", "a", 100, RolloutParams{}, revs("a-2", 100)...),
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Step (-want +got):\n%s", diff)
	}
	if !next.IsZero() {
		t.Errorf("next = %v, want zero (waiting for the first 1%% to go live)", next)
	}
}

func TestAdvanceWithoutDuration(t *testing.T) {
	got, next := Advance(goal("B", 100), goal("A", 100), 0, true, t0)
	if diff := cmp.Diff(goal("B", 100), got); diff != "" || !next.IsZero() {
		t.Errorf("Advance(duration 0) = %v, %v; want the goal at once (-want +got):\n%s", got, next, diff)
	}
}

func TestParseRollout(t *testing.T) {
	// The annotation as Knative writes it.
	const ann = `{"configurations":[{"configurationName":"hello","percent":100,"revisions":[{"revisionName":"hello-00001","percent":96},{"revisionName":"hello-00002","percent":4}],"stepParams":{"starttime":1700000000000000000,"nextStepTime":1700000006400000000,"stepDuration":3000000000,"stepSize":3}}]}`
	ro, err := ParseRollout(ann)
	if err != nil {
		t.Fatalf("ParseRollout() = %v", err)
	}
	if got := ro.JSON(); got != ann {
		t.Errorf("JSON() = %s\nwant %s", got, ann)
	}
	bad := []struct{ name, s, want string }{
		{"not JSON", "{", "route: rollout state"},
		{"over 100", `{"configurations":[{"configurationName":"c","percent":101,"revisions":[{"revisionName":"r","percent":101}]}]}`, "inconsistent"},
		{"revisions do not sum", `{"configurations":[{"configurationName":"c","percent":100,"revisions":[{"revisionName":"r","percent":90}]}]}`, "inconsistent"},
		{"step size over percent", `{"configurations":[{"configurationName":"c","percent":10,"revisions":[{"revisionName":"r","percent":10}],"stepParams":{"stepSize":11}}]}`, "inconsistent"},
		{"negative step", `{"configurations":[{"configurationName":"c","percent":10,"revisions":[{"revisionName":"r","percent":10}],"stepParams":{"stepSize":-1}}]}`, "inconsistent"},
		{"negative revision", `{"configurations":[{"configurationName":"c","percent":10,"revisions":[{"revisionName":"r","percent":20},{"revisionName":"s","percent":-10}]}]}`, "inconsistent"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			ro, err := ParseRollout(tc.s)
			if err == nil || ro != nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseRollout() = %v, %v; want nil and %q", ro, err, tc.want)
			}
		})
	}
}
