package v1_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	servingv1 "github.com/servekit/servekit/serving/v1"
)

var (
	t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	t1 = t0.Add(time.Second)
	t2 = t0.Add(2 * time.Second)
	t3 = t0.Add(3 * time.Second)
)

// cond is a condition without its time, for comparisons.
type cond struct {
	Type            servingv1.ConditionType
	Status          corev1.ConditionStatus
	Reason, Message string
}

func conds(s servingv1.Status) []cond {
	var out []cond
	for _, c := range s.Conditions {
		out = append(out, cond{c.Type, c.Status, c.Reason, c.Message})
	}
	return out
}

const (
	T = corev1.ConditionTrue
	F = corev1.ConditionFalse
	U = corev1.ConditionUnknown
)

func TestServiceConditions(t *testing.T) {
	tests := []struct {
		name  string
		steps func(s *servingv1.ServiceStatus)
		want  []cond
	}{{
		name:  "initialized: all Unknown, sorted by type",
		steps: func(s *servingv1.ServiceStatus) { s.InitializeConditions(t0) },
		want:  []cond{{"ConfigurationsReady", U, "", ""}, {"Ready", U, "", ""}, {"RoutesReady", U, "", ""}},
	}, {
		name: "both dependents True make Ready True",
		steps: func(s *servingv1.ServiceStatus) {
			s.InitializeConditions(t0)
			s.PropagateConfigurationStatus(t1, configStatus(T, "", ""))
			s.PropagateRouteStatus(t2, routeStatus(T, "", ""))
		},
		want: []cond{{"ConfigurationsReady", T, "", ""}, {"Ready", T, "", ""}, {"RoutesReady", T, "", ""}},
	}, {
		name: "a failed latest revision: ConfigurationsReady False, RoutesReady True, Ready False with the reason",
		steps: func(s *servingv1.ServiceStatus) {
			s.InitializeConditions(t0)
			s.PropagateRouteStatus(t1, routeStatus(T, "", ""))
			s.PropagateConfigurationStatus(t2, configStatus(F, "RevisionFailed", `Revision "hello-00002" failed with message: boom.`))
		},
		want: []cond{
			{"ConfigurationsReady", F, "RevisionFailed", `Revision "hello-00002" failed with message: boom.`},
			{"Ready", F, "RevisionFailed", `Revision "hello-00002" failed with message: boom.`},
			{"RoutesReady", T, "", ""},
		},
	}, {
		name: "Unknown does not hide a False dependent",
		steps: func(s *servingv1.ServiceStatus) {
			s.InitializeConditions(t0)
			s.MarkConfigurationNotOwned(t1, "hello")
			s.MarkRouteNotReconciled(t2)
		},
		want: []cond{
			{"ConfigurationsReady", F, "NotOwned", `There is an existing Configuration "hello" that we do not own.`},
			{"Ready", F, "NotOwned", `There is an existing Configuration "hello" that we do not own.`},
			{"RoutesReady", U, "OutOfDate", "The Route is still working to reflect the latest desired specification."},
		},
	}, {
		name: "traffic not migrated keeps Ready Unknown",
		steps: func(s *servingv1.ServiceStatus) {
			s.InitializeConditions(t0)
			s.PropagateConfigurationStatus(t1, configStatus(T, "", ""))
			s.PropagateRouteStatus(t1, routeStatus(T, "", ""))
			s.MarkRouteNotYetReady(t2)
		},
		want: []cond{
			{"ConfigurationsReady", T, "", ""},
			{"Ready", U, "TrafficNotMigrated", "Traffic is not yet migrated to the latest revision."},
			{"RoutesReady", U, "TrafficNotMigrated", "Traffic is not yet migrated to the latest revision."},
		},
	}, {
		name: "recovery: Ready True again once the failed dependent is True",
		steps: func(s *servingv1.ServiceStatus) {
			s.InitializeConditions(t0)
			s.MarkRevisionNameTaken(t1, "hello-v1")
			s.PropagateConfigurationStatus(t2, configStatus(T, "", ""))
			s.PropagateRouteStatus(t3, routeStatus(T, "", ""))
		},
		want: []cond{{"ConfigurationsReady", T, "", ""}, {"Ready", T, "", ""}, {"RoutesReady", T, "", ""}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s servingv1.ServiceStatus
			tc.steps(&s)
			if diff := cmp.Diff(tc.want, conds(s.Status)); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
		})
	}
}

