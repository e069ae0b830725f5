package store

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/runtime"
)

func cond(typ, status, reason, at string) map[string]any {
	c := map[string]any{"type": typ, "status": status, "lastTransitionTime": at}
	if reason != "" {
		c["reason"] = reason
	}
	return c
}

func statusOf(conds ...any) map[string]any {
	return map[string]any{"observedGeneration": int64(1), "conditions": conds}
}

func TestKeepTransitionTimes(t *testing.T) {
	const t0, t1, t2 = "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z"
	for _, tc := range []struct {
		name   string
		status map[string]any
		stored []any
		want   map[string]any
	}{{
		name:   "same status: the stored time",
		status: statusOf(cond("Ready", "Unknown", "Deploying", t2)),
		stored: []any{statusOf(cond("Ready", "Unknown", "Deploying", t0))},
		want:   statusOf(cond("Ready", "Unknown", "Deploying", t0)),
	}, {
		name:   "a new reason alone keeps the time",
		status: statusOf(cond("Ready", "Unknown", "RevisionMissing", t2)),
		stored: []any{statusOf(cond("Ready", "Unknown", "", t0))},
		want:   statusOf(cond("Ready", "Unknown", "RevisionMissing", t0)),
	}, {
		name:   "a new status takes the controller's time",
		status: statusOf(cond("Ready", "False", "ProgressDeadlineExceeded", t2)),
		stored: []any{statusOf(cond("Ready", "Unknown", "Deploying", t0))},
		want:   statusOf(cond("Ready", "False", "ProgressDeadlineExceeded", t2)),
	}, {
		name:   "per condition type",
		status: statusOf(cond("Active", "Unknown", "", t2), cond("Ready", "False", "", t2)),
		stored: []any{statusOf(cond("Ready", "Unknown", "", t0), cond("Active", "Unknown", "", t0))},
		want:   statusOf(cond("Active", "Unknown", "", t0), cond("Ready", "False", "", t2)),
	}, {
		name:   "the API server's copy first",
		status: statusOf(cond("Ready", "False", "", t2)),
		stored: []any{statusOf(cond("Ready", "False", "", t0)), statusOf(cond("Ready", "False", "", t1))},
		want:   statusOf(cond("Ready", "False", "", t0)),
	}, {
		name: "the last write when the cache has not seen it",
		// The cache still holds Unknown; this store wrote False at t1.
		status: statusOf(cond("Ready", "False", "", t2)),
		stored: []any{statusOf(cond("Ready", "Unknown", "", t0)), statusOf(cond("Ready", "False", "", t1))},
		want:   statusOf(cond("Ready", "False", "", t1)),
	}, {
		name:   "a new condition",
		status: statusOf(cond("Ready", "True", "", t2)),
		stored: []any{nil, map[string]any{}},
		want:   statusOf(cond("Ready", "True", "", t2)),
	}, {
		name:   "no conditions",
		status: map[string]any{"url": "http://x"},
		stored: []any{statusOf(cond("Ready", "True", "", t0))},
		want:   map[string]any{"url": "http://x"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			in := runtime.DeepCopyJSON(tc.status)
			got := keepTransitionTimes(tc.status, tc.stored...)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("keepTransitionTimes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(in, tc.status); diff != "" {
				t.Errorf("the input changed (-before +after):\n%s", diff)
			}
		})
	}
}
