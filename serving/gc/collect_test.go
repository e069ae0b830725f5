package gc

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/servekit/servekit/serving"
	v1 "github.com/servekit/servekit/serving/v1"
)

// now is the fixed instant every Collect test runs at.
var now = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

type revOpt func(*v1.Revision)

// rev is a Revision of Configuration "hello" in namespace "default", in
// routing state "reserve" since lastActive ago, created created ago.
func rev(name string, created, lastActive time.Duration, opts ...revOpt) *v1.Revision {
	r := &v1.Revision{
		ObjectMeta: metav1.ObjectMeta{
			Name:              name,
			Namespace:         "default",
			CreationTimestamp: metav1.NewTime(now.Add(-created)),
			Labels: map[string]string{
				serving.ConfigurationLabelKey: "hello",
				serving.RoutingStateLabelKey:  serving.RoutingStateReserve,
			},
			Annotations: map[string]string{
				serving.RoutingStateModifiedAnnotationKey: now.Add(-lastActive).UTC().Format(time.RFC3339),
			},
		},
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

func routingState(s string) revOpt {
	return func(r *v1.Revision) { r.Labels[serving.RoutingStateLabelKey] = s }
}

func noRoutingState(r *v1.Revision) { delete(r.Labels, serving.RoutingStateLabelKey) }

func annotation(k, v string) revOpt {
	return func(r *v1.Revision) { r.Annotations[k] = v }
}

func noLastActive(r *v1.Revision) {
	delete(r.Annotations, serving.RoutingStateModifiedAnnotationKey)
}

func label(k, v string) revOpt {
	return func(r *v1.Revision) { r.Labels[k] = v }
}

func namespace(ns string) revOpt {
	return func(r *v1.Revision) { r.Namespace = ns }
}

func owner(latestReady string) *v1.Configuration {
	return &v1.Configuration{
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "default"},
		Status: v1.ConfigurationStatus{
			ConfigurationStatusFields: v1.ConfigurationStatusFields{LatestReadyRevisionName: latestReady},
		},
	}
}

// staleRevs returns n reserve Revisions hello-00001.. that are far past
// both default retention times, the lower-numbered the older.
func staleRevs(n int) []*v1.Revision {
	revs := make([]*v1.Revision, n)
	for i := range revs {
		age := time.Duration(1000-i) * time.Hour
		revs[i] = rev(fmt.Sprintf("hello-%05d", i+1), age, age)
	}
	return revs
}

const (
	day  = 24 * time.Hour
	hour = time.Hour
)

func TestCollect(t *testing.T) {
	cfg := func(create, active time.Duration, minKeep, maxKeep int64) Config {
		return Config{
			RetainSinceCreateTime:     create,
			RetainSinceLastActiveTime: active,
			MinNonActiveRevisions:     minKeep,
			MaxNonActiveRevisions:     maxKeep,
		}
	}
	tests := []struct {
		name   string
		config Config
		owner  *v1.Configuration
		revs   []*v1.Revision
		want   []string
	}{{
		name:   "everything disabled deletes nothing",
		config: cfg(Disabled, Disabled, 0, Disabled),
		owner:  owner(""),
		revs:   staleRevs(30),
	}, {
		name:   "defaults keep 20 stale non-active revisions",
		config: DefaultConfig(),
		owner:  owner(""),
		revs:   staleRevs(20),
	}, {
		name:   "defaults delete the oldest stale ones beyond 20",
		config: DefaultConfig(),
		owner:  owner(""),
		revs:   staleRevs(23),
		want:   []string{"hello-00001", "hello-00002", "hello-00003"},
	}, {
		name:   "min counts non-active revisions only",
		config: cfg(0, 0, 2, Disabled),
		owner:  owner("hello-00004"),
		revs: []*v1.Revision{
			rev("hello-00001", 3*day, 3*day),
			rev("hello-00002", 2*day, 2*day),
			rev("hello-00003", day, day, routingState(serving.RoutingStateActive)),
			rev("hello-00004", hour, hour),
		},
	}, {
		name:   "active, pending, unlabelled, no-gc and latest ready revisions are never deleted",
		config: cfg(0, 0, 0, 0),
		owner:  owner("hello-00001"),
		revs: []*v1.Revision{
			rev("hello-00001", 9*day, 9*day), // latest ready, though reserve
			rev("hello-00002", 8*day, 8*day, routingState(serving.RoutingStateActive)),
			rev("hello-00003", 7*day, 7*day, routingState(serving.RoutingStatePending)),
			rev("hello-00004", 6*day, 6*day, noRoutingState),
			rev("hello-00005", 5*day, 5*day, annotation(serving.RevisionPreservedAnnotationKey, "TRUE")),
			rev("hello-00006", 4*day, 4*day, annotation(serving.RevisionPreservedAnnotationKey, "false")),
			rev("hello-00007", 3*day, 3*day, routingState("some-future-state")),
			rev("hello-00008", 2*day, 2*day),
		},
		want: []string{"hello-00006", "hello-00008"},
	}, {
		name:   "young revision is kept by the create check even when long inactive",
		config: cfg(48*hour, 15*hour, 0, Disabled),
		owner:  owner(""),
		revs: []*v1.Revision{
			rev("hello-00001", 47*hour, 47*hour),
			rev("hello-00002", 49*hour, 16*hour),
			rev("hello-00003", 49*hour, 14*hour),
		},
		want: []string{"hello-00002"},
	}, {
		name:   "boundaries: exactly the retain time is stale, a second less is not",
		config: cfg(48*hour, 15*hour, 0, Disabled),
		owner:  owner(""),
		revs: []*v1.Revision{
			rev("hello-00001", 48*hour, 15*hour),
			rev("hello-00002", 48*hour-time.Second, 20*hour),
			rev("hello-00003", 50*hour, 15*hour-time.Second),
		},
		want: []string{"hello-00001"},
	}, {
		name:   "create check disabled: only last active counts",
		config: cfg(Disabled, 15*hour, 0, Disabled),
		owner:  owner(""),
		revs: []*v1.Revision{
			rev("hello-00001", 16*hour, 16*hour),
			rev("hello-00002", 16*hour, 14*hour),
		},
		want: []string{"hello-00001"},
	}, {
		name:   "active check disabled: only creation counts",
		config: cfg(48*hour, Disabled, 0, Disabled),
		owner:  owner(""),
		revs: []*v1.Revision{
			rev("hello-00001", 49*hour, time.Minute),
			rev("hello-00002", 47*hour, 47*hour),
		},
		want: []string{"hello-00001"},
	}, {
		name:   "both time checks disabled: only max deletes, oldest first",
		config: cfg(Disabled, Disabled, 0, 2),
		owner:  owner(""),
		revs: []*v1.Revision{
			rev("hello-00004", 4*hour, 4*hour),
			rev("hello-00001", 9*hour, 9*hour),
			rev("hello-00003", 5*hour, 5*hour),
			rev("hello-00002", 6*hour, 6*hour),
		},
		want: []string{"hello-00001", "hello-00002"},
	}, {
		name:   "max trims non-stale revisions after the stale ones are gone",
		config: cfg(48*hour, 15*hour, 1, 2),
		owner:  owner(""),
		revs: []*v1.Revision{
			rev("hello-00001", 9*day, 9*day),   // stale
			rev("hello-00002", 8*day, 8*day),   // stale
			rev("hello-00003", 4*hour, 4*hour), // not stale: over max
			rev("hello-00004", 3*hour, 3*hour), // not stale: over max
			rev("hello-00005", 2*hour, 2*hour),
			rev("hello-00006", 1*hour, 1*hour),
		},
		want: []string{"hello-00001", "hello-00002", "hello-00003", "hello-00004"},
	}, {
		name:   "max disabled keeps every non-stale revision",
		config: cfg(48*hour, 15*hour, 0, Disabled),
		owner:  owner(""),
		revs: []*v1.Revision{
			rev("hello-00001", 9*day, 9*day),
			rev("hello-00002", 4*hour, 4*hour),
			rev("hello-00003", 3*hour, 3*hour),
			rev("hello-00004", 2*hour, 2*hour),
		},
		want: []string{"hello-00001"},
	}, {
		name:   "max zero deletes every non-active revision",
		config: cfg(Disabled, Disabled, 0, 0),
		owner:  owner("hello-00003"),
		revs: []*v1.Revision{
			rev("hello-00001", 2*hour, 2*hour),
			rev("hello-00002", hour, hour),
			rev("hello-00003", time.Minute, time.Minute),
		},
		want: []string{"hello-00001", "hello-00002"},
	}, {
		name:   "min stops deleting stale revisions",
		config: cfg(0, 0, 3, 5),
		owner:  owner(""),
		revs:   staleRevs(5),
		want:   []string{"hello-00001", "hello-00002"},
	}, {
		name:   "order is by last activity, not by creation or name",
		config: cfg(0, 0, 1, Disabled),
		owner:  owner(""),
		revs: []*v1.Revision{
			rev("hello-00001", 9*day, 1*day),
			rev("hello-00002", 8*day, 3*day),
			rev("hello-00003", 7*day, 2*day),
		},
		want: []string{"hello-00002", "hello-00003"},
	}, {
		name:   "equal last activity is ordered by name",
		config: cfg(Disabled, Disabled, 0, 1),
		owner:  owner(""),
		revs: []*v1.Revision{
			rev("hello-b", day, day),
			rev("hello-c", day, day),
			rev("hello-a", day, day),
		},
		want: []string{"hello-a", "hello-b"},
	}, {
		name:   "missing or unparsable routingStateModified falls back to creation time",
		config: cfg(Disabled, 15*hour, 0, Disabled),
		owner:  owner(""),
		revs: []*v1.Revision{
			rev("hello-00001", 16*hour, time.Minute, noLastActive),
			rev("hello-00002", 16*hour, time.Minute, annotation(serving.RoutingStateModifiedAnnotationKey, "yesterday")),
			rev("hello-00003", 14*hour, 20*hour, noLastActive),
			rev("hello-00004", 16*hour, time.Minute),
		},
		want: []string{"hello-00001", "hello-00002"},
	}, {
		name:   "revisions of other configurations and namespaces are ignored",
		config: cfg(0, 0, 0, Disabled),
		owner:  owner(""),
		revs: []*v1.Revision{
			rev("hello-00001", day, day),
			rev("other-00001", day, day, label(serving.ConfigurationLabelKey, "other")),
			rev("hello-00001", day, day, namespace("prod")),
			rev("orphan", day, day, func(r *v1.Revision) { delete(r.Labels, serving.ConfigurationLabelKey) }),
			nil,
		},
		want: []string{"hello-00001"},
	}, {
		name:   "nil owner deletes nothing",
		config: cfg(0, 0, 0, 0),
		revs:   staleRevs(3),
	}, {
		name:   "no revisions",
		config: DefaultConfig(),
		owner:  owner(""),
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var before []*v1.Revision
			for _, r := range tc.revs {
				before = append(before, r.DeepCopy())
			}
			ownerBefore := tc.owner.DeepCopy()

			got := Collect(tc.config, tc.owner, tc.revs, now)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Collect (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, tc.revs); diff != "" {
				t.Errorf("Collect modified its revisions (-before +after):\n%s", diff)
			}
			if diff := cmp.Diff(ownerBefore, tc.owner); diff != "" {
				t.Errorf("Collect modified the configuration (-before +after):\n%s", diff)
			}
		})
	}
}

