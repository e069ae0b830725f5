package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"

	"github.com/servekit/servekit/serving"
	v1 "github.com/servekit/servekit/serving/v1"
)

// KubeServicesGVR is the core Kubernetes Service resource: the placeholder Services
// of Routes (Options.IngressName).
var KubeServicesGVR = corev1.SchemeGroupVersion.WithResource("services")

// PlaceholderPortName is the name of the one port (80) of a placeholder Service, as
// Knative names it: the ingress speaks HTTP/1.1 and h2c there.
const PlaceholderPortName = "http2"

// placeholders keeps the placeholder Services of Routes: the informer of the core
// Services labelled serving.knative.dev/route. Nil when Options.IngressName is "".
type placeholders struct {
	factory  dynamicinformer.DynamicSharedInformerFactory
	informer cache.SharedIndexInformer
}

// newPlaceholders returns the placeholder informer for opts, or nil.
func newPlaceholders(opts Options) *placeholders {
	if opts.IngressName == "" {
		return nil
	}
	f := dynamicinformer.NewFilteredDynamicSharedInformerFactory(opts.Client, 0, opts.Namespace, func(lo *metav1.ListOptions) {
		lo.LabelSelector = serving.RouteLabelKey
	})
	return &placeholders{factory: f, informer: f.ForResource(KubeServicesGVR).Informer()}
}

// placeholderName is the name of the placeholder Service of a Route's traffic name
// (tag; "" for the Route itself): the tag template's result, "<tag>-<route>" by
// default, as Knative names the tag's hosts and Service.
func (s *Store) placeholderName(route, tag string) (string, error) {
	if tag == "" {
		return route, nil
	}
	if s.opts.TagName != nil {
		return s.opts.TagName(route, tag)
	}
	return tag + "-" + route, nil
}

// desiredPlaceholders returns the placeholder Services route should have, by name.
func (s *Store) desiredPlaceholders(route *v1.Route, uid string) (map[string]*corev1.Service, error) {
	names := []string{""}
	for _, t := range route.Spec.Traffic {
		if t.Tag != "" && !slices.Contains(names, t.Tag) {
			names = append(names, t.Tag)
		}
	}
	// Knative: the Route's labels, and serving.knative.dev/route naming it.
	labels := maps.Clone(route.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[serving.RouteLabelKey] = route.Name
	yes := true
	h2c := "kubernetes.io/h2c"
	out := map[string]*corev1.Service{}
	for _, tag := range names {
		name, err := s.placeholderName(route.Name, tag)
		if err != nil {
			return nil, fmt.Errorf("store: placeholder Service of route %s/%s tag %q: %w", route.Namespace, route.Name, tag, err)
		}
		out[name] = &corev1.Service{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
			ObjectMeta: metav1.ObjectMeta{
				Name: name, Namespace: route.Namespace, Labels: maps.Clone(labels),
				OwnerReferences: []metav1.OwnerReference{{
					APIVersion: v1.SchemeGroupVersion.String(), Kind: v1.KindRoute, Name: route.Name,
					UID: types.UID(uid), Controller: &yes, BlockOwnerDeletion: &yes,
				}},
			},
			Spec: corev1.ServiceSpec{
				Type:            corev1.ServiceTypeExternalName,
				ExternalName:    s.opts.IngressName,
				SessionAffinity: corev1.ServiceAffinityNone,
				Ports: []corev1.ServicePort{{
					Name: PlaceholderPortName, Protocol: corev1.ProtocolTCP, AppProtocol: &h2c,
					Port: 80, TargetPort: intstr.FromInt32(80),
				}},
			},
		}
	}
	return out, nil
}

// writePlaceholders brings the placeholder Services of the Route ref to what the
// controller's Route wants: one per traffic name (the Route and each tag), an
// ExternalName Service to Options.IngressName owned by the Route's API-server UID;
// those of removed tags are deleted. A Service of that name not owned by the Route
// is left alone and reported (Knative's NotOwned). It reads the informer cache and
// writes only what differs, so a Route in step costs no API call. Deleted Routes'
// placeholders are left to Kubernetes' garbage collector (owner references), as in
// Knative. A follower writes nothing.
func (s *Store) writePlaceholders(ctx context.Context, ref Ref) error {
	if s.ph == nil || ref.Resource != RoutesGVR.Resource || !s.leader.Load() {
		return nil
	}
	s.mu.Lock()
	route, _ := s.mu.desired[ref].(*v1.Route)
	s.mu.Unlock()
	if route == nil {
		return nil
	}
	uid := s.apiUID(ref)
	if uid == "" {
		return nil // not in the API server yet: the next Sync
	}
	want, err := s.desiredPlaceholders(route, string(uid))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
	defer cancel()
	res := s.client.Resource(KubeServicesGVR).Namespace(ref.Namespace)
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if err := s.ensurePlaceholder(ctx, ref, want[name]); err != nil {
			errs = append(errs, err)
		}
	}
	// Those of removed tags (owned by this Route, not wanted) go.
	for _, obj := range s.ph.informer.GetStore().List() {
		u, ok := obj.(*unstructured.Unstructured)
		if !ok || u.GetNamespace() != ref.Namespace || u.GetLabels()[serving.RouteLabelKey] != ref.Name {
			continue
		}
		if o := metav1.GetControllerOf(u); o == nil || o.UID != uid || o.Kind != v1.KindRoute {
			continue
		}
		if _, ok := want[u.GetName()]; ok {
			continue
		}
		err := res.Delete(ctx, u.GetName(), metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: new(u.GetUID())}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			errs = append(errs, fmt.Errorf("store: delete placeholder Service %s/%s: %w", u.GetNamespace(), u.GetName(), err))
			continue
		}
		s.log.Info("store: deleted placeholder Service", "service", u.GetNamespace()+"/"+u.GetName(), "route", ref.Name)
	}
	return errors.Join(errs...)
}

