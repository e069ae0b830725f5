package traffic

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func p(v int64) *int64 { return &v }
func b(v bool) *bool   { return &v }

type row struct {
	Index int
	Field string
	Kind  Kind
	Msg   string
}

func rows(errs []Error) []row {
	var out []row
	for _, e := range errs {
		out = append(out, row{e.Index, e.Field, e.Kind, e.Message()})
	}
	return out
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name      string
		targets   []Target
		inService bool
		want      []row
	}{
		{"one revision at 100", []Target{{RevisionName: "a", Percent: p(100)}}, false, nil},
		{"service: the implied configuration", []Target{{Percent: p(100)}}, true, nil},
		{"route: neither name", []Target{{Percent: p(100)}}, false, []row{
			{0, "configurationName", NeitherName, "expected exactly one, got neither"},
			{0, "revisionName", NeitherName, "expected exactly one, got neither"},
		}},
		{"both names", []Target{{RevisionName: "a", ConfigurationName: "c", Percent: p(100)}}, false, []row{
			{0, "configurationName", BothNames, "expected exactly one, got both"},
			{0, "revisionName", BothNames, "expected exactly one, got both"},
		}},
		{"service: configurationName", []Target{{ConfigurationName: "c", Percent: p(100)}}, true, []row{
			{0, "configurationName", ConfigurationInService, "must not set the field(s)"},
		}},
		{"latestRevision contradicts revisionName", []Target{
			{RevisionName: "a", LatestRevision: b(true), Percent: p(50)},
			{ConfigurationName: "c", LatestRevision: b(false), Percent: p(50)},
		}, false, []row{
			{0, "latestRevision", LatestRevisionConflict, `may not set revisionName "a" when latestRevision is true`},
			{1, "latestRevision", LatestRevisionConflict, `may not set revisionName "" when latestRevision is false`},
		}},
		{"percent out of range and the sum", []Target{{RevisionName: "a", Percent: p(101)}}, false, []row{
			{0, "percent", PercentOutOfRange, "expected 0 <= 101 <= 100"},
			{-1, "", BadSum, "Traffic targets sum to 101, want 100"},
		}},
		{"nil percents sum to 0", []Target{{RevisionName: "a"}}, false, []row{
			{-1, "", BadSum, "Traffic targets sum to 0, want 100"},
		}},
		{"the sum saturates instead of wrapping to 100", []Target{
			{RevisionName: "a", Percent: p(math.MaxInt64)}, {RevisionName: "b", Percent: p(math.MaxInt64)}, {RevisionName: "c", Percent: p(102)},
		}, false, []row{
			{0, "percent", PercentOutOfRange, "expected 0 <= 9223372036854775807 <= 100"},
			{1, "percent", PercentOutOfRange, "expected 0 <= 9223372036854775807 <= 100"},
			{2, "percent", PercentOutOfRange, "expected 0 <= 102 <= 100"},
			{-1, "", BadSum, "Traffic targets sum to 9223372036854775807, want 100"},
		}},
		{"a tag used three times: the first index once", []Target{
			{Tag: "x", RevisionName: "a", Percent: p(100)}, {Tag: "x", RevisionName: "b"}, {Tag: "x", RevisionName: "c"},
		}, false, []row{
			{0, "tag", DuplicateTag, `Multiple definitions for "x"`},
			{1, "tag", DuplicateTag, `Multiple definitions for "x"`},
			{2, "tag", DuplicateTag, `Multiple definitions for "x"`},
		}},
		{"tag not a DNS-1035 label", []Target{{Tag: "1x", RevisionName: "a", Percent: p(100)}}, false, []row{
			{0, "tag", TagNotDNS1035Label, "invalid value: not a DNS 1035 label: [a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')]"},
		}},
		{"revision name not a qualified name", []Target{{RevisionName: "bad name!", Percent: p(100)}}, false, []row{
			{0, "revisionName", InvalidName, `invalid key name "bad name!"`},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, rows(Validate(tc.targets, tc.inService))); diff != "" {
				t.Errorf("Validate (-want +got):\n%s", diff)
			}
		})
	}
}

func TestInvalidNameRules(t *testing.T) {
	errs := Validate([]Target{{ConfigurationName: "Bad/Name/x", Percent: p(100)}}, false)
	if len(errs) != 1 || errs[0].Kind != InvalidName || len(errs[0].Rules) == 0 {
		t.Fatalf("Validate = %+v, want one InvalidName with its rules", errs)
	}
}

func TestEffectiveValues(t *testing.T) {
	for _, tc := range []struct {
		t       Target
		latest  bool
		percent int64
	}{
		{Target{}, true, 0},
		{Target{RevisionName: "a", Percent: p(30)}, false, 30},
		{Target{RevisionName: "a", LatestRevision: b(true)}, true, 0},
		{Target{LatestRevision: b(false)}, false, 0},
	} {
		if got := tc.t.FollowsLatest(); got != tc.latest {
			t.Errorf("%+v.FollowsLatest() = %t, want %t", tc.t, got, tc.latest)
		}
		if got := tc.t.EffectivePercent(); got != tc.percent {
			t.Errorf("%+v.EffectivePercent() = %d, want %d", tc.t, got, tc.percent)
		}
	}
}
