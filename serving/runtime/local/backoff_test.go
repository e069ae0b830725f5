package local

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The restart back-off: RestartBackoff doubling per consecutive failure up to
// MaxRestartBackoff, which then stays; a fresh one starts over (supervise takes one
// after a process ran 10×MaxRestartBackoff).
func TestRestartBackoff(t *testing.T) {
	for _, tc := range []struct {
		name       string
		initial    time.Duration
		max        time.Duration
		steps      int
		wantPrefix []time.Duration
	}{{
		name: "defaults", initial: 250 * time.Millisecond, max: 10 * time.Second, steps: 9,
		wantPrefix: []time.Duration{
			250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second,
			4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second, 10 * time.Second,
		},
	}, {
		name: "initial above the cap waits once, then the cap", initial: 20 * time.Second, max: 10 * time.Second, steps: 3,
		wantPrefix: []time.Duration{20 * time.Second, 10 * time.Second, 10 * time.Second},
	}, {
		name: "equal", initial: time.Second, max: time.Second, steps: 3,
		wantPrefix: []time.Duration{time.Second, time.Second, time.Second},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Runtime{opts: Options{RestartBackoff: tc.initial, MaxRestartBackoff: tc.max}}
			b := r.restartBackoff()
			var got []time.Duration
			for range tc.steps {
				got = append(got, b.Step())
			}
			if diff := cmp.Diff(tc.wantPrefix, got); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
			fresh := r.restartBackoff()
			if again := fresh.Step(); again != tc.initial {
				t.Errorf("a fresh back-off waits %v first, want %v", again, tc.initial)
			}
		})
	}
}
