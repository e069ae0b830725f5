package store

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

// drain returns the Events a FakeRecorder holds, in order.
func drain(r *record.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-r.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// TestRecordStatusChange: a Configuration's status change records Knative's Events,
// and a status written again records none.
func TestRecordStatusChange(t *testing.T) {
	ready := func(latestCreated, latestReady string, conds ...any) map[string]any {
		st := statusOf(conds...)
		st["latestCreatedRevisionName"] = latestCreated
		if latestReady != "" {
			st["latestReadyRevisionName"] = latestReady
		}
		return st
	}
	const at = "2026-01-01T00:00:00Z"
	for _, tc := range []struct {
		name       string
		prev, next map[string]any
		want       []string
	}{{
		name: "first ready revision",
		prev: ready("c-00001", "", cond("Ready", "Unknown", "", at)),
		next: ready("c-00001", "c-00001", cond("Ready", "True", "", at)),
		want: []string{
			"Normal ConfigurationReady Configuration becomes ready",
			`Normal LatestReadyUpdate LatestReadyRevisionName updated to "c-00001"`,
		},
	}, {
		name: "the same status again",
		prev: ready("c-00001", "c-00001", cond("Ready", "True", "", at)),
		next: ready("c-00001", "c-00001", cond("Ready", "True", "", at)),
	}, {
		name: "a newer ready revision",
		prev: ready("c-00002", "c-00001", cond("Ready", "Unknown", "", at)),
		next: ready("c-00002", "c-00002", cond("Ready", "True", "", at)),
		want: []string{`Normal LatestReadyUpdate LatestReadyRevisionName updated to "c-00002"`},
	}, {
		name: "the latest created fails",
		prev: ready("c-00002", "c-00001", cond("Ready", "Unknown", "", at)),
		next: ready("c-00002", "c-00001", cond("Ready", "False", "RevisionFailed", at)),
		want: []string{`Warning LatestCreatedFailed Latest created revision "c-00002" has failed`},
	}, {
		name: "still failed: nothing new",
		prev: ready("c-00002", "c-00001", cond("Ready", "False", "RevisionFailed", at)),
		next: ready("c-00002", "c-00001", cond("Ready", "False", "RevisionFailed", at)),
	}, {
		name: "the latest ready fails",
		prev: ready("c-00001", "c-00001", cond("Ready", "True", "", at)),
		next: ready("c-00001", "c-00001", cond("Ready", "False", "RevisionFailed", at)),
		want: []string{`Warning LatestReadyFailed Latest ready revision "c-00001" has failed`},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			rec := record.NewFakeRecorder(10)
			s := &Store{opts: Options{Recorder: rec}}
			cur := &unstructured.Unstructured{}
			cur.SetAPIVersion("serving.knative.dev/v1")
			cur.SetKind("Configuration")
			s.recordStatusChange(Ref{Resource: ConfigurationsGVR.Resource, Namespace: "default", Name: "c"}, cur, tc.prev, tc.next)
			if diff := cmp.Diff(tc.want, drain(rec)); diff != "" {
				t.Errorf("Events (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRecordRevisionReady: a Revision records Knative's RevisionReady when its
// Ready condition becomes True, once: not when it stays True (a resync, a
// restarted controller that finds it Ready), not when it stops being ready.
func TestRecordRevisionReady(t *testing.T) {
	const at = "2026-01-01T00:00:00Z"
	const readyEvent = "Normal RevisionReady Revision becomes ready upon all resources being ready"
	for _, tc := range []struct {
		name       string
		prev, next map[string]any
		want       []string
	}{
		{name: "unknown to true", prev: statusOf(cond("Ready", "Unknown", "Deploying", at)), next: statusOf(cond("Ready", "True", "", at)), want: []string{readyEvent}},
		{name: "no status yet to true", prev: nil, next: statusOf(cond("Ready", "True", "", at)), want: []string{readyEvent}},
		{name: "false to true", prev: statusOf(cond("Ready", "False", "ProgressDeadlineExceeded", at)), next: statusOf(cond("Ready", "True", "", at)), want: []string{readyEvent}},
		{name: "true again", prev: statusOf(cond("Ready", "True", "", at)), next: statusOf(cond("Ready", "True", "", at))},
		{name: "true to false", prev: statusOf(cond("Ready", "True", "", at)), next: statusOf(cond("Ready", "False", "ProgressDeadlineExceeded", at))},
		{name: "unknown again", prev: statusOf(cond("Ready", "Unknown", "Deploying", at)), next: statusOf(cond("Ready", "Unknown", "Deploying", at))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := record.NewFakeRecorder(10)
			s := &Store{opts: Options{Recorder: rec}}
			cur := &unstructured.Unstructured{}
			cur.SetAPIVersion("serving.knative.dev/v1")
			cur.SetKind("Revision")
			var prev any
			if tc.prev != nil {
				prev = tc.prev
			}
			s.recordStatusChange(Ref{Resource: RevisionsGVR.Resource, Namespace: "default", Name: "c-00001"}, cur, prev, tc.next)
			if diff := cmp.Diff(tc.want, drain(rec)); diff != "" {
				t.Errorf("Events (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRecordErrorOncePerMessage: a failing write records InternalError on the
// object once per message, not once per retry; a success forgets it.
func TestRecordErrorOncePerMessage(t *testing.T) {
	rec := record.NewFakeRecorder(10)
	// Never run: only its indexer, the cache the store reads, is used.
	inf := cache.NewSharedIndexInformer(&cache.ListWatch{}, &unstructured.Unstructured{}, 0, cache.Indexers{})
	s := &Store{opts: Options{Recorder: rec}, informers: map[string]cache.SharedIndexInformer{RoutesGVR.Resource: inf}}
	s.mu.lastError = map[Ref]string{}
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("serving.knative.dev/v1")
	u.SetKind("Route")
	u.SetNamespace("default")
	u.SetName("r")
	if err := s.informers[RoutesGVR.Resource].GetIndexer().Add(u); err != nil {
		t.Fatal(err)
	}
	ref := Ref{Resource: RoutesGVR.Resource, Namespace: "default", Name: "r"}
	a, b := errors.New("store: a"), errors.New("store: b")
	for _, err := range []error{a, a, a, b, b, nil, b} {
		s.recordError(ref, err)
	}
	want := []string{"Warning InternalError store: a", "Warning InternalError store: b", "Warning InternalError store: b"}
	if diff := cmp.Diff(want, drain(rec)); diff != "" {
		t.Errorf("Events (-want +got):\n%s", diff)
	}
}
