package autoscaler

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/types"
)

// rstep is one reconcile of a Bounds step script.
type rstep struct {
	at      float64
	desired int32
	ebc     int32
	ready   int32
	want    ScaleResult
}

func runBounds(t *testing.T, b *Bounds, steps []rstep) {
	t.Helper()
	for _, s := range steps {
		got := b.Reconcile(sec(s.at), Status{DesiredScale: s.desired, ExcessBurstCapacity: s.ebc}, s.ready)
		if diff := cmp.Diff(s.want, got); diff != "" {
			t.Errorf("t=%vs desired=%d ready=%d (-want +got):\n%s", s.at, s.desired, s.ready, diff)
		}
	}
}

// res builds a ScaleResult with 2 activators (TBC 0).
func res(replicas, want int32, st State, proxy bool, requeue time.Duration) ScaleResult {
	return ScaleResult{Replicas: replicas, Want: want, State: st, ActivatorInPath: proxy, Activators: 2, RequeueAfter: requeue}
}

var tbc0 = map[string]string{AnnotationTargetBurstCapacity: "0"}

func TestBoundsLifecycleToZero(t *testing.T) {
	// TBC 0: the activator enters the path only when want is 0, so the
	// last pod waits out the whole grace period after going inactive.
	b := NewBounds(mustSpec(t, nil, tbc0, 0), epoch)
	runBounds(t, b, []rstep{
		{at: 0, desired: -1, ready: 0, want: res(1, -1, StateActivating, false, 630*time.Second)},
		{at: 2, desired: -1, ready: 1, want: res(1, -1, StateActive, false, 0)},
		{at: 4, desired: 1, ready: 1, want: res(1, 1, StateActive, false, 0)},
		// Idle but active for only 8 s of the 60 s stable window: keep 1.
		{at: 10, desired: 0, ready: 1, want: res(1, 1, StateActive, false, 52*time.Second)},
		// Active for 60 s: want 0 marks it inactive, activator in path, pod kept.
		{at: 62, desired: 0, ready: 1, want: res(1, 0, StateInactive, true, 30*time.Second)},
		{at: 90, desired: 0, ready: 1, want: res(1, 0, StateInactive, true, 2*time.Second)},
		// Inactive (and proxied) for the 30 s grace period: scale to 0.
		{at: 92, desired: 0, ready: 1, want: res(0, 0, StateInactive, true, 0)},
		// Scale from zero: a decision of 1 activates.
		{at: 94, desired: 1, ready: 0, want: res(1, 1, StateActivating, false, 0)},
		{at: 96, desired: 1, ready: 1, want: res(1, 1, StateActive, false, 0)},
	})
}

func TestBoundsFastPathWhenActivatorAlreadyInPath(t *testing.T) {
	// Default TBC 211 with one pod: EBC < 0 keeps the activator in the path,
	// so going inactive scales to zero at once (the PA re-reconciles on
	// its own status change).
	b := NewBounds(mustSpec(t, nil, nil, 0), epoch)
	act := func(replicas, want int32, st State, requeue time.Duration) ScaleResult {
		return ScaleResult{Replicas: replicas, Want: want, State: st, ActivatorInPath: true, Activators: 4, RequeueAfter: requeue}
	}
	runBounds(t, b, []rstep{
		{at: 0, desired: 1, ebc: -111, ready: 1, want: ScaleResult{Replicas: 1, Want: 1, State: StateActive, ActivatorInPath: true, Activators: 4}},
		{at: 58, desired: 0, ebc: -111, ready: 1, want: act(1, 1, StateActive, 2*time.Second)},
		{at: 60, desired: 0, ebc: -111, ready: 1, want: act(0, 0, StateInactive, 0)},
	})
}

func TestBoundsRetention(t *testing.T) {
	tests := []struct {
		name      string
		reachable bool
		steps     []rstep
	}{{
		name:      "retention longer than grace holds the last pod",
		reachable: true,
		steps: []rstep{
			{at: 0, desired: 1, ebc: -1, ready: 1, want: res(1, 1, StateActive, true, 0)},
			{at: 60, desired: 0, ebc: -1, ready: 1, want: res(1, 0, StateInactive, true, 90*time.Second)},
			{at: 120, desired: 0, ebc: -1, ready: 1, want: res(1, 0, StateInactive, true, 30*time.Second)},
			{at: 150, desired: 0, ebc: -1, ready: 1, want: res(0, 0, StateInactive, true, 0)},
		},
	}, {
		name:      "unreachable revisions ignore retention",
		reachable: false,
		steps: []rstep{
			{at: 0, desired: 1, ebc: -1, ready: 1, want: res(1, 1, StateActive, true, 0)},
			{at: 60, desired: 0, ebc: -1, ready: 1, want: res(0, 0, StateInactive, true, 0)},
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mustSpec(t, nil, map[string]string{AnnotationTargetBurstCapacity: "0",
				AnnotationScaleToZeroPodRetention: "90s"}, 0)
			s.Reachable = tc.reachable
			runBounds(t, NewBounds(s, epoch), tc.steps)
		})
	}
}

