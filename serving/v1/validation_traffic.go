package v1

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateTraffic checks a spec traffic list (p = spec.traffic). inService
// means the list belongs to a Service, whose Configuration is implied.
func validateTraffic(traffic []TrafficTarget, inService bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	var sum int64
	for i := range traffic {
		errs = append(errs, traffic[i].validate(inService, p.Index(i))...)
		if traffic[i].Percent != nil {
			sum += *traffic[i].Percent
		}
	}
	// Knative reports tag errors at "traffic.tag[i]" (ViaIndex applied to
	// the "tag" path), not "traffic[i].tag"; we keep its path.
	for i := range traffic {
		if tag := traffic[i].Tag; tag != "" {
			if msgs := validation.IsDNS1035Label(tag); len(msgs) > 0 {
				errs = append(errs, errGeneric(p.Child("tag").Index(i), tag, fmt.Sprint("invalid value: not a DNS 1035 label: ", msgs), got(tag)))
			}
		}
	}
	seen := map[string]int{}
	for i := range traffic {
		tag := traffic[i].Tag
		if tag == "" {
			continue
		}
		if j, ok := seen[tag]; ok {
			msg := fmt.Sprintf("Multiple definitions for %q", shorten(tag))
			errs = append(errs, errGeneric(p.Index(j).Child("tag"), tag, msg), errGeneric(p.Index(i).Child("tag"), tag, msg))
			continue
		}
		seen[tag] = i
	}
	if sum != 100 {
		errs = append(errs, errGeneric(p, sum, fmt.Sprintf("Traffic targets sum to %d, want 100", sum)))
	}
	return errs
}

func (tt *TrafficTarget) validate(inService bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if tt.LatestRevision != nil {
		lr := *tt.LatestRevision
		if pinned := tt.RevisionName != ""; pinned == lr {
			errs = append(errs, errGeneric(p.Child("latestRevision"), lr,
				fmt.Sprintf("may not set revisionName %q when latestRevision is %t", shorten(tt.RevisionName), lr)))
		}
	}
	switch {
	case inService && tt.ConfigurationName != "":
		errs = append(errs, errDisallowedFields(p.Child("configurationName")))
	case tt.RevisionName != "" && tt.ConfigurationName != "":
		errs = append(errs, errMultipleOneOf(p.Child("configurationName"), p.Child("revisionName"))...)
	case tt.RevisionName != "":
		if msgs := validation.IsQualifiedName(tt.RevisionName); len(msgs) > 0 {
			errs = append(errs, errInvalidKeyName(p.Child("revisionName"), tt.RevisionName, msgs...))
		}
	case tt.ConfigurationName != "":
		if msgs := validation.IsQualifiedName(tt.ConfigurationName); len(msgs) > 0 {
			errs = append(errs, errInvalidKeyName(p.Child("configurationName"), tt.ConfigurationName, msgs...))
		}
	case inService:
		// The Service's own Configuration is implied.
	default:
		errs = append(errs, errMissingOneOf(p.Child("configurationName"), p.Child("revisionName"))...)
	}
	if tt.Percent != nil && (*tt.Percent < 0 || *tt.Percent > 100) {
		errs = append(errs, errOutOfBounds(p.Child("percent"), *tt.Percent, 0, 100))
	}
	if tt.URL != "" {
		errs = append(errs, errDisallowedFields(p.Child("url")))
	}
	return errs
}