// ensurePlaceholder creates want, the placeholder of the Route route, or updates
// the type, target, ports and labels of the existing one if they differ (other
// labels, e.g. a user's networking.knative.dev/visibility, are kept). The Events
// are Knative's, on the Route: Created, or CreationFailed and InternalError.
func (s *Store) ensurePlaceholder(ctx context.Context, route Ref, want *corev1.Service) error {
	res := s.client.Resource(KubeServicesGVR).Namespace(want.Namespace)
	key := want.Namespace + "/" + want.Name
	var cur *corev1.Service
	if obj, ok, _ := s.ph.informer.GetStore().GetByKey(key); ok {
		if u, ok := obj.(*unstructured.Unstructured); ok {
			cur = &corev1.Service{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, cur); err != nil {
				return fmt.Errorf("store: placeholder Service %s: %w", key, err)
			}
		}
	}
	if cur == nil {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(want)
		if err != nil {
			return fmt.Errorf("store: placeholder Service %s: %w", key, err)
		}
		_, err = res.Create(ctx, &unstructured.Unstructured{Object: m}, metav1.CreateOptions{})
		if err == nil {
			s.log.Info("store: created placeholder Service", "service", key)
			s.recordPlaceholderCreated(route, want.Name)
			return nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return &writeError{err: fmt.Errorf("store: create placeholder Service %s: %w", key, err), on: route,
				reason: ReasonCreationFailed, message: fmt.Sprintf("Failed to create placeholder service %q: %v", want.Name, err),
				internal: fmt.Sprintf("failed to create placeholder service: %v", err)}
		}
		// Not in the cache: ours, just made, or someone else's (unlabelled).
		u, err := res.Get(ctx, want.Name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("store: get placeholder Service %s: %w", key, err)
		}
		cur = &corev1.Service{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, cur); err != nil {
			return fmt.Errorf("store: placeholder Service %s: %w", key, err)
		}
	}
	owner := want.OwnerReferences[0]
	if o := metav1.GetControllerOf(cur); o != nil && o.UID != owner.UID && o.Kind == owner.Kind && o.Name == owner.Name {
		// Left by a deleted Route of the same name (names are unique, so that
		// one is gone): the garbage collector's, in time; deleted now so that it
		// does not block the new Route's, as the store does with its other
		// children. Made again by the next write.
		err := res.Delete(ctx, want.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &cur.UID}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("store: delete placeholder Service %s, left by a deleted Route: %w", key, err)
		}
		return &writeError{err: fmt.Errorf("store: placeholder Service %s was left by a deleted Route: deleted, to be made again", key), on: route}
	}
	if o := metav1.GetControllerOf(cur); o == nil || o.UID != owner.UID {
		return &writeError{err: fmt.Errorf("store: there is an existing placeholder Service %q that we do not own", want.Name), on: route,
			internal: fmt.Sprintf("route: %q does not own Service: %q", route.Name, want.Name)} // Knative's route reconciler
	}
	next := cur.DeepCopy()
	if next.Labels == nil {
		next.Labels = map[string]string{}
	}
	maps.Copy(next.Labels, want.Labels)
	next.Spec.Type = want.Spec.Type
	next.Spec.ExternalName = want.Spec.ExternalName
	next.Spec.Ports = want.Spec.Ports
	next.Spec.SessionAffinity = want.Spec.SessionAffinity
	if next.Spec.Type == corev1.ServiceTypeExternalName {
		// An ExternalName Service has no cluster IP (one left by a type
		// change is refused).
		next.Spec.ClusterIP, next.Spec.ClusterIPs = "", nil
		next.Spec.IPFamilies, next.Spec.IPFamilyPolicy, next.Spec.InternalTrafficPolicy = nil, nil, nil
	}
	if equality.Semantic.DeepEqual(cur, next) {
		return nil
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(next)
	if err != nil {
		return fmt.Errorf("store: placeholder Service %s: %w", key, err)
	}
	if _, err := res.Update(ctx, &unstructured.Unstructured{Object: m}, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("store: update placeholder Service %s: %w", key, err)
	}
	s.log.Info("store: updated placeholder Service", "service", key)
	return nil
}
