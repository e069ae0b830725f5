package route

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTrafficCondition(t *testing.T) {
	type cond struct {
		Status          Status
		Reason, Message string
	}
	resolveErr := func(targets []Target) error {
		_, err := Resolve(targets, fixture())
		return err
	}
	hostErr := func() error {
		_, err := Config{Domains: []DomainRule{{Domain: "example.com"}}}.Hosts(Route{Name: "hello", Namespace: "default",
			Traffic: []Target{{RevisionName: "r", Tag: "x1234567890123456789012345678901234567890123456789012345678901234"}}})
		return err
	}
	tests := []struct {
		name string
		err  error
		want cond
	}{
		{"all assigned", nil, cond{StatusTrue, "", ""}},
		{"waiting", resolveErr([]Target{{ConfigurationName: "unready", Percent: pct(100)}}),
			cond{StatusUnknown, ReasonRevisionMissing, `Configuration "unready" is waiting for a Revision to become ready.`}},
		{"missing", resolveErr([]Target{{ConfigurationName: "nope", Percent: pct(100)}}),
			cond{StatusFalse, ReasonConfigurationMissing, `Configuration "nope" referenced in traffic not found.`}},
		{"wrapped", fmt.Errorf("reconcile: %w", resolveErr([]Target{{RevisionName: "broken-00001", Percent: pct(100)}})),
			cond{StatusFalse, ReasonRevisionMissing, `Revision "broken-00001" failed to become ready.`}},
		{"bad host", hostErr(), cond{StatusFalse, ReasonErrorConfig, ""}},
		{"other", errors.New("boom"), cond{StatusUnknown, ReasonUnknown, "boom"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, r, m := TrafficCondition(tc.err)
			got := cond{s, r, m}
			if tc.want.Reason == ReasonErrorConfig {
				if s != StatusFalse || r != ReasonErrorConfig || len(m) < len("domain name error: ") || m[:len("domain name error: ")] != "domain name error: " {
					t.Errorf("TrafficCondition() = %+v, want False ErrorConfig \"domain name error: ...\"", got)
				}
				return
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("TrafficCondition (-want +got):\n%s", diff)
			}
		})
	}
}
