// Package traffic is the single definition of Knative's rules for a
// spec.traffic list: each target names a revision or a configuration (or,
// in a Service, neither), latestRevision agrees with revisionName, percents
// lie in [0, 100] and sum to 100, and tags are unique DNS-1035 labels.
//
// [Validate] reports each broken rule as an [Error] carrying the target's
// index, the field, the rule ([Kind]) and Knative's message, so that each
// API layer can render it with its own field paths: package
// github.com/servekit/servekit/route as a plain error, package
// github.com/servekit/servekit/serving/v1 as a field.ErrorList. The rules
// are those of knative.dev/serving/pkg/apis/serving/v1/route_validation.go.
//
// The package is a leaf: it imports only the standard library and
// apimachinery's util/validation, so that an API package can validate
// traffic without depending on the data-path package route.
package traffic

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Target is one entry of a Route's (or Service's) spec.traffic, as plain
// values. Exactly one of RevisionName and ConfigurationName is set in a
// standalone Route; inside a Service neither is (the Service's own
// Configuration is implied).
type Target struct {
	// Tag, when not empty, gives the target its own host
	// (tag-template, "<tag>-<route>" by default). It must be a DNS-1035
	// label and unique within the list.
	Tag string
	// RevisionName pins the target to one Revision. Empty means the target
	// follows a Configuration's latest ready Revision.
	RevisionName string
	// ConfigurationName names the Configuration whose latest ready Revision
	// receives the traffic. Empty inside a Service.
	ConfigurationName string
	// LatestRevision is true when the target follows the Configuration's
	// latest ready Revision. Nil means "RevisionName is empty" (Knative's
	// default).
	LatestRevision *bool
	// Percent is the share of the Route's traffic, 0..100. Nil counts as 0.
	Percent *int64
}

// FollowsLatest reports the effective latestRevision: the field, or
// Knative's default (true when no revision is pinned).
func (t Target) FollowsLatest() bool {
	if t.LatestRevision != nil {
		return *t.LatestRevision
	}
	return t.RevisionName == ""
}

// EffectivePercent reports the target's percentage, nil counting as 0.
func (t Target) EffectivePercent() int64 {
	if t.Percent == nil {
		return 0
	}
	return *t.Percent
}

// Kind is the rule an [Error] breaks.
type Kind int

const (
	// LatestRevisionConflict: latestRevision is true with a revisionName,
	// or false without one. Field "latestRevision".
	LatestRevisionConflict Kind = iota
	// ConfigurationInService: a Service's target sets configurationName.
	// Field "configurationName".
	ConfigurationInService
	// BothNames: revisionName and configurationName are both set; one
	// Error for each field.
	BothNames
	// NeitherName: a Route's target sets neither name; one Error for each
	// field.
	NeitherName
	// InvalidName: revisionName or configurationName is not a Kubernetes
	// qualified name; Rules lists the broken rules.
	InvalidName
	// PercentOutOfRange: percent is not in [0, 100]. Field "percent".
	PercentOutOfRange
	// TagNotDNS1035Label: the tag is not a DNS-1035 label; Rules lists the
	// broken rules. Field "tag".
	TagNotDNS1035Label
	// DuplicateTag: the tag is used by an earlier target too; the first
	// target using it gets one Error as well. Field "tag".
	DuplicateTag
	// BadSum: the percents do not sum to 100. Index is -1.
	BadSum
)

// Error is one broken rule.
type Error struct {
	// Index is the target's index in the list, or -1 when the error is
	// about the list as a whole (BadSum).
	Index int
	// Field is the target's field ("tag", "percent", "revisionName",
	// "configurationName", "latestRevision"); empty when Index is -1.
	Field string
	// Kind is the rule broken.
	Kind Kind
	// Value is the string Knative's message quotes: the revisionName for
	// LatestRevisionConflict, the name for InvalidName, the tag for
	// DuplicateTag. An API layer may shorten it before calling Message.
	Value string
	// Latest is the latestRevision set, for LatestRevisionConflict.
	Latest bool
	// Number is the percent (PercentOutOfRange) or the sum (BadSum).
	Number int64
	// Rules lists the naming rules broken, for InvalidName and
	// TagNotDNS1035Label; nil otherwise.
	Rules []string
}

