package controller

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/autoscaler"
	"github.com/servekit/servekit/serving"
	"github.com/servekit/servekit/serving/runtime"
	v1 "github.com/servekit/servekit/serving/v1"
)

// Status is the platform's state as GET /status shows it.
type Status struct {
	// Services lists every Service, sorted by namespace and name.
	Services []ServiceStatus `json:"services"`
	// Errors lists the sources whose last version was rejected (nothing of it
	// applied; a config file's maps keep their last good values), sorted by source.
	Errors []SourceError `json:"errors,omitempty"`
}

// SourceError is a rejected source.
type SourceError struct {
	// Source names it (the manifest file, config file or image map file).
	Source string `json:"source"`
	// Error lists its problems, each with its field path.
	Error string `json:"error"`
}

// ServiceStatus is one Service.
type ServiceStatus struct {
	// Name and Namespace name the Service.
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	// URL is status.url: http://<name>.<namespace>.<domain> by default.
	URL string `json:"url"`
	// Ready is the Ready condition; Reason and Message say why when it is not True.
	Ready   bool   `json:"ready"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// LatestCreatedRevisionName and LatestReadyRevisionName are Knative's.
	LatestCreatedRevisionName string `json:"latestCreatedRevisionName"`
	LatestReadyRevisionName   string `json:"latestReadyRevisionName"`
	// Traffic is status.traffic: where requests go now.
	Traffic []TrafficStatus `json:"traffic"`
	// Revisions lists the Service's Revisions, by name.
	Revisions []RevisionStatus `json:"revisions"`
}

// TrafficStatus is one entry of a Service's status.traffic.
type TrafficStatus struct {
	// RevisionName receives Percent of the traffic.
	RevisionName string `json:"revisionName"`
	Percent      int64  `json:"percent"`
	// Tag and URL are set for a tagged target (its own host).
	Tag string `json:"tag,omitempty"`
	URL string `json:"url,omitempty"`
	// LatestRevision is true when the entry follows the latest ready Revision.
	LatestRevision bool `json:"latestRevision"`
}

// RevisionStatus is one Revision of a Service.
type RevisionStatus struct {
	// Name names the Revision.
	Name string `json:"name"`
	// DesiredScale is the replica count the autoscaler asked for.
	DesiredScale int `json:"desiredScale"`
	// ReadyPods and ActualPods count ready and existing (not terminating) pods.
	ReadyPods  int `json:"readyPods"`
	ActualPods int `json:"actualPods"`
	// ActivatorInPath is Knative's SKS proxy mode.
	ActivatorInPath bool `json:"activatorInPath"`
	// Autoscaler is the autoscaling class when it is not the KPA
	// (hpa.autoscaling.knative.dev: the runtime's HPA scales the revision);
	// AutoscalerMessage says why that HPA cannot measure or scale it.
	Autoscaler        string `json:"autoscaler,omitempty"`
	AutoscalerMessage string `json:"autoscalerMessage,omitempty"`
	// Ready is the Ready condition; Reason and Message say why when it is not True.
	Ready   bool   `json:"ready"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// Restarts counts container restarts of the current pods; LastExit is the
	// last unexpected exit.
	Restarts int    `json:"restarts,omitempty"`
	LastExit string `json:"lastExit,omitempty"`
	// Pods lists the Revision's pods, terminating ones included, as the runtime
	// reports them.
	Pods []PodStatus `json:"pods,omitempty"`
}

// PodStatus is one pod of a Revision.
type PodStatus struct {
	// Name names the pod.
	Name string `json:"name"`
	// Ready is true when the pod is in rotation (it receives new requests).
	Ready bool `json:"ready"`
	// Pending is true for a pod not started yet; Terminating for one draining
	// before it stops.
	Pending     bool `json:"pending,omitempty"`
	Terminating bool `json:"terminating,omitempty"`
	// Reason says why the pod is not ready, when the runtime knows (a Pending
	// pod's wait, a failing readiness probe).
	Reason string `json:"reason,omitempty"`
	// Restarts counts its container's restarts; LastExit is the last unexpected exit.
	Restarts int    `json:"restarts,omitempty"`
	LastExit string `json:"lastExit,omitempty"`
	// LastProbeFailure is the last failed probe of its container; nil if none.
	LastProbeFailure *ProbeFailure `json:"lastProbeFailure,omitempty"`
}

