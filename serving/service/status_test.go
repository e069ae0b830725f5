package service

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/servekit/servekit/serving/v1"
)

const (
	True    = corev1.ConditionTrue
	False   = corev1.ConditionFalse
	Unknown = corev1.ConditionUnknown
)

// cond is a condition without its lastTransitionTime.
type cond struct {
	Type            v1.ConditionType
	Status          corev1.ConditionStatus
	Reason, Message string
}

func conds(cs v1.Conditions) []cond {
	var out []cond
	for _, c := range cs {
		out = append(out, cond{c.Type, c.Status, c.Reason, c.Message})
	}
	return out
}

// seedConfig is helloworld-go's Configuration at generation gen, observed
// at observed, with a Ready condition and the given revision names.
func seedConfig(gen, observed int64, ready corev1.ConditionStatus, reason, msg, created, latestReady string) *v1.Configuration {
	c := &v1.Configuration{ObjectMeta: metav1.ObjectMeta{Name: "helloworld-go", Namespace: "default", Generation: gen}}
	c.Status.ObservedGeneration = observed
	c.Status.Conditions = v1.Conditions{{Type: v1.ConfigurationConditionReady, Status: ready, Reason: reason, Message: msg}}
	c.Status.LatestCreatedRevisionName = created
	c.Status.LatestReadyRevisionName = latestReady
	return c
}

// seedRoute is helloworld-go's Route at generation gen, observed at
// observed, following the Configuration, with status traffic on rev.
func seedRoute(gen, observed int64, ready corev1.ConditionStatus, reason, msg, rev string) *v1.Route {
	r := &v1.Route{ObjectMeta: metav1.ObjectMeta{Name: "helloworld-go", Namespace: "default", Generation: gen}}
	r.Spec.Traffic = []v1.TrafficTarget{{ConfigurationName: "helloworld-go", LatestRevision: ptr(true), Percent: ptr[int64](100)}}
	r.Status.ObservedGeneration = observed
	r.Status.Conditions = v1.Conditions{{Type: v1.RouteConditionReady, Status: ready, Reason: reason, Message: msg}}
	r.Status.URL = "http://helloworld-go.default.svc.cluster.local"
	r.Status.Address = &v1.Addressable{URL: "http://helloworld-go.default.svc.cluster.local"}
	if rev != "" {
		r.Status.Traffic = []v1.TrafficTarget{{RevisionName: rev, LatestRevision: ptr(true), Percent: ptr[int64](100)}}
	}
	return r
}

