package revision

import (
	"errors"
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/servekit/servekit/serving"
	v1 "github.com/servekit/servekit/serving/v1"
)

// ErrNameTaken is matched (with errors.Is) by the error Current and
// CheckName return when the bring-your-own Revision name of a template is
// used by a Revision that cannot stand for the Configuration's current
// generation.
var ErrNameTaken = errors.New("revision: name taken")

// nameTakenError reads like the Kubernetes AlreadyExists error Knative
// reports: `revisions.serving.knative.dev "<name>" already exists`.
type nameTakenError struct{ name string }

func (e *nameTakenError) Error() string {
	return fmt.Sprintf("%s %q already exists", v1.Resource("revisions"), e.name)
}

func (e *nameTakenError) Is(target error) bool { return target == ErrNameTaken }

// Current returns the Revision among revs that stands for cfg's current
// generation, or nil when it has yet to be stamped (call Snapshot). revs
// may hold any Revisions; only those in cfg's namespace count.
//
// With a bring-your-own name (spec.template.metadata.name), the Revision
// of that name is checked with CheckName: a conflict returns an error
// matching ErrNameTaken. Knative then marks the Configuration
// (cfg.Status.MarkRevisionCreationFailed(now, err.Error())) and stops.
//
// Without one, it is the Revision labelled
// serving.knative.dev/configuration=<cfg> and
// serving.knative.dev/configurationGeneration=<generation>, whatever its
// name (so Revisions named by older schemes keep working). If several
// match, the one with the smallest name is returned.
func Current(cfg *v1.Configuration, revs []*v1.Revision) (*v1.Revision, error) {
	if byo := cfg.Spec.Template.Name; byo != "" {
		for _, r := range revs {
			if r != nil && r.Namespace == cfg.Namespace && r.Name == byo {
				if err := CheckName(cfg, r); err != nil {
					return nil, err
				}
				return r, nil
			}
		}
		return nil, nil
	}
	gen := strconv.FormatInt(cfg.Generation, 10)
	var found *v1.Revision
	for _, r := range revs {
		if r == nil || r.Namespace != cfg.Namespace ||
			r.Labels[serving.ConfigurationLabelKey] != cfg.Name ||
			r.Labels[serving.ConfigurationGenerationLabelKey] != gen {
			continue
		}
		if found == nil || r.Name < found.Name {
			found = r
		}
	}
	return found, nil
}

// CheckName reports whether existing, the Revision that already carries
// the bring-your-own name of cfg's template, may stand for cfg's current
// generation (Knative's CheckNameAvailability). It may when cfg controls
// it and it was stamped from the current generation, or from another
// generation with a semantically equal spec (a "git revert" of the
// template). Otherwise the error matches ErrNameTaken. A nil existing (the
// name is free) and a template without a name are fine.
func CheckName(cfg *v1.Configuration, existing *v1.Revision) error {
	name := cfg.Spec.Template.Name
	if name == "" || existing == nil {
		return nil
	}
	if !metav1.IsControlledBy(existing, cfg) {
		return &nameTakenError{name: name}
	}
	if existing.Labels[serving.ConfigurationGenerationLabelKey] == strconv.FormatInt(cfg.Generation, 10) {
		return nil
	}
	// Only the spec must match: the rest of a Revision is either immutable
	// or may have been labelled and annotated by users since.
	if !equality.Semantic.DeepEqual(cfg.Spec.Template.Spec, existing.Spec) {
		return &nameTakenError{name: name}
	}
	return nil
}
