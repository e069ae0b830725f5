package v1

import (
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/servekit/servekit/route/traffic"
)

// validateTraffic checks a spec traffic list (p = spec.traffic) with the
// rules of package route/traffic, rendered with Knative's field paths and
// messages. inService means the list belongs to a Service, whose
// Configuration is implied. The url field, which traffic does not know,
// must not be set.
func validateTraffic(tts []TrafficTarget, inService bool, p *field.Path) field.ErrorList {
	targets := make([]traffic.Target, len(tts))
	for i, tt := range tts {
		targets[i] = traffic.Target{Tag: tt.Tag, RevisionName: tt.RevisionName,
			ConfigurationName: tt.ConfigurationName, LatestRevision: tt.LatestRevision, Percent: tt.Percent}
	}
	// Knative's order: each target's own errors (url last), then the
	// tags that are not DNS labels, then the duplicate tags, then the sum.
	own := make([]field.ErrorList, len(tts))
	var tagErrs, dupErrs, sumErrs field.ErrorList
	for _, e := range traffic.Validate(targets, inService) {
		switch e.Kind {
		case traffic.TagNotDNS1035Label:
			// Knative reports tag errors at "traffic.tag[i]" (ViaIndex
			// applied to the "tag" path), not "traffic[i].tag"; we keep
			// its path.
			tagErrs = append(tagErrs, errGeneric(p.Child("tag").Index(e.Index), e.Value, e.Message(), got(e.Value)))
		case traffic.DuplicateTag:
			dupErrs = append(dupErrs, trafficError(e, p))
		case traffic.BadSum:
			sumErrs = append(sumErrs, trafficError(e, p))
		default:
			own[e.Index] = append(own[e.Index], trafficError(e, p))
		}
	}
	var errs field.ErrorList
	for i, tt := range tts {
		errs = append(errs, own[i]...)
		if tt.URL != "" {
			errs = append(errs, errDisallowedFields(p.Index(i).Child("url")))
		}
	}
	errs = append(errs, tagErrs...)
	errs = append(errs, dupErrs...)
	return append(errs, sumErrs...)
}

// trafficError renders one broken traffic rule as Knative does.
func trafficError(e traffic.Error, p *field.Path) *field.Error {
	if e.Index < 0 {
		return errGeneric(p, e.Number, e.Message())
	}
	fp := p.Index(e.Index).Child(e.Field)
	e.Value = shorten(e.Value)
	switch e.Kind {
	case traffic.ConfigurationInService:
		return errDisallowedFields(fp)
	case traffic.NeitherName:
		return field.Required(fp, e.Message())
	case traffic.BothNames:
		return field.Invalid(fp, "", e.Message())
	case traffic.InvalidName:
		return errGeneric(fp, e.Value, withDetails(e.Message(), []string{strings.Join(e.Rules, ", ")}))
	case traffic.PercentOutOfRange:
		return errGeneric(fp, e.Number, e.Message())
	case traffic.LatestRevisionConflict:
		return errGeneric(fp, e.Latest, e.Message())
	}
	return errGeneric(fp, e.Value, e.Message())
}
