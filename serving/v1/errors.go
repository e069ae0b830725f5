package v1

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Validation errors are apimachinery field errors whose Field is the path
// Knative reports and whose Detail is Knative's message, for example
// Field "spec.template.spec.containerConcurrency" and Detail
// "expected 0 <= -1 <= 1000". Where Knative reports one message for several
// paths, there is one field.Error per path. KnativeString renders a list the
// way Knative's FieldError does.

// maxValueInMessage bounds how much of a bad value is quoted in a message,
// so that a 2 MB annotation gives a readable error.
const maxValueInMessage = 64

// shorten returns v, cut to maxValueInMessage bytes with a note of the
// original length when it is longer.
func shorten(v string) string {
	if len(v) <= maxValueInMessage {
		return v
	}
	return fmt.Sprintf("%s...(%d bytes)", v[:maxValueInMessage], len(v))
}

func shortValue(v any) any {
	if s, ok := v.(string); ok {
		return shorten(s)
	}
	return v
}

func errMissingField(p *field.Path) *field.Error {
	return field.Required(p, "missing field(s)")
}

func errDisallowedFields(p *field.Path) *field.Error {
	return field.Forbidden(p, "must not set the field(s)")
}

func errInvalidValue(p *field.Path, v any, details ...string) *field.Error {
	v = shortValue(v)
	return field.Invalid(p, v, withDetails(fmt.Sprintf("invalid value: %v", v), details))
}

func errOutOfBounds(p *field.Path, v, lo, hi any) *field.Error {
	v = shortValue(v)
	return field.Invalid(p, v, fmt.Sprintf("expected %v <= %v <= %v", lo, v, hi))
}

func errInvalidKeyName(p *field.Path, key string, details ...string) *field.Error {
	key = shorten(key)
	return field.Invalid(p, key, withDetails(fmt.Sprintf("invalid key name %q", key), details))
}

func errGeneric(p *field.Path, v any, msg string, details ...string) *field.Error {
	return field.Invalid(p, shortValue(v), withDetails(msg, details))
}

func errMissingOneOf(paths ...*field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, p := range paths {
		errs = append(errs, field.Required(p, "expected exactly one, got neither"))
	}
	return errs
}

func errMultipleOneOf(paths ...*field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, p := range paths {
		errs = append(errs, field.Invalid(p, "", "expected exactly one, got both"))
	}
	return errs
}

// got is the detail naming a bad value where Knative's message does not.
func got(v string) string {
	return fmt.Sprintf("got %q", shorten(v))
}

// withDetails appends Knative's error details (shown by Knative on a
// second line) after a semicolon.
func withDetails(msg string, details []string) string {
	if len(details) == 0 {
		return msg
	}
	return msg + "; " + strings.Join(details, ", ")
}

// fromAPIMachinery rewrites errors produced by apimachinery validators so
// that Detail carries the whole human message, like our own errors.
func fromAPIMachinery(errs field.ErrorList) field.ErrorList {
	out := make(field.ErrorList, 0, len(errs))
	for _, e := range errs {
		c := *e
		c.BadValue = shortValue(c.BadValue)
		c.Detail = strings.TrimSuffix(c.ErrorBody(), ": ")
		out = append(out, &c)
	}
	return out
}

// Message returns the human message of a validation error, without its
// path: Knative's message for the errors this package produces.
func Message(e *field.Error) string {
	if e.Detail != "" {
		return e.Detail
	}
	return e.ErrorBody()
}

// KnativeString renders errs as Knative's FieldError.Error() does: errors
// with the same message are merged, their paths sorted and joined with
// ", ", the messages sorted, each rendered as "<message>: <paths>", joined
// by newlines.
func KnativeString(errs field.ErrorList) string {
	paths := map[string][]string{}
	for _, e := range errs {
		m := Message(e)
		paths[m] = append(paths[m], e.Field)
	}
	msgs := make([]string, 0, len(paths))
	for m := range paths {
		msgs = append(msgs, m)
	}
	sort.Strings(msgs)
	lines := make([]string, 0, len(msgs))
	for _, m := range msgs {
		ps := paths[m]
		sort.Strings(ps)
		lines = append(lines, m+": "+strings.Join(ps, ", "))
	}
	return strings.Join(lines, "\n")
}