// Message returns Knative's message for the error, word for word.
func (e Error) Message() string {
	switch e.Kind {
	case LatestRevisionConflict:
		return fmt.Sprintf("may not set revisionName %q when latestRevision is %t", e.Value, e.Latest)
	case ConfigurationInService:
		return "must not set the field(s)"
	case BothNames:
		return "expected exactly one, got both"
	case NeitherName:
		return "expected exactly one, got neither"
	case InvalidName:
		return fmt.Sprintf("invalid key name %q", e.Value)
	case PercentOutOfRange:
		return fmt.Sprintf("expected 0 <= %d <= 100", e.Number)
	case TagNotDNS1035Label:
		return fmt.Sprintf("invalid value: not a DNS 1035 label: %v", e.Rules)
	case DuplicateTag:
		return fmt.Sprintf("Multiple definitions for %q", e.Value)
	case BadSum:
		return fmt.Sprintf("Traffic targets sum to %d, want 100", e.Number)
	}
	return fmt.Sprintf("traffic: unknown rule %d", int(e.Kind))
}

// Validate checks a traffic list and returns every broken rule, target by
// target and then the sum, or nil. inService means the list belongs to a
// Service: configurationName must not be set (the Service's Configuration
// is implied), and a target naming neither a revision nor a configuration
// is fine.
//
// The percent sum saturates at the int64 bounds, so that absurd percents
// cannot wrap around to 100.
func Validate(targets []Target, inService bool) []Error {
	var errs []Error
	var sum int64
	firstTag := map[string]int{}
	reportedFirst := map[string]bool{}
	for i, t := range targets {
		errs = appendTargetErrors(errs, i, t, inService)
		sum = satAdd(sum, t.EffectivePercent())
		if t.Tag == "" {
			continue
		}
		if msgs := validation.IsDNS1035Label(t.Tag); len(msgs) > 0 {
			errs = append(errs, Error{Index: i, Field: "tag", Kind: TagNotDNS1035Label, Value: t.Tag, Rules: msgs})
		}
		j, dup := firstTag[t.Tag]
		if !dup {
			firstTag[t.Tag] = i
			continue
		}
		// Knative names every index that uses the tag; the first one
		// once, on the first duplicate.
		if !reportedFirst[t.Tag] {
			reportedFirst[t.Tag] = true
			errs = append(errs, Error{Index: j, Field: "tag", Kind: DuplicateTag, Value: t.Tag})
		}
		errs = append(errs, Error{Index: i, Field: "tag", Kind: DuplicateTag, Value: t.Tag})
	}
	if sum != 100 {
		errs = append(errs, Error{Index: -1, Kind: BadSum, Number: sum})
	}
	return errs
}

// appendTargetErrors checks one target's own fields (not its tag).
func appendTargetErrors(errs []Error, i int, t Target, inService bool) []Error {
	if t.LatestRevision != nil {
		if pinned := t.RevisionName != ""; pinned == *t.LatestRevision {
			errs = append(errs, Error{Index: i, Field: "latestRevision", Kind: LatestRevisionConflict,
				Value: t.RevisionName, Latest: *t.LatestRevision})
		}
	}
	switch {
	case inService && t.ConfigurationName != "":
		errs = append(errs, Error{Index: i, Field: "configurationName", Kind: ConfigurationInService})
	case t.RevisionName != "" && t.ConfigurationName != "":
		errs = append(errs, Error{Index: i, Field: "configurationName", Kind: BothNames},
			Error{Index: i, Field: "revisionName", Kind: BothNames})
	case t.RevisionName != "":
		if msgs := validation.IsQualifiedName(t.RevisionName); len(msgs) > 0 {
			errs = append(errs, Error{Index: i, Field: "revisionName", Kind: InvalidName, Value: t.RevisionName, Rules: msgs})
		}
	case t.ConfigurationName != "":
		if msgs := validation.IsQualifiedName(t.ConfigurationName); len(msgs) > 0 {
			errs = append(errs, Error{Index: i, Field: "configurationName", Kind: InvalidName, Value: t.ConfigurationName, Rules: msgs})
		}
	case inService:
		// The Service's own Configuration is implied.
	default:
		errs = append(errs, Error{Index: i, Field: "configurationName", Kind: NeitherName},
			Error{Index: i, Field: "revisionName", Kind: NeitherName})
	}
	if p := t.EffectivePercent(); t.Percent != nil && (p < 0 || p > 100) {
		errs = append(errs, Error{Index: i, Field: "percent", Kind: PercentOutOfRange, Number: p})
	}
	return errs
}

// satAdd adds without overflowing int64.
func satAdd(a, b int64) int64 {
	s := a + b
	if b > 0 && s < a {
		return 1<<63 - 1
	}
	if b < 0 && s > a {
		return -1 << 63
	}
	return s
}
