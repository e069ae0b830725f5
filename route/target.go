package route

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

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

// latest reports the effective latestRevision: the field, or Knative's
// default (true when no revision is pinned).
func (t Target) latest() bool {
	if t.LatestRevision != nil {
		return *t.LatestRevision
	}
	return t.RevisionName == ""
}

// percent reports the effective percentage: nil counts as 0.
func (t Target) percent() int64 {
	if t.Percent == nil {
		return 0
	}
	return *t.Percent
}

// TrafficPath is the field path every validation error is rooted at.
const TrafficPath = "spec.traffic"

// FieldError is one problem with one field (or the whole list) of
// spec.traffic. Its Message is Knative's message, word for word.
type FieldError struct {
	// Index is the target's index in the list, or -1 when the error is about
	// the list as a whole (the percent sum).
	Index int
	// Field is the target's field ("tag", "percent", "revisionName",
	// "configurationName", "latestRevision"); empty when Index is -1.
	Field string
	// Message says what is wrong, including the bad value.
	Message string
	// Details holds extra explanation (for example the DNS rules a name
	// broke); empty means none.
	Details string
}

// Path is the field's path, e.g. "spec.traffic[1].tag", or
// "spec.traffic" for list-level errors.
func (e FieldError) Path() string {
	if e.Index < 0 {
		return TrafficPath
	}
	p := TrafficPath + "[" + strconv.Itoa(e.Index) + "]"
	if e.Field != "" {
		p += "." + e.Field
	}
	return p
}

// Error renders "<message>: <path>" (and the details on the next line).
func (e FieldError) Error() string {
	s := e.Message + ": " + e.Path()
	if e.Details != "" {
		s += "\n" + e.Details
	}
	return s
}

// ValidationError collects every FieldError found in one list of targets.
// Error renders them the way knative.dev/pkg's apis.FieldError does: errors
// with the same message and details are merged into one line whose paths are
// sorted and comma-joined, and lines are sorted by message.
type ValidationError struct {
	// Errors in the order they were found (target by target, then the list
	// checks). Never empty.
	Errors []FieldError
}