func TestBoundsScaleBounds(t *testing.T) {
	tests := []struct {
		name  string
		cfg   map[string]string
		ann   map[string]string
		unrch bool
		steps []rstep
	}{{
		name: "max-scale caps",
		ann:  map[string]string{AnnotationTargetBurstCapacity: "0", AnnotationMaxScale: "3"},
		steps: []rstep{
			{at: 0, desired: 7, ready: 1, want: res(3, 3, StateActive, false, 0)},
		},
	}, {
		name: "min-scale floors, never reaches zero",
		ann:  map[string]string{AnnotationTargetBurstCapacity: "0", AnnotationMinScale: "2"},
		steps: []rstep{
			{at: 0, desired: 0, ready: 0, want: res(2, 2, StateActivating, false, 0)},
			{at: 2, desired: 0, ready: 2, want: res(2, 2, StateActive, false, 0)},
			{at: 100, desired: 0, ready: 2, want: res(2, 2, StateActive, false, 0)},
		},
	}, {
		// Surprise 15, first half: min-scale is ignored for unreachable revisions.
		name:  "unreachable ignores min-scale",
		ann:   map[string]string{AnnotationTargetBurstCapacity: "0", AnnotationMinScale: "2"},
		unrch: true,
		steps: []rstep{
			{at: 0, desired: 1, ready: 1, want: res(1, 1, StateActive, false, 0)},
			{at: 60, desired: 0, ready: 1, want: res(1, 0, StateInactive, true, 30*time.Second)},
		},
	}, {
		name: "enable-scale-to-zero false turns 0 into 1",
		cfg:  map[string]string{"enable-scale-to-zero": "false"},
		ann:  tbc0,
		steps: []rstep{
			{at: 0, desired: 1, ready: 1, want: res(1, 1, StateActive, false, 0)},
			{at: 600, desired: 0, ready: 1, want: res(1, 1, StateActive, false, 0)},
		},
	}, {
		// Surprise 15, second half: initial-scale applies only until the
		// target first reached it.
		name: "initial-scale is a floor until initialised",
		ann:  map[string]string{AnnotationTargetBurstCapacity: "0", AnnotationInitialScale: "3"},
		steps: []rstep{
			// No decision yet while activating: the floor applies to -1 too.
			{at: 0, desired: -1, ready: 0, want: res(3, 3, StateActivating, false, 0)},
			{at: 2, desired: 1, ready: 2, want: res(3, 3, StateActivating, false, 0)},
			// Reaching 3 ready initialises the target; the re-reconcile
			// triggered by that status change drops the floor at once.
			{at: 4, desired: 1, ready: 3, want: res(1, 1, StateActive, false, 0)},
			{at: 6, desired: 1, ready: 3, want: res(1, 1, StateActive, false, 0)},
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mustSpec(t, tc.cfg, tc.ann, 0)
			s.Reachable = !tc.unrch
			runBounds(t, NewBounds(s, epoch), tc.steps)
		})
	}
}

func TestBoundsActivationTimeout(t *testing.T) {
	s := mustSpec(t, nil, map[string]string{AnnotationTargetBurstCapacity: "0", AnnotationProgressDeadline: "10s"}, 0)
	runBounds(t, NewBounds(s, epoch), []rstep{
		{at: 0, desired: 1, ready: 0, want: res(1, 1, StateActivating, false, 0)},
		{at: 2, desired: 0, ready: 0, want: res(1, -1, StateActivating, false, 38*time.Second)},
		{at: 40, desired: 0, ready: 0, want: res(1, -1, StateActivating, false, 0)},
		// Stuck activating past 10 s + 30 s: scale to 0 and go inactive.
		{at: 42, desired: 0, ready: 0, want: res(0, 0, StateInactive, true, 30*time.Second)},
	})
}

func TestBoundsUnknownWhileInactiveKeepsActivator(t *testing.T) {
	// want -1 (autoscaler restart) and inactive → activator in path.
	b := NewBounds(mustSpec(t, nil, tbc0, 0), epoch)
	runBounds(t, b, []rstep{
		{at: 0, desired: 1, ready: 1, want: res(1, 1, StateActive, false, 0)},
		{at: 60, desired: 0, ready: 1, want: res(1, 0, StateInactive, true, 30*time.Second)},
		{at: 62, desired: -1, ready: 1, want: res(1, -1, StateInactive, true, 0)},
	})
}