// ProbeFailure is a failed probe of a pod's container.
type ProbeFailure struct {
	// Probe is "startup", "liveness" or "readiness".
	Probe string `json:"probe"`
	// Message says how it failed.
	Message string `json:"message"`
	// Time is when it failed.
	Time time.Time `json:"time"`
}

// Status returns the current state.
func (c *Controller) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := Status{Services: make([]ServiceStatus, 0, len(c.mu.services))}
	keys := slices.SortedFunc(maps.Keys(c.mu.services), compareNames)
	// Each Service's Revisions, found in one walk over them all.
	bySvc := make(map[types.NamespacedName][]types.NamespacedName, len(c.mu.services))
	for rk, rev := range c.mu.revs {
		if svc := rev.Labels[serving.ServiceLabelKey]; svc != "" {
			sk := nsKey(rk.Namespace, svc)
			bySvc[sk] = append(bySvc[sk], rk)
		}
	}
	for _, key := range keys {
		svc := c.mu.services[key]
		ss := ServiceStatus{
			Name: key.Name, Namespace: key.Namespace, URL: svc.Status.URL,
			Ready:                     svc.IsReady(),
			LatestCreatedRevisionName: svc.Status.LatestCreatedRevisionName,
			LatestReadyRevisionName:   svc.Status.LatestReadyRevisionName,
			Traffic:                   []TrafficStatus{},
			Revisions:                 []RevisionStatus{},
		}
		if cond := svc.Status.GetCondition(v1.ServiceConditionReady); cond != nil && !cond.IsTrue() {
			ss.Reason, ss.Message = cond.Reason, cond.Message
		}
		for _, t := range svc.Status.Traffic {
			ts := TrafficStatus{RevisionName: t.RevisionName, Tag: t.Tag, URL: t.URL}
			if t.Percent != nil {
				ts.Percent = *t.Percent
			}
			if t.LatestRevision != nil {
				ts.LatestRevision = *t.LatestRevision
			}
			ss.Traffic = append(ss.Traffic, ts)
		}
		revKeys := bySvc[key]
		slices.SortFunc(revKeys, func(a, b types.NamespacedName) int { return strings.Compare(a.Name, b.Name) })
		for _, rk := range revKeys {
			ss.Revisions = append(ss.Revisions, c.revisionStatusViewLocked(rk))
		}
		out.Services = append(out.Services, ss)
	}
	for _, src := range slices.Sorted(maps.Keys(c.mu.invalid)) {
		out.Errors = append(out.Errors, SourceError{Source: src, Error: c.mu.invalid[src]})
	}
	return out
}

func (c *Controller) revisionStatusViewLocked(key types.NamespacedName) RevisionStatus {
	rev := c.mu.revs[key]
	rs := RevisionStatus{Name: key.Name, Ready: rev.IsReady(), ActivatorInPath: true}
	if cond := rev.Status.GetCondition(v1.RevisionConditionReady); cond != nil && !cond.IsTrue() {
		rs.Reason, rs.Message = cond.Reason, cond.Message
	}
	if st := c.mu.state[key]; st != nil {
		rs.DesiredScale = int(c.desiredLocked(st))
		rs.ActivatorInPath = st.dp.ActivatorInPath()
		if st.hpa {
			rs.Autoscaler = autoscaler.ClassHPA
			if hs, ok := c.backend.(runtime.HPAScaler); ok {
				rs.AutoscalerMessage = hs.HPAStatus(key).Message
			}
		}
	}
	for _, p := range c.backend.Pods(key) {
		ps := PodStatus{Name: p.Name, Ready: p.Ready && !p.Terminating, Pending: p.Pending, Terminating: p.Terminating,
			Reason: p.Reason, Restarts: p.Restarts, LastExit: p.LastExit}
		if f := p.LastProbeFailure; !f.IsZero() {
			ps.LastProbeFailure = &ProbeFailure{Probe: f.Probe, Message: f.Message, Time: f.Time}
		}
		rs.Pods = append(rs.Pods, ps)
		if p.Terminating {
			continue
		}
		rs.ActualPods++
		if p.Ready {
			rs.ReadyPods++
		}
		rs.Restarts += p.Restarts
		if p.LastExit != "" {
			rs.LastExit = p.LastExit
		}
	}
	return rs
}

// StatusHandler serves Status as JSON (GET /status on the admin listener).
func (c *Controller) StatusHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "controller: method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(c.Status())
	})
}
