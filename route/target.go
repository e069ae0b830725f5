package route

import (
	"sort"
	"strconv"
	"strings"

	"github.com/servekit/servekit/route/traffic"
)

// Target is one entry of a Route's (or Service's) spec.traffic, as plain
// values. It is defined, with the traffic rules, in the leaf package
// github.com/servekit/servekit/route/traffic, which the serving API uses
// too.
type Target = traffic.Target

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
// Knative's rules (package traffic; knative.dev/serving/pkg/apis/serving/v1/route_validation.go)
// and returns a *ValidationError naming every bad target by index and
// field, or nil.
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
	found := traffic.Validate(targets, inService)
	if len(found) == 0 {
		return nil
	}
	errs := make([]FieldError, 0, len(found))
	for _, e := range found {
		fe := FieldError{Index: e.Index, Field: e.Field, Message: e.Message()}
		if e.Kind == traffic.InvalidName {
			fe.Details = strings.Join(e.Rules, ", ")
		}
		errs = append(errs, fe)
	}
	return &ValidationError{Errors: errs}
}