func TestBoundsActivators(t *testing.T) {
	tests := []struct {
		name  string
		ann   map[string]string
		ready int32
		want  int32
	}{
		{"ceil((3×100 + 211) / 100)", nil, 3, 6},
		{"no pods: ceil(211/100)", nil, 0, 3},
		{"TBC 0: always 2", tbc0, 30, 2},
		{"TBC -1: ceil(ready × total / capacity), at least 2", map[string]string{AnnotationTargetBurstCapacity: "-1"}, 5, 5},
		{"at least 2", map[string]string{AnnotationTargetBurstCapacity: "-1"}, 1, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBounds(mustSpec(t, nil, tc.ann, 0), epoch)
			if got := b.Reconcile(epoch, Status{DesiredScale: 1}, tc.ready).Activators; got != tc.want {
				t.Errorf("Activators = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestBoundsInitialScaleAboveMaxScale: initial-scale 100000 under max-scale
// 8 (an annotation, or the config's cluster default) starts 8 pods, not
// 100000, and 8 ready pods activate the revision (issue 17 case 7).
func TestBoundsInitialScaleAboveMaxScale(t *testing.T) {
	tests := []struct {
		name string
		cfg  map[string]string
		ann  map[string]string
	}{
		{"max-scale annotation", nil, map[string]string{AnnotationTargetBurstCapacity: "0", AnnotationInitialScale: "100000", AnnotationMaxScale: "8"}},
		{"config max-scale", map[string]string{"max-scale": "8"}, map[string]string{AnnotationTargetBurstCapacity: "0", AnnotationInitialScale: "100000"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mustSpec(t, tc.cfg, tc.ann, 0)
			if s.InitialScale != 8 || s.InitialScaleClampedFrom != 100000 {
				t.Errorf("spec: InitialScale %d, InitialScaleClampedFrom %d; want 8, 100000", s.InitialScale, s.InitialScaleClampedFrom)
			}
			// A hand-built spec is bounded by Bounds too.
			s.InitialScale, s.InitialScaleClampedFrom = 100000, 0
			if got := s.BoundedInitialScale(); got != 8 {
				t.Errorf("BoundedInitialScale() = %d, want 8", got)
			}
			b := NewBounds(s, epoch)
			if got := b.Replicas(); got != 8 {
				t.Errorf("NewBounds: Replicas() = %d, want 8 (max-scale)", got)
			}
			runBounds(t, b, []rstep{
				{at: 0, desired: -1, ready: 0, want: res(8, 8, StateActivating, false, 0)},
				{at: 2, desired: 100, ready: 4, want: res(8, 8, StateActivating, false, 0)},
				// 8 ready is the whole initial scale: active, and the floor goes.
				{at: 4, desired: 2, ready: 8, want: res(2, 2, StateActive, false, 0)},
			})
		})
	}
	// Below max-scale, or with no max-scale, initial-scale is kept.
	if got := mustSpec(t, nil, map[string]string{AnnotationInitialScale: "5", AnnotationMaxScale: "8"}, 0).BoundedInitialScale(); got != 5 {
		t.Errorf("initial 5, max 8: BoundedInitialScale() = %d, want 5", got)
	}
	if got := mustSpec(t, nil, map[string]string{AnnotationInitialScale: "50"}, 0).BoundedInitialScale(); got != 50 {
		t.Errorf("initial 50, no max: BoundedInitialScale() = %d, want 50", got)
	}
}

// TestInitialScaleClampIsLogged: the reason initial-scale 100000 starts at
// max-scale is visible: the MultiScaler logs a WARN naming both values when it
// takes the revision on.
func TestInitialScaleClampIsLogged(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	ms, _, _, _ := newTestScaler(t, Options{Logger: log})
	key := types.NamespacedName{Namespace: "default", Name: "big-00001"}
	ms.Set(key, mustSpec(t, nil, map[string]string{AnnotationInitialScale: "100000", AnnotationMaxScale: "8"}, 0))
	for _, want := range []string{"level=WARN", "initial-scale is above max-scale", "revision=default/big-00001", "initialScale=100000", "maxScale=8"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log %q does not contain %q", buf.String(), want)
		}
	}
	buf.Reset()
	ms.Set(types.NamespacedName{Namespace: "default", Name: "small-00001"}, mustSpec(t, nil, map[string]string{AnnotationInitialScale: "3", AnnotationMaxScale: "8"}, 0))
	if buf.Len() != 0 {
		t.Errorf("initial-scale within max-scale logged %q, want nothing", buf.String())
	}
}
