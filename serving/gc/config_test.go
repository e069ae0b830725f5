package gc

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestConfigFromMap(t *testing.T) {
	tests := []struct {
		name string
		data map[string]string
		want Config
	}{{
		name: "nil map gives Knative's defaults",
		data: nil,
		want: Config{
			RetainSinceCreateTime:     48 * time.Hour,
			RetainSinceLastActiveTime: 15 * time.Hour,
			MinNonActiveRevisions:     20,
			MaxNonActiveRevisions:     1000,
		},
	}, {
		name: "empty values and unknown keys keep the defaults",
		data: map[string]string{
			RetainSinceCreateTimeKey: "",
			MaxNonActiveRevisionsKey: "",
			"_example":               "retain-since-create-time: 1h",
		},
		want: DefaultConfig(),
	}, {
		name: "every key set",
		data: map[string]string{
			RetainSinceCreateTimeKey:     "1h30m",
			RetainSinceLastActiveTimeKey: "90s",
			MinNonActiveRevisionsKey:     "3",
			MaxNonActiveRevisionsKey:     "7",
		},
		want: Config{
			RetainSinceCreateTime:     90 * time.Minute,
			RetainSinceLastActiveTime: 90 * time.Second,
			MinNonActiveRevisions:     3,
			MaxNonActiveRevisions:     7,
		},
	}, {
		name: "disabled in any case",
		data: map[string]string{
			RetainSinceCreateTimeKey:     "disabled",
			RetainSinceLastActiveTimeKey: "Disabled",
			MaxNonActiveRevisionsKey:     "DISABLED",
		},
		want: Config{
			RetainSinceCreateTime:     Disabled,
			RetainSinceLastActiveTime: Disabled,
			MinNonActiveRevisions:     20,
			MaxNonActiveRevisions:     Disabled,
		},
	}, {
		name: "zero values are valid",
		data: map[string]string{
			RetainSinceCreateTimeKey:     "0s",
			RetainSinceLastActiveTimeKey: "0",
			MinNonActiveRevisionsKey:     "0",
			MaxNonActiveRevisionsKey:     "0",
		},
		want: Config{},
	}, {
		name: "min may exceed max when max is disabled",
		data: map[string]string{MinNonActiveRevisionsKey: "5000", MaxNonActiveRevisionsKey: "disabled"},
		want: Config{
			RetainSinceCreateTime:     48 * time.Hour,
			RetainSinceLastActiveTime: 15 * time.Hour,
			MinNonActiveRevisions:     5000,
			MaxNonActiveRevisions:     Disabled,
		},
	}, {
		name: "min equal to max",
		data: map[string]string{MinNonActiveRevisionsKey: "4", MaxNonActiveRevisionsKey: "4"},
		want: Config{
			RetainSinceCreateTime:     48 * time.Hour,
			RetainSinceLastActiveTime: 15 * time.Hour,
			MinNonActiveRevisions:     4,
			MaxNonActiveRevisions:     4,
		},
	}, {
		name: "largest max",
		data: map[string]string{MaxNonActiveRevisionsKey: "4294967295"},
		want: Config{
			RetainSinceCreateTime:     48 * time.Hour,
			RetainSinceLastActiveTime: 15 * time.Hour,
			MinNonActiveRevisions:     20,
			MaxNonActiveRevisions:     4294967295,
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ConfigFromMap(tc.data)
			if err != nil {
				t.Fatalf("ConfigFromMap(%v) error: %v", tc.data, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ConfigFromMap(%v) (-want +got):\n%s", tc.data, diff)
			}
			// Whatever parses, Map writes back to the same Config.
			back, err := ConfigFromMap(got.Map())
			if err != nil {
				t.Fatalf("ConfigFromMap(Map()) error: %v", err)
			}
			if diff := cmp.Diff(got, back); diff != "" {
				t.Errorf("round trip through Map (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfigFromMapErrors(t *testing.T) {
	tests := []struct {
		name string
		data map[string]string
		want string
	}{{
		name: "unparsable create duration",
		data: map[string]string{RetainSinceCreateTimeKey: "two days"},
		want: `gc: retain-since-create-time: invalid value "two days": time: invalid duration "two days"`,
	}, {
		name: "duration without unit",
		data: map[string]string{RetainSinceLastActiveTimeKey: "15"},
		want: `gc: retain-since-last-active-time: invalid value "15": time: missing unit in duration "15"`,
	}, {
		name: "-1 is not a way to write disabled for durations",
		data: map[string]string{RetainSinceCreateTimeKey: "-1"},
		want: `gc: retain-since-create-time: invalid value "-1": time: missing unit in duration "-1"`,
	}, {
		name: "negative duration",
		data: map[string]string{RetainSinceLastActiveTimeKey: "-1h"},
		want: `gc: retain-since-last-active-time: invalid value "-1h": must be non-negative or "disabled"`,
	}, {
		name: "negative min",
		data: map[string]string{MinNonActiveRevisionsKey: "-1"},
		want: `gc: min-non-active-revisions: invalid value "-1": must be a non-negative integer`,
	}, {
		name: "min disabled is not allowed",
		data: map[string]string{MinNonActiveRevisionsKey: "disabled"},
		want: `gc: min-non-active-revisions: invalid value "disabled": must be a non-negative integer`,
	}, {
		name: "min not an integer",
		data: map[string]string{MinNonActiveRevisionsKey: "2.5"},
		want: `gc: min-non-active-revisions: invalid value "2.5": must be a non-negative integer`,
	}, {
		name: "-1 is not a way to write disabled for max",
		data: map[string]string{MaxNonActiveRevisionsKey: "-1"},
		want: `gc: max-non-active-revisions: invalid value "-1": must be an integer in [0, 4294967295] or "disabled"`,
	}, {
		name: "max beyond uint32",
		data: map[string]string{MaxNonActiveRevisionsKey: "4294967296"},
		want: `gc: max-non-active-revisions: invalid value "4294967296": must be an integer in [0, 4294967295] or "disabled"`,
	}, {
		name: "max with spaces",
		data: map[string]string{MaxNonActiveRevisionsKey: " 10"},
		want: `gc: max-non-active-revisions: invalid value " 10": must be an integer in [0, 4294967295] or "disabled"`,
	}, {
		name: "min above max",
		data: map[string]string{MinNonActiveRevisionsKey: "11", MaxNonActiveRevisionsKey: "10"},
		want: `gc: min-non-active-revisions (11) must be <= max-non-active-revisions (10)`,
	}, {
		name: "default min above a small max",
		data: map[string]string{MaxNonActiveRevisionsKey: "5"},
		want: `gc: min-non-active-revisions (20) must be <= max-non-active-revisions (5)`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ConfigFromMap(tc.data)
			if err == nil {
				t.Fatalf("ConfigFromMap(%v) = %+v, want error %q", tc.data, got, tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("ConfigFromMap(%v) error:\n got %q\nwant %q", tc.data, err.Error(), tc.want)
			}
		})
	}
}

func TestConfigMap(t *testing.T) {
	got := Config{
		RetainSinceCreateTime:     Disabled,
		RetainSinceLastActiveTime: 15 * time.Hour,
		MinNonActiveRevisions:     2,
		MaxNonActiveRevisions:     Disabled,
	}.Map()
	want := map[string]string{
		RetainSinceCreateTimeKey:     "disabled",
		RetainSinceLastActiveTimeKey: "15h0m0s",
		MinNonActiveRevisionsKey:     "2",
		MaxNonActiveRevisionsKey:     "disabled",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Map() (-want +got):\n%s", diff)
	}
}
