package revision

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/servekit/servekit/serving"
	v1 "github.com/servekit/servekit/serving/v1"
)

// rev is Revision hello-0000<gen> of Configuration "hello" whose Ready
// condition has the given status ("" = no condition yet).
func rev(gen int64, ready corev1.ConditionStatus) *v1.Revision {
	return namedRev(fmt.Sprintf("hello-%05d", gen), gen, ready)
}

func namedRev(name string, gen int64, ready corev1.ConditionStatus) *v1.Revision {
	r := &v1.Revision{
		ObjectMeta: metav1.ObjectMeta{
			Name:       name,
			Namespace:  "default",
			Generation: 1,
			Labels: map[string]string{
				serving.ConfigurationLabelKey:           "hello",
				serving.ConfigurationGenerationLabelKey: fmt.Sprint(gen),
			},
		},
	}
	r.Status.ObservedGeneration = 1
	if ready != "" {
		c := v1.Condition{Type: v1.RevisionConditionReady, Status: ready}
		if ready == corev1.ConditionFalse {
			c.Reason = "ContainerMissing"
			c.Message = "Unable to fetch image"
		}
		r.Status.Conditions = v1.Conditions{c}
	}
	return r
}

// config is Configuration "hello" at generation gen whose status names
// latestCreated and latestReady, with a Ready condition of the given
// status ("" = none).
func config(gen int64, latestCreated, latestReady string, ready corev1.ConditionStatus) *v1.Configuration {
	c := &v1.Configuration{ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "default", Generation: gen}}
	c.Status.LatestCreatedRevisionName = latestCreated
	c.Status.LatestReadyRevisionName = latestReady
	if ready != "" {
		c.Status.Conditions = v1.Conditions{{Type: v1.ConfigurationConditionReady, Status: ready, LastTransitionTime: metav1.NewTime(now.Add(-time.Hour))}}
	}
	return c
}

