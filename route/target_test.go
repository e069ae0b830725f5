package route

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func ptrBool(b bool) *bool  { return &b }
func ptrInt(i int64) *int64 { return &i }
func pct(i int64) *int64    { return ptrInt(i) }
func latestTrue() *bool     { return ptrBool(true) }
func latestFalse() *bool    { return ptrBool(false) }
func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestValidateTargets(t *testing.T) {
	tests := []struct {
		name    string
		targets []Target
		service bool
		want    string // Knative's rendering; "" = valid
		paths   []string
	}{{
		name:    "single configuration",
		targets: []Target{{ConfigurationName: "c", Percent: pct(100)}},
	}, {
		name:    "90/10 revisions",
		targets: []Target{{RevisionName: "c-00001", Percent: pct(90)}, {RevisionName: "c-00002", Percent: pct(10), Tag: "canary"}},
	}, {
		name:    "same target twice untagged is fine",
		targets: []Target{{RevisionName: "r", Percent: pct(50)}, {RevisionName: "r", Percent: pct(50)}},
	}, {
		name:    "service target without names",
		service: true,
		targets: []Target{{Percent: pct(100), LatestRevision: latestTrue()}},
	}, {
		name:    "sum not 100",
		targets: []Target{{RevisionName: "a", Percent: pct(60)}, {RevisionName: "b", Percent: pct(30)}},
		want:    "Traffic targets sum to 90, want 100: spec.traffic",
		paths:   []string{"spec.traffic"},
	}, {
		name:    "empty route traffic sums to 0",
		targets: nil,
		want:    "Traffic targets sum to 0, want 100: spec.traffic",
		paths:   []string{"spec.traffic"},
	}, {
		name:    "nil percent counts as zero",
		targets: []Target{{RevisionName: "a"}},
		want:    "Traffic targets sum to 0, want 100: spec.traffic",
		paths:   []string{"spec.traffic"},
	}, {
		name:    "percent out of range",
		targets: []Target{{RevisionName: "a", Percent: pct(150)}, {RevisionName: "b", Percent: pct(-50)}},
		want:    "expected 0 <= -50 <= 100: spec.traffic[1].percent\nexpected 0 <= 150 <= 100: spec.traffic[0].percent",
		paths:   []string{"spec.traffic[0].percent", "spec.traffic[1].percent"},
	}, {
		name: "duplicate tags name both indexes",
		targets: []Target{
			{RevisionName: "a", Percent: pct(50), Tag: "x"},
			{RevisionName: "a", Percent: pct(50), Tag: "x"},
		},
		want:  `Multiple definitions for "x": spec.traffic[0].tag, spec.traffic[1].tag`,
		paths: []string{"spec.traffic[0].tag", "spec.traffic[1].tag"},
	}, {
		name:    "tag not a DNS label",
		targets: []Target{{RevisionName: "a", Percent: pct(100)}, {RevisionName: "b", Percent: pct(0), Tag: "Bad_Tag"}},
		want:    "invalid value: not a DNS 1035 label: [a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')]: spec.traffic[1].tag",
		paths:   []string{"spec.traffic[1].tag"},
	}, {
		name:    "tag starting with a digit",
		targets: []Target{{RevisionName: "a", Percent: pct(100), Tag: "1st"}},
		paths:   []string{"spec.traffic[0].tag"},
	}, {
		name:    "both names",
		targets: []Target{{RevisionName: "a", ConfigurationName: "c", Percent: pct(100)}},
		want:    "expected exactly one, got both: spec.traffic[0].configurationName, spec.traffic[0].revisionName",
		paths:   []string{"spec.traffic[0].configurationName", "spec.traffic[0].revisionName"},
	}, {
		name:    "neither name in a route",
		targets: []Target{{Percent: pct(100)}},
		want:    "expected exactly one, got neither: spec.traffic[0].configurationName, spec.traffic[0].revisionName",
		paths:   []string{"spec.traffic[0].configurationName", "spec.traffic[0].revisionName"},
	}, {
		name:    "configuration name inside a service",
		service: true,
		targets: []Target{{ConfigurationName: "c", Percent: pct(100)}},
		want:    "must not set the field(s): spec.traffic[0].configurationName",
		paths:   []string{"spec.traffic[0].configurationName"},
	}, {
		name:    "latestRevision true with a pinned revision",
		targets: []Target{{RevisionName: "a", LatestRevision: latestTrue(), Percent: pct(100)}},
		want:    `may not set revisionName "a" when latestRevision is true: spec.traffic[0].latestRevision`,
		paths:   []string{"spec.traffic[0].latestRevision"},
	}, {
		name:    "latestRevision false without a revision",
		targets: []Target{{ConfigurationName: "c", LatestRevision: latestFalse(), Percent: pct(100)}},
		want:    `may not set revisionName "" when latestRevision is false: spec.traffic[0].latestRevision`,
		paths:   []string{"spec.traffic[0].latestRevision"},
	}, {
		name:    "bad revision name",
		targets: []Target{{RevisionName: "-bad", Percent: pct(100)}},
		paths:   []string{"spec.traffic[0].revisionName"},
	}, {
		name: "several problems at once",
		targets: []Target{
			{RevisionName: "a", Percent: pct(50), Tag: "t"},
			{RevisionName: "b", Percent: pct(40), Tag: "t"},
		},
		want:  "Multiple definitions for \"t\": spec.traffic[0].tag, spec.traffic[1].tag\nTraffic targets sum to 90, want 100: spec.traffic",
		paths: []string{"spec.traffic[0].tag", "spec.traffic[1].tag", "spec.traffic"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			validate := ValidateTargets
			if tc.service {
				validate = ValidateServiceTargets
			}
			err := validate(tc.targets)
			if len(tc.paths) == 0 {
				if err != nil {
					t.Fatalf("ValidateTargets() = %v, want nil", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("ValidateTargets() = %v, want *ValidationError", err)
			}
			var got []string
			for _, fe := range ve.Errors {
				got = append(got, fe.Path())
			}
			if diff := cmp.Diff(tc.paths, got); diff != "" {
				t.Errorf("paths (-want +got):\n%s", diff)
			}
			if tc.want != "" {
				if diff := cmp.Diff(tc.want, err.Error()); diff != "" {
					t.Errorf("Error() (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestFieldErrorNamesValue(t *testing.T) {
	err := ValidateTargets([]Target{{RevisionName: "Bad/Name/x", Percent: pct(100)}})
	if err == nil || !strings.Contains(err.Error(), `invalid key name "Bad/Name/x"`) || !strings.Contains(err.Error(), "spec.traffic[0].revisionName") {
		t.Fatalf("got %v, want the bad name and its path", err)
	}
}