// Error implements error with Knative's merged, sorted rendering.
func (e *ValidationError) Error() string {
	type key struct{ msg, details string }
	paths := map[key][]string{}
	var keys []key
	for _, fe := range e.Errors {
		k := key{fe.Message, fe.Details}
		if _, ok := paths[k]; !ok {
			keys = append(keys, k)
		}
		paths[k] = append(paths[k], fe.Path())
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].msg != keys[j].msg {
			return keys[i].msg < keys[j].msg
		}
		return keys[i].details < keys[j].details
	})
	lines := make([]string, 0, len(keys))
	for _, k := range keys {
		ps := paths[k]
		sort.Strings(ps)
		ps = dedupSorted(ps)
		line := k.msg + ": " + strings.Join(ps, ", ")
		if k.details != "" {
			line += "\n" + k.details
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

func dedupSorted(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// ValidateTargets checks the spec.traffic of a standalone Route with
// Knative's rules (reference §3.5) and returns a *ValidationError naming
// every bad target by index and field, or nil.
//
// One deliberate difference: Knative reports a tag that is not a DNS-1035
// label at the quirky path "spec.traffic.tag[i]"; we report
// "spec.traffic[i].tag" like every other field.
func ValidateTargets(targets []Target) error {
	return validateTargets(targets, false)
}

// ValidateServiceTargets is ValidateTargets for the traffic block of a
// Service: configurationName must not be set (the Service's Configuration is
// implied), and a target naming neither a revision nor a configuration is
// fine.
func ValidateServiceTargets(targets []Target) error {
	return validateTargets(targets, true)
}

func validateTargets(targets []Target, inService bool) error {
	var errs []FieldError
	add := func(i int, field, msg, details string) {
		errs = append(errs, FieldError{Index: i, Field: field, Message: msg, Details: details})
	}
	var sum int64
	firstTag := map[string]int{}
	for i, t := range targets {
		if t.LatestRevision != nil {
			pinned := t.RevisionName != ""
			if pinned == *t.LatestRevision {
				add(i, "latestRevision", fmt.Sprintf("may not set revisionName %q when latestRevision is %t", t.RevisionName, *t.LatestRevision), "")
			}
		}
		switch {
		case inService && t.ConfigurationName != "":
			add(i, "configurationName", "must not set the field(s)", "")
		case t.RevisionName != "" && t.ConfigurationName != "":
			add(i, "configurationName", "expected exactly one, got both", "")
			add(i, "revisionName", "expected exactly one, got both", "")
		case t.RevisionName != "":
			if msgs := qualifiedNameErrors(t.RevisionName); len(msgs) > 0 {
				add(i, "revisionName", fmt.Sprintf("invalid key name %q", t.RevisionName), strings.Join(msgs, ", "))
			}
		case t.ConfigurationName != "":
			if msgs := qualifiedNameErrors(t.ConfigurationName); len(msgs) > 0 {
				add(i, "configurationName", fmt.Sprintf("invalid key name %q", t.ConfigurationName), strings.Join(msgs, ", "))
			}
		case inService:
		default:
			add(i, "configurationName", "expected exactly one, got neither", "")
			add(i, "revisionName", "expected exactly one, got neither", "")
		}
		if t.Percent != nil {
			if p := *t.Percent; p < 0 || p > 100 {
				add(i, "percent", fmt.Sprintf("expected 0 <= %d <= 100", p), "")
			}
		}
		// Sum with saturation so that absurd values cannot wrap to 100.
		sum = satAdd(sum, t.percent())
		if t.Tag == "" {
			continue
		}
		if msgs := validation.IsDNS1035Label(t.Tag); len(msgs) > 0 {
			add(i, "tag", fmt.Sprintf("invalid value: not a DNS 1035 label: %v", msgs), "")
		}
		if j, dup := firstTag[t.Tag]; dup {
			msg := fmt.Sprintf("Multiple definitions for %q", t.Tag)
			// Knative lists every index that uses the tag; the first one is
			// added once, on the first duplicate.
			if !hasError(errs, j, "tag", msg) {
				add(j, "tag", msg, "")
			}
			add(i, "tag", msg, "")
		} else {
			firstTag[t.Tag] = i
		}
	}
	if sum != 100 {
		add(-1, "", fmt.Sprintf("Traffic targets sum to %d, want 100", sum), "")
	}
	if len(errs) == 0 {
		return nil
	}
	return &ValidationError{Errors: errs}
}

func hasError(errs []FieldError, i int, field, msg string) bool {
	for _, e := range errs {
		if e.Index == i && e.Field == field && e.Message == msg {
			return true
		}
	}
	return false
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

// qualifiedNameFmt is Kubernetes' "qualified name" name part.
var qualifiedNameRegexp = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)

// qualifiedNameErrors checks a Kubernetes qualified name ("[prefix/]name",
// prefix a DNS-1123 subdomain, name at most 63 characters of alphanumerics,
// '-', '_' or '.', starting and ending alphanumeric) and returns the broken
// rules.
func qualifiedNameErrors(value string) []string {
	var errs []string
	name := value
	if prefix, n, ok := strings.Cut(value, "/"); ok {
		name = n
		if prefix == "" {
			errs = append(errs, "prefix part must be non-empty")
		} else if msgs := validation.IsDNS1123Subdomain(prefix); len(msgs) > 0 {
			for _, m := range msgs {
				errs = append(errs, "prefix part "+m)
			}
		}
		if strings.Contains(n, "/") {
			return append(errs, "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character, with an optional DNS subdomain prefix and '/'")
		}
	}
	switch {
	case name == "":
		errs = append(errs, "name part must be non-empty")
	case len(name) > 63:
		errs = append(errs, "name part must be no more than 63 characters")
	}
	if name != "" && !qualifiedNameRegexp.MatchString(name) {
		errs = append(errs, "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character")
	}
	return errs
}