func TestUpdateLatest(t *testing.T) {
	const (
		True    = corev1.ConditionTrue
		False   = corev1.ConditionFalse
		Unknown = corev1.ConditionUnknown
	)
	failedMsg := func(name string) string {
		return fmt.Sprintf("Revision %q failed with message: Unable to fetch image.", name)
	}
	type want struct {
		created, ready string
		status         corev1.ConditionStatus
		reason, msg    string
		events         []Event
	}
	tests := []struct {
		name    string
		cfg     *v1.Configuration
		current *v1.Revision
		revs    []*v1.Revision
		want    want
	}{{
		name:    "first revision, not ready yet",
		cfg:     config(1, "", "", Unknown),
		current: rev(1, ""),
		want:    want{created: "hello-00001", status: Unknown},
	}, {
		name:    "first revision becomes ready",
		cfg:     config(1, "hello-00001", "", Unknown),
		current: rev(1, True),
		revs:    []*v1.Revision{rev(1, True)},
		want: want{created: "hello-00001", ready: "hello-00001", status: True, events: []Event{
			{corev1.EventTypeNormal, "ConfigurationReady", "Configuration becomes ready"},
			{corev1.EventTypeNormal, "LatestReadyUpdate", `LatestReadyRevisionName updated to "hello-00001"`},
		}},
	}, {
		name:    "ready revision, but the current one is not yet in the list",
		cfg:     config(1, "", "", ""),
		current: rev(1, True),
		want: want{created: "hello-00001", ready: "hello-00001", status: True, events: []Event{
			{corev1.EventTypeNormal, "ConfigurationReady", "Configuration becomes ready"},
			{corev1.EventTypeNormal, "LatestReadyUpdate", `LatestReadyRevisionName updated to "hello-00001"`},
		}},
	}, {
		name:    "steady state: nothing changes",
		cfg:     config(1, "hello-00001", "hello-00001", True),
		current: rev(1, True),
		revs:    []*v1.Revision{rev(1, True)},
		want:    want{created: "hello-00001", ready: "hello-00001", status: True},
	}, {
		name:    "new generation: Unknown until its revision is ready, traffic stays",
		cfg:     config(2, "hello-00001", "hello-00001", True),
		current: rev(2, Unknown),
		revs:    []*v1.Revision{rev(1, True), rev(2, Unknown)},
		want:    want{created: "hello-00002", ready: "hello-00001", status: Unknown},
	}, {
		name:    "new revision ready: latest ready moves",
		cfg:     config(2, "hello-00002", "hello-00001", Unknown),
		current: rev(2, True),
		revs:    []*v1.Revision{rev(1, True), rev(2, True)},
		want: want{created: "hello-00002", ready: "hello-00002", status: True, events: []Event{
			{corev1.EventTypeNormal, "LatestReadyUpdate", `LatestReadyRevisionName updated to "hello-00002"`},
		}},
	}, {
		name:    "failed latest revision: latest ready stays on the last good one",
		cfg:     config(2, "hello-00002", "hello-00001", Unknown),
		current: rev(2, False),
		revs:    []*v1.Revision{rev(1, True), rev(2, False)},
		want: want{created: "hello-00002", ready: "hello-00001", status: False, reason: "RevisionFailed", msg: failedMsg("hello-00002"),
			events: []Event{{corev1.EventTypeWarning, "LatestCreatedFailed", `Latest created revision "hello-00002" has failed`}}},
	}, {
		name: "still failed: no new event",
		cfg: func() *v1.Configuration {
			c := config(2, "hello-00002", "hello-00001", "")
			c.Status.Conditions = v1.Conditions{{Type: v1.ConfigurationConditionReady, Status: False, Reason: "RevisionFailed", Message: failedMsg("hello-00002")}}
			return c
		}(),
		current: rev(2, False),
		revs:    []*v1.Revision{rev(1, True), rev(2, False)},
		want:    want{created: "hello-00002", ready: "hello-00001", status: False, reason: "RevisionFailed", msg: failedMsg("hello-00002")},
	}, {
		name:    "the latest ready revision fails later: it stays latest ready",
		cfg:     config(1, "hello-00001", "hello-00001", True),
		current: rev(1, False),
		revs:    []*v1.Revision{rev(1, False)},
		want: want{created: "hello-00001", ready: "hello-00001", status: False, reason: "RevisionFailed", msg: failedMsg("hello-00001"),
			events: []Event{{corev1.EventTypeWarning, "LatestReadyFailed", `Latest ready revision "hello-00001" has failed`}}},
	}, {
		name: "a failed revision recovers",
		cfg: func() *v1.Configuration {
			c := config(1, "hello-00001", "hello-00001", "")
			c.Status.Conditions = v1.Conditions{{Type: v1.ConfigurationConditionReady, Status: False, Reason: "RevisionFailed", Message: failedMsg("hello-00001")}}
			return c
		}(),
		current: rev(1, True),
		revs:    []*v1.Revision{rev(1, True)},
		want:    want{created: "hello-00001", ready: "hello-00001", status: True},
	}, {
		name:    "intermediate ready revision while the newest is pending",
		cfg:     config(3, "hello-00002", "hello-00001", Unknown),
		current: rev(3, Unknown),
		revs:    []*v1.Revision{rev(1, True), rev(2, True), rev(3, Unknown)},
		want: want{created: "hello-00003", ready: "hello-00002", status: Unknown, events: []Event{
			{corev1.EventTypeNormal, "LatestReadyUpdate", `LatestReadyRevisionName updated to "hello-00002"`},
		}},
	}, {
		name:    "latest ready never moves back to an older generation",
		cfg:     config(4, "hello-00003", "hello-00003", True),
		current: rev(4, False),
		revs:    []*v1.Revision{rev(1, True), rev(2, True), rev(3, False), rev(4, False)},
		want: want{created: "hello-00004", ready: "hello-00003", status: False, reason: "RevisionFailed", msg: failedMsg("hello-00004"),
			events: []Event{{corev1.EventTypeWarning, "LatestCreatedFailed", `Latest created revision "hello-00004" has failed`}}},
	}, {
		name:    "deleted latest ready: the newest ready one takes over",
		cfg:     config(4, "hello-00004", "hello-00003", Unknown),
		current: rev(4, Unknown),
		revs:    []*v1.Revision{rev(1, True), rev(2, True), rev(4, Unknown)},
		want: want{created: "hello-00004", ready: "hello-00002", status: Unknown, events: []Event{
			{corev1.EventTypeNormal, "LatestReadyUpdate", `LatestReadyRevisionName updated to "hello-00002"`},
		}},
	}, {
		name:    "a revision whose status is for an older generation is not ready",
		cfg:     config(2, "hello-00002", "hello-00001", Unknown),
		current: func() *v1.Revision { r := rev(2, True); r.Generation = 2; return r }(),
		revs:    []*v1.Revision{rev(1, True)},
		want:    want{created: "hello-00002", ready: "hello-00001", status: Unknown},
	}, {
		name: "bring-your-own name is tried first, whatever its generation label",
		cfg: func() *v1.Configuration {
			c := config(5, "hello-00004", "hello-00004", True)
			c.Spec.Template.Name = "hello-v2"
			return c
		}(),
		current: namedRev("hello-v2", 2, True), // a "git revert" to generation 2's spec
		revs:    []*v1.Revision{rev(4, True), namedRev("hello-v2", 2, True)},
		want: want{created: "hello-v2", ready: "hello-v2", status: True, events: []Event{
			{corev1.EventTypeNormal, "LatestReadyUpdate", `LatestReadyRevisionName updated to "hello-v2"`},
		}},
	}, {
		name:    "revisions of other configurations and namespaces are ignored",
		cfg:     config(2, "hello-00001", "hello-00001", True),
		current: rev(2, Unknown),
		revs: []*v1.Revision{
			func() *v1.Revision { r := rev(3, True); r.Labels[serving.ConfigurationLabelKey] = "other"; return r }(),
			func() *v1.Revision { r := rev(2, True); r.Namespace = "prod"; return r }(),
			nil,
			rev(1, True),
		},
		want: want{created: "hello-00002", ready: "hello-00001", status: Unknown},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg.DeepCopy()
			events, err := UpdateLatest(cfg, tc.current, tc.revs, now)
			if err != nil {
				t.Fatalf("UpdateLatest: %v", err)
			}
			ready := cfg.Status.GetCondition(v1.ConfigurationConditionReady)
			if ready == nil {
				t.Fatal("no Ready condition")
			}
			got := want{
				created: cfg.Status.LatestCreatedRevisionName,
				ready:   cfg.Status.LatestReadyRevisionName,
				status:  ready.Status, reason: ready.Reason, msg: ready.Message,
				events: events,
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("UpdateLatest (-want +got):\n%s", diff)
			}
			// Conditions change with lastTransitionTime now; unchanged
			// ones keep theirs.
			if old := tc.cfg.Status.GetCondition(v1.ConfigurationConditionReady); old != nil &&
				old.Status == ready.Status && old.Reason == ready.Reason && old.Message == ready.Message {
				if !ready.LastTransitionTime.Equal(&old.LastTransitionTime) {
					t.Errorf("unchanged Ready got lastTransitionTime %v, want %v", ready.LastTransitionTime, old.LastTransitionTime)
				}
			} else if !ready.LastTransitionTime.Time.Equal(now) {
				t.Errorf("changed Ready got lastTransitionTime %v, want %v", ready.LastTransitionTime, now)
			}
		})
	}
}

