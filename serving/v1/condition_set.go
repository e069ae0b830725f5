package v1

import (
	"reflect"
	"slices"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ConditionReady is the happy condition of every serving kind.
const ConditionReady ConditionType = "Ready"

// ConditionSet is Knative's "living" condition set: one happy condition
// (Ready) that summarises a list of dependent conditions. The zero value
// has no happy condition and must not be used; build one with
// NewLivingConditionSet.
type ConditionSet struct {
	happy      ConditionType
	dependents []ConditionType
}

// NewLivingConditionSet returns a set whose happy condition is Ready and
// whose Ready depends on the given conditions.
func NewLivingConditionSet(dependents ...ConditionType) ConditionSet {
	return ConditionSet{happy: ConditionReady, dependents: slices.Clone(dependents)}
}

// Manage returns a ConditionManager that reads and writes s's conditions.
func (cs ConditionSet) Manage(s *Status) ConditionManager {
	return ConditionManager{set: cs, status: s}
}

// ConditionManager applies Knative's condition semantics to one Status.
// Every method that changes a condition takes now, the time recorded as
// lastTransitionTime when the condition actually changes.
type ConditionManager struct {
	set    ConditionSet
	status *Status
}

// severity is Error for the happy condition and its dependents, Info for
// any other condition (which then never affects Ready).
func (m ConditionManager) severity(t ConditionType) ConditionSeverity {
	if t == m.set.happy || slices.Contains(m.set.dependents, t) {
		return ConditionSeverityError
	}
	return ConditionSeverityInfo
}

// GetCondition returns the condition of type t, or nil.
func (m ConditionManager) GetCondition(t ConditionType) *Condition {
	return m.status.GetCondition(t)
}

// IsHappy reports whether the happy condition (Ready) is True.
func (m ConditionManager) IsHappy() bool {
	return m.GetCondition(m.set.happy).IsTrue()
}

// SetCondition stores c, replacing the condition of the same type, and
// keeps the list sorted by type. If only lastTransitionTime would change,
// nothing changes; otherwise lastTransitionTime becomes now.
func (m ConditionManager) SetCondition(now time.Time, c Condition) {
	conds := make(Conditions, 0, len(m.status.Conditions)+1)
	for _, old := range m.status.Conditions {
		if old.Type != c.Type {
			conds = append(conds, old)
			continue
		}
		c.LastTransitionTime = old.LastTransitionTime
		if reflect.DeepEqual(c, old) {
			return
		}
	}
	c.LastTransitionTime = metav1.NewTime(now)
	conds = append(conds, c)
	sort.SliceStable(conds, func(i, j int) bool { return conds[i].Type < conds[j].Type })
	m.status.Conditions = conds
}

// InitializeConditions adds the happy condition as Unknown if it is
// missing, and each missing dependent as Unknown (or True when Ready is
// already True).
func (m ConditionManager) InitializeConditions(now time.Time) {
	happy := m.GetCondition(m.set.happy)
	if happy == nil {
		m.SetCondition(now, Condition{Type: m.set.happy, Status: corev1.ConditionUnknown})
		happy = m.GetCondition(m.set.happy)
	}
	status := corev1.ConditionUnknown
	if happy.IsTrue() {
		status = corev1.ConditionTrue
	}
	for _, t := range m.set.dependents {
		if m.GetCondition(t) == nil {
			m.SetCondition(now, Condition{Type: t, Status: status})
		}
	}
}

// MarkTrue sets t True and recomputes Ready.
func (m ConditionManager) MarkTrue(now time.Time, t ConditionType) {
	m.SetCondition(now, Condition{Type: t, Status: corev1.ConditionTrue, Severity: m.severity(t)})
	m.recomputeHappiness(now, t)
}

// MarkTrueWithReason sets t True with a reason and message, and recomputes
// Ready.
func (m ConditionManager) MarkTrueWithReason(now time.Time, t ConditionType, reason, message string) {
	m.SetCondition(now, Condition{Type: t, Status: corev1.ConditionTrue, Reason: reason, Message: message, Severity: m.severity(t)})
	m.recomputeHappiness(now, t)
}

// recomputeHappiness makes Ready copy the most recently changed False
// dependent, else the most recently changed Unknown one, else Unknown if a
// dependent is missing, else True.
func (m ConditionManager) recomputeHappiness(now time.Time, t ConditionType) {
	if c := m.findUnhappyDependent(); c != nil {
		m.SetCondition(now, Condition{Type: m.set.happy, Status: c.Status, Reason: c.Reason, Message: c.Message, Severity: m.severity(m.set.happy)})
	} else if t != m.set.happy {
		m.SetCondition(now, Condition{Type: m.set.happy, Status: corev1.ConditionTrue, Severity: m.severity(m.set.happy)})
	}
}

func (m ConditionManager) findUnhappyDependent() *Condition {
	if len(m.set.dependents) == 0 {
		return nil
	}
	var conds Conditions
	for _, c := range m.status.Conditions {
		if c.Severity == ConditionSeverityError && c.Type != m.set.happy {
			conds = append(conds, c)
		}
	}
	// Newest first: Ready reports the most recent problem.
	sort.SliceStable(conds, func(i, j int) bool {
		return conds[i].LastTransitionTime.After(conds[j].LastTransitionTime.Time)
	})
	for i := range conds {
		if conds[i].IsFalse() {
			return &conds[i]
		}
	}
	for i := range conds {
		if conds[i].IsUnknown() {
			return &conds[i]
		}
	}
	if len(m.set.dependents) > len(conds) {
		return &Condition{Status: corev1.ConditionUnknown}
	}
	return nil
}

// MarkUnknown sets t Unknown. If a dependent is False, Ready is made False
// (with this reason and message) unless it already is; otherwise, if t is
// a dependent, Ready becomes Unknown with this reason and message.
func (m ConditionManager) MarkUnknown(now time.Time, t ConditionType, reason, message string) {
	m.SetCondition(now, Condition{Type: t, Status: corev1.ConditionUnknown, Reason: reason, Message: message, Severity: m.severity(t)})
	isDependent := false
	for _, dep := range m.set.dependents {
		if m.GetCondition(dep).IsFalse() {
			if !m.GetCondition(m.set.happy).IsFalse() {
				m.MarkFalse(now, m.set.happy, reason, message)
			}
			return
		}
		if dep == t {
			isDependent = true
		}
	}
	if isDependent {
		m.SetCondition(now, Condition{Type: m.set.happy, Status: corev1.ConditionUnknown, Reason: reason, Message: message, Severity: m.severity(m.set.happy)})
	}
}

// MarkFalse sets t False and, if t is a dependent, Ready False too, both
// with this reason and message.
func (m ConditionManager) MarkFalse(now time.Time, t ConditionType, reason, message string) {
	types := []ConditionType{t}
	if slices.Contains(m.set.dependents, t) {
		types = append(types, m.set.happy)
	}
	for _, ct := range types {
		m.SetCondition(now, Condition{Type: ct, Status: corev1.ConditionFalse, Reason: reason, Message: message, Severity: m.severity(ct)})
	}
}

// GetCondition returns the condition of type t, or nil. The result points
// into s.Conditions.
func (s *Status) GetCondition(t ConditionType) *Condition {
	if s == nil {
		return nil
	}
	for i := range s.Conditions {
		if s.Conditions[i].Type == t {
			return &s.Conditions[i]
		}
	}
	return nil
}

// isReady is Knative's IsReady: the status describes the current
// generation and Ready is True.
func isReady(meta *metav1.ObjectMeta, s *Status) bool {
	return s.ObservedGeneration == meta.Generation && s.GetCondition(ConditionReady).IsTrue()
}

// isFailed is Knative's IsFailed: the status describes the current
// generation and Ready is False.
func isFailed(meta *metav1.ObjectMeta, s *Status) bool {
	return s.ObservedGeneration == meta.Generation && s.GetCondition(ConditionReady).IsFalse()
}

// BeginReconcile is the first step of Knative's generic reconciler: it
// initializes the conditions and, when the status describes an older
// generation, marks Ready Unknown with reason NewObservedGenFailure.
func (m ConditionManager) BeginReconcile(now time.Time, generation int64) {
	m.InitializeConditions(now)
	if m.status.ObservedGeneration != generation {
		m.MarkUnknown(now, m.set.happy, ReasonNewObservedGenFailure, MessageNewObservedGenFailure)
	}
}

// EndReconcile is the last step of Knative's generic reconciler: the
// status now describes generation, whatever the outcome.
func (m ConditionManager) EndReconcile(generation int64) {
	m.status.ObservedGeneration = generation
}
