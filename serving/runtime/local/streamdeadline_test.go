package local

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// TestSetDrainStreamDeadline: Options.DrainStreamDeadline reaches the front of each
// revision applied, SetDrainStreamDeadline (what the platform calls when
// config-deployment changes) applies to the revisions applied from then on and not
// to those before, and a leaving pod's drain is bounded by the longer of the
// revision timeout and the stream deadline.
func TestSetDrainStreamDeadline(t *testing.T) {
	r, err := New(Options{NewFront: newTestFront, DrainStreamDeadline: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	timeout := int64(2)
	apply := func(name string) *revision {
		t.Helper()
		rev := testRevision(name, helperContainer("serve"))
		rev.Spec.TimeoutSeconds = &timeout
		if err := r.Apply(rev); err != nil {
			t.Fatal(err)
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.mu.revs[types.NamespacedName{Namespace: "default", Name: name}]
	}
	before := apply("before")
	r.SetDrainStreamDeadline(7 * time.Second)
	after := apply("after")
	r.SetDrainStreamDeadline(0)
	unset := apply("unset")
	for _, tc := range []struct {
		rev  *revision
		want time.Duration
	}{{before, 5 * time.Second}, {after, 7 * time.Second}, {unset, 0}} {
		if got := tc.rev.spec.front.DrainStreamDeadline; got != tc.want {
			t.Errorf("revision %s: the front's DrainStreamDeadline = %v, want %v", tc.rev.key.Name, got, tc.want)
		}
		p := &pod{r: r, rev: tc.rev}
		dctx, cancel := p.drainContext(t.Context())
		dl, _ := dctx.Deadline()
		cancel()
		want := max(2*time.Second, tc.want) + streamCloseGrace
		if left := time.Until(dl); left > want || left < want-time.Second {
			t.Errorf("revision %s: drain bound %v, want %v", tc.rev.key.Name, left.Round(time.Millisecond), want)
		}
	}
}