func TestPropagateStatus(t *testing.T) {
	const (
		outOfDateCfg   = "The Configuration is still working to reflect the latest desired specification."
		outOfDateRoute = "The Route is still working to reflect the latest desired specification."
		notMigrated    = "Traffic is not yet migrated to the latest revision."
		failedMsg      = `Revision "helloworld-go-00002" failed with message: Unable to fetch image.`
		waitingMsg     = `Configuration "helloworld-go" is waiting for a Revision to become ready.`
	)
	tests := []struct {
		name      string
		byo       bool
		cfg       *v1.Configuration
		route     *v1.Route
		wantCont  bool
		want      []cond
		wantNames v1.ConfigurationStatusFields
	}{{
		name:     "steady state: everything ready",
		cfg:      seedConfig(1, 1, True, "", "", "helloworld-go-00001", "helloworld-go-00001"),
		route:    seedRoute(1, 1, True, "", "", "helloworld-go-00001"),
		wantCont: true,
		want: []cond{
			{"ConfigurationsReady", True, "", ""},
			{"Ready", True, "", ""},
			{"RoutesReady", True, "", ""},
		},
		wantNames: v1.ConfigurationStatusFields{LatestCreatedRevisionName: "helloworld-go-00001", LatestReadyRevisionName: "helloworld-go-00001"},
	}, {
		name:     "first revision not ready yet",
		cfg:      seedConfig(1, 1, Unknown, "", "", "helloworld-go-00001", ""),
		route:    seedRoute(1, 1, Unknown, "RevisionMissing", waitingMsg, ""),
		wantCont: true,
		want: []cond{
			{"ConfigurationsReady", Unknown, "", ""},
			{"Ready", Unknown, "RevisionMissing", waitingMsg},
			{"RoutesReady", Unknown, "RevisionMissing", waitingMsg},
		},
		wantNames: v1.ConfigurationStatusFields{LatestCreatedRevisionName: "helloworld-go-00001"},
	}, {
		name:     "configuration behind: OutOfDate, names not copied",
		cfg:      seedConfig(2, 1, True, "", "", "helloworld-go-00001", "helloworld-go-00001"),
		route:    seedRoute(1, 1, True, "", "", "helloworld-go-00001"),
		wantCont: true,
		want: []cond{
			{"ConfigurationsReady", Unknown, "OutOfDate", outOfDateCfg},
			{"Ready", Unknown, "OutOfDate", outOfDateCfg},
			{"RoutesReady", True, "", ""},
		},
	}, {
		name: "configuration behind with a bring-your-own name: stop before the route",
		byo:  true,
		cfg:  seedConfig(2, 1, True, "", "", "helloworld-go-00001", "helloworld-go-00001"),
		want: []cond{
			{"ConfigurationsReady", Unknown, "OutOfDate", outOfDateCfg},
			{"Ready", Unknown, "OutOfDate", outOfDateCfg},
			{"RoutesReady", Unknown, "", ""},
		},
	}, {
		name:     "failed newest revision: Ready False while traffic stays on the old one",
		cfg:      seedConfig(2, 2, False, "RevisionFailed", failedMsg, "helloworld-go-00002", "helloworld-go-00001"),
		route:    seedRoute(1, 1, True, "", "", "helloworld-go-00001"),
		wantCont: true,
		want: []cond{
			{"ConfigurationsReady", False, "RevisionFailed", failedMsg},
			{"Ready", False, "RevisionFailed", failedMsg},
			{"RoutesReady", True, "", ""},
		},
		wantNames: v1.ConfigurationStatusFields{LatestCreatedRevisionName: "helloworld-go-00002", LatestReadyRevisionName: "helloworld-go-00001"},
	}, {
		name:     "route behind: OutOfDate",
		cfg:      seedConfig(1, 1, True, "", "", "helloworld-go-00001", "helloworld-go-00001"),
		route:    seedRoute(2, 1, True, "", "", "helloworld-go-00001"),
		wantCont: true,
		want: []cond{
			{"ConfigurationsReady", True, "", ""},
			{"Ready", Unknown, "OutOfDate", outOfDateRoute},
			{"RoutesReady", Unknown, "OutOfDate", outOfDateRoute},
		},
		wantNames: v1.ConfigurationStatusFields{LatestCreatedRevisionName: "helloworld-go-00001", LatestReadyRevisionName: "helloworld-go-00001"},
	}, {
		name:     "route ready but still on the previous revision: TrafficNotMigrated",
		cfg:      seedConfig(2, 2, True, "", "", "helloworld-go-00002", "helloworld-go-00002"),
		route:    seedRoute(1, 1, True, "", "", "helloworld-go-00001"),
		wantCont: true,
		want: []cond{
			{"ConfigurationsReady", True, "", ""},
			{"Ready", Unknown, "TrafficNotMigrated", notMigrated},
			{"RoutesReady", Unknown, "TrafficNotMigrated", notMigrated},
		},
		wantNames: v1.ConfigurationStatusFields{LatestCreatedRevisionName: "helloworld-go-00002", LatestReadyRevisionName: "helloworld-go-00002"},
	}, {
		name: "route ready with a different number of status entries: TrafficNotMigrated",
		cfg:  seedConfig(1, 1, True, "", "", "helloworld-go-00001", "helloworld-go-00001"),
		route: func() *v1.Route {
			r := seedRoute(1, 1, True, "", "", "helloworld-go-00001")
			r.Status.Traffic = append(r.Status.Traffic, v1.TrafficTarget{RevisionName: "helloworld-go-00000", Percent: ptr[int64](0)})
			return r
		}(),
		wantCont: true,
		want: []cond{
			{"ConfigurationsReady", True, "", ""},
			{"Ready", Unknown, "TrafficNotMigrated", notMigrated},
			{"RoutesReady", Unknown, "TrafficNotMigrated", notMigrated},
		},
		wantNames: v1.ConfigurationStatusFields{LatestCreatedRevisionName: "helloworld-go-00001", LatestReadyRevisionName: "helloworld-go-00001"},
	}, {
		name: "tags and pinned revisions migrated; url and latestRevision are ignored",
		cfg:  seedConfig(2, 2, True, "", "", "helloworld-go-00002", "helloworld-go-00002"),
		route: func() *v1.Route {
			r := seedRoute(1, 1, True, "", "", "")
			r.Spec.Traffic = []v1.TrafficTarget{
				{Tag: "old", RevisionName: "helloworld-go-00001", LatestRevision: ptr(false), Percent: ptr[int64](50)},
				{Tag: "latest", ConfigurationName: "helloworld-go", LatestRevision: ptr(true), Percent: ptr[int64](50)},
			}
			r.Status.Traffic = []v1.TrafficTarget{
				{Tag: "old", RevisionName: "helloworld-go-00001", Percent: ptr[int64](50), URL: "http://old-helloworld-go.default.example.com"},
				{Tag: "latest", RevisionName: "helloworld-go-00002", LatestRevision: ptr(true), Percent: ptr[int64](50), URL: "http://latest-helloworld-go.default.example.com"},
			}
			return r
		}(),
		wantCont: true,
		want: []cond{
			{"ConfigurationsReady", True, "", ""},
			{"Ready", True, "", ""},
			{"RoutesReady", True, "", ""},
		},
		wantNames: v1.ConfigurationStatusFields{LatestCreatedRevisionName: "helloworld-go-00002", LatestReadyRevisionName: "helloworld-go-00002"},
	}, {
		name: "different percent: TrafficNotMigrated",
		cfg:  seedConfig(1, 1, True, "", "", "helloworld-go-00001", "helloworld-go-00001"),
		route: func() *v1.Route {
			r := seedRoute(1, 1, True, "", "", "helloworld-go-00001")
			r.Status.Traffic[0].Percent = ptr[int64](99)
			return r
		}(),
		wantCont: true,
		want: []cond{
			{"ConfigurationsReady", True, "", ""},
			{"Ready", Unknown, "TrafficNotMigrated", notMigrated},
			{"RoutesReady", Unknown, "TrafficNotMigrated", notMigrated},
		},
		wantNames: v1.ConfigurationStatusFields{LatestCreatedRevisionName: "helloworld-go-00001", LatestReadyRevisionName: "helloworld-go-00001"},
	}, {
		name:     "route failed: its reason reaches the Service",
		cfg:      seedConfig(1, 1, True, "", "", "helloworld-go-00001", "helloworld-go-00001"),
		route:    seedRoute(1, 1, False, "RevisionMissing", `Revision "helloworld-go-00001" failed to become ready.`, ""),
		wantCont: true,
		want: []cond{
			{"ConfigurationsReady", True, "", ""},
			{"Ready", False, "RevisionMissing", `Revision "helloworld-go-00001" failed to become ready.`},
			{"RoutesReady", False, "RevisionMissing", `Revision "helloworld-go-00001" failed to become ready.`},
		},
		wantNames: v1.ConfigurationStatusFields{LatestCreatedRevisionName: "helloworld-go-00001", LatestReadyRevisionName: "helloworld-go-00001"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc := seedService(t)
			svc.Status.InitializeConditions(now)
			if tc.byo {
				svc.Spec.Template.Name = "helloworld-go-v2"
				tc.cfg.Spec.Template.Name = "helloworld-go-v2"
			}
			cont := PropagateConfigurationStatus(svc, tc.cfg, now)
			if cont != tc.wantCont {
				t.Fatalf("PropagateConfigurationStatus = %v, want %v", cont, tc.wantCont)
			}
			if cont {
				PropagateRouteStatus(svc, tc.cfg, tc.route, now)
			}
			if diff := cmp.Diff(tc.want, conds(svc.Status.Conditions)); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantNames, svc.Status.ConfigurationStatusFields); diff != "" {
				t.Errorf("revision names (-want +got):\n%s", diff)
			}
			if tc.route != nil && tc.route.Generation == tc.route.Status.ObservedGeneration {
				if diff := cmp.Diff(tc.route.Status.RouteStatusFields, svc.Status.RouteStatusFields); diff != "" {
					t.Errorf("url, address, traffic (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestSeedSteadyState checks the Service status against the one Knative
// shows for the seed once everything is ready (seed-example.md §4).
func TestSeedSteadyState(t *testing.T) {
	svc := seedService(t)
	svc.Status.InitializeConditions(now)
	cfg := MakeConfiguration(svc)
	cfg.Generation, cfg.Status.ObservedGeneration = 1, 1
	cfg.Status.InitializeConditions(now)
	cfg.Status.SetLatestCreatedRevisionName(now, "helloworld-go-00001")
	cfg.Status.SetLatestReadyRevisionName(now, "helloworld-go-00001")

	route := MakeRoute(svc)
	route.Generation, route.Status.ObservedGeneration = 1, 1
	route.Status.InitializeConditions(now)
	route.Status.MarkTrafficAssigned(now)
	route.Status.MarkTLSNotEnabled(now, v1.MessageTLSNotEnabled)
	route.Status.PropagateIngressReady(now, True, "", "")
	route.Status.URL = "http://helloworld-go.default.svc.cluster.local"
	route.Status.Address = &v1.Addressable{URL: "http://helloworld-go.default.svc.cluster.local"}
	route.Status.Traffic = []v1.TrafficTarget{{RevisionName: "helloworld-go-00001", LatestRevision: ptr(true), Percent: ptr[int64](100)}}

	later := now.Add(time.Minute)
	if !PropagateConfigurationStatus(svc, cfg, later) {
		t.Fatal("PropagateConfigurationStatus = false")
	}
	PropagateRouteStatus(svc, cfg, route, later)
	svc.Status.ObservedGeneration = svc.Generation

	want := v1.ServiceStatus{
		Status: v1.Status{
			ObservedGeneration: 1,
			Conditions: v1.Conditions{
				{Type: "ConfigurationsReady", Status: True},
				{Type: "Ready", Status: True},
				{Type: "RoutesReady", Status: True},
			},
		},
		ConfigurationStatusFields: v1.ConfigurationStatusFields{
			LatestCreatedRevisionName: "helloworld-go-00001",
			LatestReadyRevisionName:   "helloworld-go-00001",
		},
		RouteStatusFields: v1.RouteStatusFields{
			URL:     "http://helloworld-go.default.svc.cluster.local",
			Address: &v1.Addressable{URL: "http://helloworld-go.default.svc.cluster.local"},
			Traffic: []v1.TrafficTarget{{RevisionName: "helloworld-go-00001", LatestRevision: ptr(true), Percent: ptr[int64](100)}},
		},
	}
	if diff := cmp.Diff(want, svc.Status, cmpopts.IgnoreFields(v1.Condition{}, "LastTransitionTime")); diff != "" {
		t.Errorf("Service status (-want +got):\n%s", diff)
	}
	if !svc.IsReady() {
		t.Error("svc.IsReady() = false")
	}
	for _, c := range svc.Status.Conditions {
		if !c.LastTransitionTime.Time.Equal(later) {
			t.Errorf("%s lastTransitionTime = %v, want %v", c.Type, c.LastTransitionTime, later)
		}
	}

	// Reconciling again changes nothing, not even a transition time.
	before := svc.Status.DeepCopy()
	PropagateConfigurationStatus(svc, cfg, later.Add(time.Hour))
	PropagateRouteStatus(svc, cfg, route, later.Add(time.Hour))
	if diff := cmp.Diff(before, &svc.Status); diff != "" {
		t.Errorf("second reconcile changed the status (-want +got):\n%s", diff)
	}
	// The Service's copy of the traffic is not shared with the Route.
	*route.Status.Traffic[0].Percent = 1
	if got := *svc.Status.Traffic[0].Percent; got != 100 {
		t.Errorf("Service traffic percent = %d after editing the Route's, want 100", got)
	}
}