func configStatus(status corev1.ConditionStatus, reason, msg string) *servingv1.ConfigurationStatus {
	cs := &servingv1.ConfigurationStatus{}
	cs.LatestCreatedRevisionName = "hello-00002"
	cs.LatestReadyRevisionName = "hello-00001"
	cs.Conditions = servingv1.Conditions{{Type: servingv1.ConditionReady, Status: status, Reason: reason, Message: msg}}
	return cs
}

func routeStatus(status corev1.ConditionStatus, reason, msg string) *servingv1.RouteStatus {
	rs := &servingv1.RouteStatus{}
	rs.URL = "http://hello.default.svc.cluster.local"
	rs.Address = &servingv1.Addressable{URL: "http://hello.default.svc.cluster.local"}
	rs.Traffic = []servingv1.TrafficTarget{{RevisionName: "hello-00001", LatestRevision: ptr(true), Percent: ptr[int64](100)}}
	rs.Conditions = servingv1.Conditions{{Type: servingv1.ConditionReady, Status: status, Reason: reason, Message: msg}}
	return rs
}

func TestPropagateCopiesFields(t *testing.T) {
	var s servingv1.ServiceStatus
	rs := routeStatus(T, "", "")
	s.PropagateRouteStatus(t0, rs)
	s.PropagateConfigurationStatus(t0, configStatus(U, "", ""))
	want := servingv1.ServiceStatus{
		ConfigurationStatusFields: servingv1.ConfigurationStatusFields{LatestCreatedRevisionName: "hello-00002", LatestReadyRevisionName: "hello-00001"},
		RouteStatusFields:         rs.RouteStatusFields,
	}
	if diff := cmp.Diff(want.ConfigurationStatusFields, s.ConfigurationStatusFields); diff != "" {
		t.Errorf("configuration fields (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want.RouteStatusFields, s.RouteStatusFields); diff != "" {
		t.Errorf("route fields (-want +got):\n%s", diff)
	}
	*rs.Traffic[0].Percent = 1
	if *s.Traffic[0].Percent != 100 {
		t.Errorf("service traffic shares memory with the route's status")
	}
}

func TestConditionManagerSemantics(t *testing.T) {
	t.Run("Ready copies the most recently changed False dependent", func(t *testing.T) {
		var rs servingv1.RouteStatus
		rs.InitializeConditions(t0)
		rs.MarkMissingTrafficTarget(t1, "Configuration", "a")
		rs.MarkPlaceholderServiceNotOwned(t2, "hello")
		rs.MarkTLSNotEnabled(t3, servingv1.MessageTLSNotEnabled)
		want := []cond{
			{"AllTrafficAssigned", F, "ConfigurationMissing", `Configuration "a" referenced in traffic not found.`},
			{"CertificateProvisioned", T, "TLSNotEnabled", "external-domain-tls is not enabled"},
			{"IngressReady", F, "NotOwned", `There is an existing placeholder Service "hello" that we do not own.`},
			{"Ready", F, "NotOwned", `There is an existing placeholder Service "hello" that we do not own.`},
		}
		if diff := cmp.Diff(want, conds(rs.Status)); diff != "" {
			t.Errorf("conditions (-want +got):\n%s", diff)
		}
	})
	t.Run("an unchanged condition keeps its transition time", func(t *testing.T) {
		var cs servingv1.ConfigurationStatus
		cs.InitializeConditions(t0)
		cs.MarkRevisionCreationFailed(t1, "quota")
		cs.MarkRevisionCreationFailed(t2, "quota")
		if got := cs.GetCondition(servingv1.ConditionReady).LastTransitionTime.Time; !got.Equal(t1) {
			t.Errorf("lastTransitionTime = %v, want %v", got, t1)
		}
		cs.MarkRevisionCreationFailed(t3, "other")
		if got := cs.GetCondition(servingv1.ConditionReady).LastTransitionTime.Time; !got.Equal(t3) {
			t.Errorf("lastTransitionTime = %v, want %v", got, t3)
		}
	})
	t.Run("Initialize with Ready True fills missing dependents True", func(t *testing.T) {
		var s servingv1.ServiceStatus
		s.Conditions = servingv1.Conditions{{Type: servingv1.ConditionReady, Status: T}}
		s.InitializeConditions(t0)
		want := []cond{{"ConfigurationsReady", T, "", ""}, {"Ready", T, "", ""}, {"RoutesReady", T, "", ""}}
		if diff := cmp.Diff(want, conds(s.Status)); diff != "" {
			t.Errorf("conditions (-want +got):\n%s", diff)
		}
	})
}

func TestConfigurationLatestRevisions(t *testing.T) {
	var cs servingv1.ConfigurationStatus
	cs.InitializeConditions(t0)
	cs.SetLatestCreatedRevisionName(t0, "hello-00001")
	cs.SetLatestReadyRevisionName(t1, "hello-00001")
	if !cs.GetCondition(servingv1.ConditionReady).IsTrue() {
		t.Fatalf("Ready = %+v, want True once latest ready = latest created", cs.GetCondition(servingv1.ConditionReady))
	}
	cs.SetLatestCreatedRevisionName(t2, "hello-00002")
	if c := cs.GetCondition(servingv1.ConditionReady); !c.IsUnknown() {
		t.Errorf("Ready = %+v, want Unknown while a new revision is pending", c)
	}
	cs.MarkLatestCreatedFailed(t3, "hello-00002", "Container failed with: exit 1")
	want := []cond{{"Ready", F, "RevisionFailed", `Revision "hello-00002" failed with message: Container failed with: exit 1.`}}
	if diff := cmp.Diff(want, conds(cs.Status)); diff != "" {
		t.Errorf("conditions (-want +got):\n%s", diff)
	}
	if cs.LatestReadyRevisionName != "hello-00001" {
		t.Errorf("latestReady = %q, want it to stay on hello-00001", cs.LatestReadyRevisionName)
	}
	cs.MarkLatestReadyDeleted(t3)
	if c := cs.GetCondition(servingv1.ConditionReady); c.Reason != "RevisionDeleted" || c.Message != `Revision "hello-00001" was deleted.` {
		t.Errorf("Ready = %+v", c)
	}
}

func TestRevisionConditions(t *testing.T) {
	var rs servingv1.RevisionStatus
	rs.InitializeConditions(t0)
	rs.MarkResourcesAvailableTrue(t1)
	rs.MarkContainerHealthyTrue(t1)
	rs.MarkActiveFalse(t2, servingv1.ReasonNoTraffic, "The target is not receiving traffic.")
	want := []cond{
		{"Active", F, "NoTraffic", "The target is not receiving traffic."},
		{"ContainerHealthy", T, "", ""},
		{"Ready", T, "", ""},
		{"ResourcesAvailable", T, "", ""},
	}
	if diff := cmp.Diff(want, conds(rs.Status)); diff != "" {
		t.Errorf("scaled to zero (-want +got):\n%s", diff)
	}
	rs.MarkContainerMissing(t3, "ghcr.io/x/y:v1", errors.New("unauthorized"))
	ready := rs.GetCondition(servingv1.ConditionReady)
	got := cond{ready.Type, ready.Status, ready.Reason, ready.Message}
	want = []cond{{"Ready", F, "ContainerMissing", `Unable to fetch image "ghcr.io/x/y:v1": failed to resolve image to digest: unauthorized`}}
	if got != want[0] {
		t.Errorf("Ready = %+v, want %+v", got, want)
	}
}

func TestRouteConditionMessages(t *testing.T) {
	tests := []struct {
		name string
		mark func(rs *servingv1.RouteStatus)
		want cond
	}{
		{"config not ready", func(rs *servingv1.RouteStatus) { rs.MarkConfigurationNotReady(t1, "hello") },
			cond{"AllTrafficAssigned", U, "RevisionMissing", `Configuration "hello" is waiting for a Revision to become ready.`}},
		{"config failed", func(rs *servingv1.RouteStatus) { rs.MarkConfigurationFailed(t1, "hello") },
			cond{"AllTrafficAssigned", F, "RevisionMissing", `Configuration "hello" does not have any ready Revision.`}},
		{"revision not ready", func(rs *servingv1.RouteStatus) { rs.MarkRevisionNotReady(t1, "hello-00001") },
			cond{"AllTrafficAssigned", U, "RevisionMissing", `Revision "hello-00001" is not yet ready.`}},
		{"revision failed", func(rs *servingv1.RouteStatus) { rs.MarkRevisionFailed(t1, "hello-00001") },
			cond{"AllTrafficAssigned", F, "RevisionMissing", `Revision "hello-00001" failed to become ready.`}},
		{"missing revision", func(rs *servingv1.RouteStatus) { rs.MarkMissingTrafficTarget(t1, "Revision", "x") },
			cond{"AllTrafficAssigned", F, "RevisionMissing", `Revision "x" referenced in traffic not found.`}},
		{"not owned", func(rs *servingv1.RouteStatus) { rs.MarkRevisionNotOwned(t1, "x-00001", "x", "hello") },
			cond{"AllTrafficAssigned", F, "RevisionNotOwned", `Revision "x-00001" belongs to Service "x", not Service "hello".`}},
		{"not owned by any", func(rs *servingv1.RouteStatus) { rs.MarkRevisionNotOwned(t1, "x-00001", "", "hello") },
			cond{"AllTrafficAssigned", F, "RevisionNotOwned", `Revision "x-00001" does not belong to Service "hello".`}},
		{"unknown error", func(rs *servingv1.RouteStatus) { rs.MarkUnknownTrafficError(t1, "boom") },
			cond{"AllTrafficAssigned", U, "Unknown", "boom"}},
		{"domain error", func(rs *servingv1.RouteStatus) { rs.MarkDomainError(t1, `domain name error: invalid domain name "x"`) },
			cond{"AllTrafficAssigned", F, "ErrorConfig", `domain name error: invalid domain name "x"`}},
		{"ingress not configured", func(rs *servingv1.RouteStatus) { rs.MarkIngressNotConfigured(t1) },
			cond{"IngressReady", U, "IngressNotConfigured", "Ingress has not yet been reconciled."}},
		{"rollout", func(rs *servingv1.RouteStatus) { rs.MarkIngressRolloutInProgress(t1) },
			cond{"IngressReady", U, "RolloutInProgress", "A gradual rollout of the latest revision(s) is in progress."}},
		{"ingress mirrored", func(rs *servingv1.RouteStatus) { rs.PropagateIngressReady(t1, F, "LBFailed", "no lb") },
			cond{"IngressReady", F, "LBFailed", "no lb"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rs servingv1.RouteStatus
			rs.InitializeConditions(t0)
			tc.mark(&rs)
			c := rs.GetCondition(tc.want.Type)
			got := cond{c.Type, c.Status, c.Reason, c.Message}
			if got != tc.want {
				t.Errorf("%s = %+v, want %+v", tc.want.Type, got, tc.want)
			}
			ready := rs.GetCondition(servingv1.ConditionReady)
			if ready.Status != tc.want.Status || ready.Reason != tc.want.Reason {
				t.Errorf("Ready = %+v, want it to follow %+v", ready, tc.want)
			}
		})
	}

	var rs servingv1.RouteStatus
	rs.InitializeConditions(t0)
	rs.MarkTrafficAssigned(t1)
	rs.PropagateIngressReady(t1, T, "", "")
	rs.MarkCertificateProvisioned(t1)
	if !rs.ConditionManager().IsHappy() {
		t.Errorf("Route not Ready with all three dependents True: %+v", rs.Conditions)
	}
}

func TestIsReady(t *testing.T) {
	svc := &servingv1.Service{ObjectMeta: metav1.ObjectMeta{Generation: 2}}
	svc.Status.Conditions = servingv1.Conditions{{Type: servingv1.ConditionReady, Status: T}}
	svc.Status.ObservedGeneration = 1
	if svc.IsReady() {
		t.Errorf("IsReady() = true for an old generation")
	}
	svc.Status.ObservedGeneration = 2
	if !svc.IsReady() || svc.IsFailed() {
		t.Errorf("IsReady() = %v, IsFailed() = %v, want true, false", svc.IsReady(), svc.IsFailed())
	}
	rev := &servingv1.Revision{}
	rev.Status.Conditions = servingv1.Conditions{{Type: servingv1.ConditionReady, Status: F}}
	if !rev.IsFailed() || rev.IsReady() {
		t.Errorf("Revision IsFailed() = %v, want true", rev.IsFailed())
	}
}

func TestReconcileWrapper(t *testing.T) {
	svc := &servingv1.Service{ObjectMeta: metav1.ObjectMeta{Generation: 2}}
	svc.Status.ObservedGeneration = 1
	svc.Status.Conditions = servingv1.Conditions{
		{Type: "ConfigurationsReady", Status: T}, {Type: "Ready", Status: T}, {Type: "RoutesReady", Status: T},
	}
	m := svc.Status.ConditionManager()
	m.BeginReconcile(t1, svc.Generation)
	want := []cond{
		{"ConfigurationsReady", T, "", ""},
		{"Ready", U, "NewObservedGenFailure", "unsuccessfully observed a new generation"},
		{"RoutesReady", T, "", ""},
	}
	if diff := cmp.Diff(want, conds(svc.Status.Status)); diff != "" {
		t.Errorf("after BeginReconcile (-want +got):\n%s", diff)
	}
	svc.Status.PropagateRouteStatus(t2, routeStatus(T, "", ""))
	m.EndReconcile(svc.Generation)
	if !svc.IsReady() {
		t.Errorf("IsReady() = false after a clean reconcile: %+v", svc.Status)
	}
}
