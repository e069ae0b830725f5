package revision

import (
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/servekit/servekit/serving"
	v1 "github.com/servekit/servekit/serving/v1"
)

// Snapshot returns the Revision that cfg's current generation stamps
// (Knative's MakeRevision). cfg should already be defaulted, as it is
// after admission; Snapshot does not default or validate it.
//
// The Revision is a deep copy: its labels, annotations and spec share no
// map, slice or pointer with cfg, so later edits of cfg never reach it.
// It has:
//
//   - the template's name, generateName, labels and annotations, and the
//     template's spec;
//   - name Name(cfg), cfg's namespace, and a controller owner reference to
//     cfg (blockOwnerDeletion true);
//   - labels serving.knative.dev/configuration (cfg's name),
//     configurationGeneration (decimal), configurationUID (cfg's UID), and
//     service and serviceUID copied from cfg's labels; each is written only
//     when non-empty and overwrites a template label of the same key;
//   - label serving.knative.dev/routingState "active" when cfg carries a
//     non-empty serving.knative.dev/routes annotation (a Route already
//     wants it, the usual case for a Service's Configuration, which Knative
//     also copies onto the Revision), else "pending"; annotation
//     serving.knative.dev/routingStateModified = now (UTC, RFC 3339);
//   - annotation serving.knative.dev/creator = cfg's
//     serving.knative.dev/lastModifier, when present: whoever last changed
//     the Configuration created the Revision;
//   - TypeMeta serving.knative.dev/v1 Revision and CreationTimestamp now
//     (an API server replaces the latter with its own clock).
//
// It fails when cfg is nil, has no name, or has a generation below 1
// (generations start at 1 and name the Revision).
func Snapshot(cfg *v1.Configuration, now time.Time) (*v1.Revision, error) {
	if cfg == nil {
		return nil, errors.New("revision: nil Configuration")
	}
	if cfg.Name == "" {
		return nil, errors.New("revision: Configuration has no metadata.name")
	}
	if cfg.Generation < 1 {
		return nil, fmt.Errorf("revision: Configuration %q: invalid metadata.generation %d: generations start at 1", cfg.Name, cfg.Generation)
	}
	tmpl := &cfg.Spec.Template
	rev := &v1.Revision{
		TypeMeta: metav1.TypeMeta{APIVersion: v1.SchemeGroupVersion.String(), Kind: v1.KindRevision},
		ObjectMeta: metav1.ObjectMeta{
			Name:              Name(cfg),
			GenerateName:      tmpl.GenerateName,
			Namespace:         cfg.Namespace,
			CreationTimestamp: metav1.NewTime(now),
			Labels:            make(map[string]string, len(tmpl.Labels)+6),
			Annotations:       make(map[string]string, len(tmpl.Annotations)+3),
			OwnerReferences:   []metav1.OwnerReference{*metav1.NewControllerRef(cfg, v1.SchemeGroupVersion.WithKind(v1.KindConfiguration))},
		},
	}
	tmpl.Spec.DeepCopyInto(&rev.Spec)
	maps.Copy(rev.Labels, tmpl.Labels)
	maps.Copy(rev.Annotations, tmpl.Annotations)

	rev.Labels[serving.ConfigurationLabelKey] = cfg.Name
	rev.Labels[serving.ConfigurationGenerationLabelKey] = strconv.FormatInt(cfg.Generation, 10)
	// Like Knative, only non-empty values are written.
	if cfg.UID != "" {
		rev.Labels[serving.ConfigurationUIDLabelKey] = string(cfg.UID)
	}
	for _, k := range []string{serving.ServiceLabelKey, serving.ServiceUIDLabelKey} {
		if v := cfg.Labels[k]; v != "" {
			rev.Labels[k] = v
		}
	}

	if c, ok := cfg.Annotations[serving.UpdaterAnnotation]; ok {
		rev.Annotations[serving.CreatorAnnotation] = c
	}
	state := serving.RoutingStatePending
	if r, ok := cfg.Annotations[serving.RoutesAnnotationKey]; ok {
		rev.Annotations[serving.RoutesAnnotationKey] = r
		if r != "" {
			state = serving.RoutingStateActive
		}
	}
	rev.Labels[serving.RoutingStateLabelKey] = state
	rev.Annotations[serving.RoutingStateModifiedAnnotationKey] = RoutingStateModifiedString(now)
	return rev, nil
}

// RoutingStateModifiedString formats t as the value of the
// serving.knative.dev/routingStateModified annotation: UTC, RFC 3339,
// whole seconds.
func RoutingStateModifiedString(t time.Time) string {
	return t.UTC().Format(time.RFC3339)
}
