package route

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fixture mirrors the objects of Knative's traffic_test.go: configurations
// with and without a ready revision, ready, unready and failed revisions.
func fixture() MapLookup {
	return MapLookup{
		Configurations: map[string]Configuration{
			"good":     {LatestReadyRevisionName: "good-00002", Ready: StatusTrue},
			"nice":     {LatestReadyRevisionName: "nice-00001", Ready: StatusTrue},
			"unready":  {Ready: StatusUnknown},
			"failed":   {Ready: StatusFalse},
			"lostrev":  {LatestReadyRevisionName: "gone-00001", Ready: StatusTrue},
			"sickrev":  {LatestReadyRevisionName: "sick-00001", Ready: StatusTrue},
			"hello-go": {LatestReadyRevisionName: "hello-go-00001", Ready: StatusTrue},
		},
		Revisions: map[string]Revision{
			"good-00001":     {Ready: StatusTrue, ConfigurationName: "good", ServiceName: "good"},
			"good-00002":     {Ready: StatusTrue, ConfigurationName: "good", ServiceName: "good"},
			"nice-00001":     {Ready: StatusTrue, ConfigurationName: "nice"},
			"pending-00001":  {Ready: StatusUnknown, ConfigurationName: "good"},
			"broken-00001":   {Ready: StatusFalse, ConfigurationName: "good"},
			"sick-00001":     {Ready: StatusFalse, ConfigurationName: "sickrev"},
			"orphan-00001":   {Ready: StatusTrue, ConfigurationName: "deleted"},
			"nolabel":        {Ready: StatusTrue},
			"hello-go-00001": {Ready: StatusTrue, ConfigurationName: "hello-go", ServiceName: "hello-go"},
		},
	}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name    string
		targets []Target
		status  []ResolvedTarget
		groups  map[string][]ResolvedTarget
	}{{
		name:    "configuration follows its latest ready revision",
		targets: []Target{{ConfigurationName: "good", Percent: pct(100)}},
		status:  []ResolvedTarget{{RevisionName: "good-00002", ConfigurationName: "good", LatestRevision: true, Percent: 100}},
		groups: map[string][]ResolvedTarget{
			"": {{RevisionName: "good-00002", ConfigurationName: "good", LatestRevision: true, Percent: 100}},
		},
	}, {
		name:    "pinned revision stays and learns its configuration",
		targets: []Target{{RevisionName: "good-00001", Percent: pct(100)}},
		status:  []ResolvedTarget{{RevisionName: "good-00001", ConfigurationName: "good", Percent: 100}},
		groups: map[string][]ResolvedTarget{
			"": {{RevisionName: "good-00001", ConfigurationName: "good", Percent: 100}},
		},
	}, {
		name: "canary 90/10 between a pinned and the latest revision",
		targets: []Target{
			{RevisionName: "good-00001", Percent: pct(90)},
			{ConfigurationName: "good", Percent: pct(10), Tag: "candidate"},
		},
		status: []ResolvedTarget{
			{RevisionName: "good-00001", ConfigurationName: "good", Percent: 90},
			{Tag: "candidate", RevisionName: "good-00002", ConfigurationName: "good", LatestRevision: true, Percent: 10},
		},
		groups: map[string][]ResolvedTarget{
			"": {
				{RevisionName: "good-00001", ConfigurationName: "good", Percent: 90},
				{Tag: "candidate", RevisionName: "good-00002", ConfigurationName: "good", LatestRevision: true, Percent: 10},
			},
			"candidate": {{Tag: "candidate", RevisionName: "good-00002", ConfigurationName: "good", LatestRevision: true, Percent: 100}},
		},
	}, {
		name: "two untagged targets of one revision merge",
		targets: []Target{
			{ConfigurationName: "good", Percent: pct(30)},
			{ConfigurationName: "good", Percent: pct(70)},
		},
		status: []ResolvedTarget{{RevisionName: "good-00002", ConfigurationName: "good", LatestRevision: true, Percent: 100}},
		groups: map[string][]ResolvedTarget{
			"": {{RevisionName: "good-00002", ConfigurationName: "good", LatestRevision: true, Percent: 100}},
		},
	}, {
		name: "pinned and latest of the same revision stay apart in status, merge in the group",
		targets: []Target{
			{RevisionName: "good-00002", Percent: pct(30)},
			{ConfigurationName: "good", Percent: pct(70)},
		},
		status: []ResolvedTarget{
			{RevisionName: "good-00002", ConfigurationName: "good", Percent: 30},
			{RevisionName: "good-00002", ConfigurationName: "good", LatestRevision: true, Percent: 70},
		},
		groups: map[string][]ResolvedTarget{
			// first-seen fields win; a single revision is forced to 100%.
			"": {{RevisionName: "good-00002", ConfigurationName: "good", Percent: 100}},
		},
	}, {
		name: "two configurations and a 0% tag-only target",
		targets: []Target{
			{ConfigurationName: "good", Percent: pct(50)},
			{ConfigurationName: "nice", Percent: pct(50)},
			{RevisionName: "good-00001", Percent: pct(0), Tag: "old"},
		},
		status: []ResolvedTarget{
			{RevisionName: "good-00002", ConfigurationName: "good", LatestRevision: true, Percent: 50},
			{RevisionName: "nice-00001", ConfigurationName: "nice", LatestRevision: true, Percent: 50},
			{Tag: "old", RevisionName: "good-00001", ConfigurationName: "good", Percent: 0},
		},
		groups: map[string][]ResolvedTarget{
			"": {
				{RevisionName: "good-00002", ConfigurationName: "good", LatestRevision: true, Percent: 50},
				{RevisionName: "nice-00001", ConfigurationName: "nice", LatestRevision: true, Percent: 50},
				{Tag: "old", RevisionName: "good-00001", ConfigurationName: "good", Percent: 0},
			},
			"old": {{Tag: "old", RevisionName: "good-00001", ConfigurationName: "good", Percent: 100}},
		},
	}, {
		name:    "pinned revision without a configuration label",
		targets: []Target{{RevisionName: "nolabel", Percent: pct(100)}},
		status:  []ResolvedTarget{{RevisionName: "nolabel", Percent: 100}},
		groups:  map[string][]ResolvedTarget{"": {{RevisionName: "nolabel", Percent: 100}}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := ValidateTargets(tc.targets); err != nil {
				t.Fatalf("fixture targets invalid: %v", err)
			}
			got, err := Resolve(tc.targets, fixture())
			if err != nil {
				t.Fatalf("Resolve() = %v", err)
			}
			if diff := cmp.Diff(tc.status, got.Targets); diff != "" {
				t.Errorf("Targets (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.groups, got.Groups); diff != "" {
				t.Errorf("Groups (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResolveErrors(t *testing.T) {
	tests := []struct {
		name     string
		service  string
		targets  []Target
		want     *TargetError
		sentinel error
	}{{
		name:     "missing configuration",
		targets:  []Target{{ConfigurationName: "nope", Percent: pct(100)}},
		want:     &TargetError{Index: 0, Name: "nope", Reason: ReasonConfigurationMissing, Failed: true, Message: `Configuration "nope" referenced in traffic not found.`},
		sentinel: ErrConfigurationMissing,
	}, {
		name:     "missing revision",
		targets:  []Target{{RevisionName: "nope-00001", Percent: pct(100)}},
		want:     &TargetError{Index: 0, Name: "nope-00001", Reason: ReasonRevisionMissing, Failed: true, Message: `Revision "nope-00001" referenced in traffic not found.`},
		sentinel: ErrRevisionMissing,
	}, {
		name:     "configuration waiting for a ready revision",
		targets:  []Target{{ConfigurationName: "unready", Percent: pct(100)}},
		want:     &TargetError{Index: 0, Name: "unready", Reason: ReasonRevisionMissing, Message: `Configuration "unready" is waiting for a Revision to become ready.`},
		sentinel: ErrRevisionMissing,
	}, {
		name:     "failed configuration",
		targets:  []Target{{ConfigurationName: "failed", Percent: pct(100)}},
		want:     &TargetError{Index: 0, Name: "failed", Reason: ReasonRevisionMissing, Failed: true, Message: `Configuration "failed" does not have any ready Revision.`},
		sentinel: ErrRevisionMissing,
	}, {
		name:     "revision not yet ready",
		targets:  []Target{{RevisionName: "pending-00001", Percent: pct(100)}},
		want:     &TargetError{Index: 0, Name: "pending-00001", Reason: ReasonRevisionMissing, Message: `Revision "pending-00001" is not yet ready.`},
		sentinel: ErrRevisionMissing,
	}, {
		name:     "revision failed",
		targets:  []Target{{RevisionName: "broken-00001", Percent: pct(100)}},
		want:     &TargetError{Index: 0, Name: "broken-00001", Reason: ReasonRevisionMissing, Failed: true, Message: `Revision "broken-00001" failed to become ready.`},
		sentinel: ErrRevisionMissing,
	}, {
		name:     "latest ready revision was deleted",
		targets:  []Target{{ConfigurationName: "lostrev", Percent: pct(100)}},
		want:     &TargetError{Index: 0, Name: "gone-00001", Reason: ReasonRevisionMissing, Failed: true, Message: `Revision "gone-00001" referenced in traffic not found.`},
		sentinel: ErrRevisionMissing,
	}, {
		name:     "latest ready revision later failed",
		targets:  []Target{{ConfigurationName: "sickrev", Percent: pct(100)}},
		want:     &TargetError{Index: 0, Name: "sick-00001", Reason: ReasonRevisionMissing, Failed: true, Message: `Revision "sick-00001" failed to become ready.`},
		sentinel: ErrRevisionMissing,
	}, {
		name:     "pinned revision whose configuration is gone",
		targets:  []Target{{RevisionName: "orphan-00001", Percent: pct(100)}},
		want:     &TargetError{Index: 0, Name: "deleted", Reason: ReasonConfigurationMissing, Failed: true, Message: `Configuration "deleted" referenced in traffic not found.`},
		sentinel: ErrConfigurationMissing,
	}, {
		name: "first wait is kept when there is no failure",
		targets: []Target{
			{ConfigurationName: "good", Percent: pct(50)},
			{RevisionName: "pending-00001", Percent: pct(25)},
			{ConfigurationName: "unready", Percent: pct(25)},
		},
		want:     &TargetError{Index: 1, Name: "pending-00001", Reason: ReasonRevisionMissing, Message: `Revision "pending-00001" is not yet ready.`},
		sentinel: ErrRevisionMissing,
	}, {
		name: "a later failure replaces a wait",
		targets: []Target{
			{RevisionName: "pending-00001", Percent: pct(50)},
			{ConfigurationName: "nope", Percent: pct(25)},
			{RevisionName: "nope-00002", Percent: pct(25)},
		},
		want:     &TargetError{Index: 2, Name: "nope-00002", Reason: ReasonRevisionMissing, Failed: true, Message: `Revision "nope-00002" referenced in traffic not found.`},
		sentinel: ErrRevisionMissing,
	}, {
		name:     "revision of another service",
		service:  "hello-go",
		targets:  []Target{{RevisionName: "good-00001", Percent: pct(100)}},
		want:     &TargetError{Index: 0, Name: "good-00001", Reason: ReasonRevisionNotOwned, Failed: true, Message: `Revision "good-00001" belongs to Service "good", not Service "hello-go".`},
		sentinel: ErrRevisionNotOwned,
	}, {
		name:     "revision of no service",
		service:  "hello-go",
		targets:  []Target{{RevisionName: "nice-00001", Percent: pct(100)}},
		want:     &TargetError{Index: 0, Name: "nice-00001", Reason: ReasonRevisionNotOwned, Failed: true, Message: `Revision "nice-00001" does not belong to Service "hello-go".`},
		sentinel: ErrRevisionNotOwned,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ResolveOwned(tc.service, tc.targets, fixture())
			var te *TargetError
			if !errors.As(err, &te) {
				t.Fatalf("Resolve() error = %v, want *TargetError", err)
			}
			if diff := cmp.Diff(tc.want, te); diff != "" {
				t.Errorf("TargetError (-want +got):\n%s", diff)
			}
			if !errors.Is(err, tc.sentinel) {
				t.Errorf("errors.Is(%v, %v) = false", err, tc.sentinel)
			}
			if got.Targets != nil || got.Groups != nil {
				t.Errorf("Traffic = %+v, want empty on error", got)
			}
		})
	}
}

func TestResolveOwnedAcceptsOwnRevision(t *testing.T) {
	got, err := ResolveOwned("hello-go", []Target{{RevisionName: "hello-go-00001", Percent: pct(100)}}, fixture())
	if err != nil {
		t.Fatalf("ResolveOwned() = %v", err)
	}
	if tags := got.Tags(); len(tags) != 0 {
		t.Errorf("Tags() = %v, want none", tags)
	}
	if got.Groups[""][0].RevisionName != "hello-go-00001" {
		t.Errorf("default group = %+v", got.Groups[""])
	}
}