// TestCollectSeedLifecycle follows the seed's helloworld-go Service through
// later edits (seed-example.md §5): the first Revision becomes reserve when
// the second takes the traffic, and is collected only once more than 20
// non-active Revisions exist and it is past 15h inactive / 48h old.
func TestCollectSeedLifecycle(t *testing.T) {
	ownerCfg := &v1.Configuration{
		ObjectMeta: metav1.ObjectMeta{Name: "helloworld-go", Namespace: "default"},
		Status: v1.ConfigurationStatus{ConfigurationStatusFields: v1.ConfigurationStatusFields{
			LatestCreatedRevisionName: "helloworld-go-00002",
			LatestReadyRevisionName:   "helloworld-go-00002",
		}},
	}
	mk := func(n int, created, lastActive time.Time, state string) *v1.Revision {
		return &v1.Revision{ObjectMeta: metav1.ObjectMeta{
			Name:              fmt.Sprintf("helloworld-go-%05d", n),
			Namespace:         "default",
			CreationTimestamp: metav1.NewTime(created),
			Labels: map[string]string{
				serving.ConfigurationLabelKey: "helloworld-go",
				serving.RoutingStateLabelKey:  state,
			},
			Annotations: map[string]string{
				serving.RoutingStateModifiedAnnotationKey: lastActive.UTC().Format(time.RFC3339),
			},
		}}
	}
	t0 := now
	first := mk(1, t0, t0.Add(time.Hour), serving.RoutingStateReserve) // reserve since t0+1h
	second := mk(2, t0.Add(time.Hour), t0.Add(time.Hour), serving.RoutingStateActive)
	revs := []*v1.Revision{first, second}
	c := DefaultConfig()
	for _, at := range []time.Time{t0.Add(2 * time.Hour), t0.Add(100 * time.Hour)} {
		if got := Collect(c, ownerCfg, revs, at); got != nil {
			t.Errorf("Collect at %v = %v, want nothing (fewer than 21 non-active revisions)", at, got)
		}
	}
	// With min 0, the reserve revision becomes collectable only once both
	// retain times have passed: 48h after creation (t0+48h) and 15h after it
	// went to reserve (t0+16h).
	c.MinNonActiveRevisions = 0
	steps := []struct {
		at   time.Time
		want []string
	}{
		{t0.Add(16 * time.Hour), nil},
		{t0.Add(48*time.Hour - time.Second), nil},
		{t0.Add(48 * time.Hour), []string{"helloworld-go-00001"}},
	}
	for _, s := range steps {
		if diff := cmp.Diff(s.want, Collect(c, ownerCfg, revs, s.at)); diff != "" {
			t.Errorf("Collect at t0+%v (-want +got):\n%s", s.at.Sub(t0), diff)
		}
	}
}

func BenchmarkCollect(b *testing.B) {
	revs := staleRevs(1000)
	for i, r := range revs {
		if i%3 == 0 {
			r.Labels[serving.RoutingStateLabelKey] = serving.RoutingStateActive
		}
	}
	o := owner("hello-01000")
	c := DefaultConfig()
	b.ReportAllocs()
	for b.Loop() {
		Collect(c, o, revs, now)
	}
}