func TestUpdateLatestErrors(t *testing.T) {
	weird := rev(1, "")
	weird.Status.Conditions = v1.Conditions{{Type: v1.RevisionConditionReady, Status: "Maybe"}}
	cfg := config(1, "", "", "")
	if _, err := UpdateLatest(cfg, weird, nil, now); err == nil || err.Error() != `unrecognized condition status: Maybe on revision "hello-00001"` {
		t.Errorf("UpdateLatest with status Maybe: err = %v", err)
	}
	if cfg.Status.LatestCreatedRevisionName != "hello-00001" {
		t.Errorf("latestCreated = %q, want it recorded before the error", cfg.Status.LatestCreatedRevisionName)
	}
	if _, err := UpdateLatest(nil, weird, nil, now); err == nil {
		t.Error("UpdateLatest(nil cfg): want error")
	}
	if _, err := UpdateLatest(cfg, nil, nil, now); err == nil {
		t.Error("UpdateLatest(nil current): want error")
	}
}

// TestSeedFailedRollout follows seed-example.md §5: a new image that cannot
// be resolved fails helloworld-go-00002, the Configuration turns Ready
// False (RevisionFailed) and latest ready, hence traffic, stays on 00001.
func TestSeedFailedRollout(t *testing.T) {
	cfg := seedConfiguration()
	r1, err := Snapshot(cfg, now)
	if err != nil {
		t.Fatal(err)
	}
	r1.Generation = 1
	r1.Status.ObservedGeneration = 1
	r1.Status.InitializeConditions(now)
	if _, err := UpdateLatest(cfg, r1, []*v1.Revision{r1}, now); err != nil {
		t.Fatal(err)
	}
	r1.Status.MarkResourcesAvailableTrue(now)
	r1.Status.MarkContainerHealthyTrue(now)
	if _, err := UpdateLatest(cfg, r1, []*v1.Revision{r1}, now); err != nil {
		t.Fatal(err)
	}
	if !cfg.Status.GetCondition(v1.ConfigurationConditionReady).IsTrue() || cfg.Status.LatestReadyRevisionName != "helloworld-go-00001" {
		t.Fatalf("after 00001 is ready: status = %+v", cfg.Status)
	}

	cfg.Generation = 2
	cfg.Spec.Template.Spec.Containers[0].Image = "registry.example.com/does-not-exist:v2"
	cur, err := Current(cfg, []*v1.Revision{r1})
	if err != nil || cur != nil {
		t.Fatalf("Current for generation 2 = %v, %v; want none yet", cur, err)
	}
	r2, err := Snapshot(cfg, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if r2.Name != "helloworld-go-00002" {
		t.Fatalf("second revision is %q", r2.Name)
	}
	r2.Generation = 1
	r2.Status.ObservedGeneration = 1
	r2.Status.InitializeConditions(now)
	r2.Status.MarkContainerMissing(now, r2.Spec.Containers[0].Image, fmt.Errorf("MANIFEST_UNKNOWN"))
	revs := []*v1.Revision{r1, r2}
	events, err := UpdateLatest(cfg, r2, revs, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	wantStatus := v1.ConfigurationStatus{
		Status: v1.Status{Conditions: v1.Conditions{{
			Type:   v1.ConfigurationConditionReady,
			Status: corev1.ConditionFalse,
			Reason: "RevisionFailed",
			Message: `Revision "helloworld-go-00002" failed with message: ` +
				`Unable to fetch image "registry.example.com/does-not-exist:v2": failed to resolve image to digest: MANIFEST_UNKNOWN.`,
		}}},
		ConfigurationStatusFields: v1.ConfigurationStatusFields{
			LatestCreatedRevisionName: "helloworld-go-00002",
			LatestReadyRevisionName:   "helloworld-go-00001",
		},
	}
	if diff := cmp.Diff(wantStatus, cfg.Status, cmpopts.IgnoreFields(v1.Condition{}, "LastTransitionTime")); diff != "" {
		t.Errorf("Configuration status (-want +got):\n%s", diff)
	}
	wantEvents := []Event{{corev1.EventTypeWarning, "LatestCreatedFailed", `Latest created revision "helloworld-go-00002" has failed`}}
	if diff := cmp.Diff(wantEvents, events); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func BenchmarkUpdateLatest(b *testing.B) {
	var revs []*v1.Revision
	for g := int64(1); g <= 100; g++ {
		revs = append(revs, rev(g, corev1.ConditionTrue))
	}
	base := config(100, "hello-00100", "hello-00099", corev1.ConditionUnknown)
	cfg := base.DeepCopy()
	b.ReportAllocs()
	for b.Loop() {
		cfg.Status = base.Status
		if _, err := UpdateLatest(cfg, revs[99], revs, now); err != nil {
			b.Fatal(err)
		}
	}
}
