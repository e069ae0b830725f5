package store_test

import (
	"context"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"

	"github.com/servekit/servekit/serving/runtime/kube/kubetest"
	"github.com/servekit/servekit/serving/runtime/kube/store"
)

// withRecorder gives the store the event recorder serving/platform/cluster makes
// (core/v1 Events from servekit-controller), stopped after the stack.
func withRecorder(t *testing.T, cfg *rest.Config) func(*store.Options) {
	ctx, cancel := context.WithCancel(context.Background())
	events := record.NewBroadcaster(record.WithContext(ctx))
	events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: kubernetes.NewForConfigOrDie(cfg).CoreV1().Events("")})
	t.Cleanup(func() { cancel(); events.Shutdown() })
	recorder := events.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "servekit-controller"})
	return func(o *store.Options) { o.Recorder = recorder }
}

// refuse makes the API server refuse, with the message "refused by the test", the
// writes rules names of the objects for which the CEL expression refused holds (a
// ValidatingAdmissionPolicy and its binding, both called name), and waits until
// probe fails; the returned func lifts it and waits until probe succeeds.
func refuse(t *testing.T, cs kubernetes.Interface, name string, rules []admissionregistrationv1.NamedRuleWithOperations, refused string, probe func() error) (lift func()) {
	t.Helper()
	ctx := context.Background()
	fail := admissionregistrationv1.Fail
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy:    &fail,
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: rules},
			Validations:      []admissionregistrationv1.Validation{{Expression: "!(" + refused + ")", Message: "refused by the test"}},
		},
	}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName: name, ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
		},
	}
	vap := cs.AdmissionregistrationV1()
	if _, err := vap.ValidatingAdmissionPolicies().Create(ctx, policy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := vap.ValidatingAdmissionPolicyBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the policy "+name+" in force", func() bool { return probe() != nil })
	return func() {
		t.Helper()
		if err := vap.ValidatingAdmissionPolicyBindings().Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := vap.ValidatingAdmissionPolicies().Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the policy "+name+" lifted", func() bool { return probe() == nil })
	}
}

func rules(group string, resources ...string) []admissionregistrationv1.NamedRuleWithOperations {
	return []admissionregistrationv1.NamedRuleWithOperations{{RuleWithOperations: admissionregistrationv1.RuleWithOperations{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
		Rule:       admissionregistrationv1.Rule{APIGroups: []string{group}, APIVersions: []string{"v1"}, Resources: resources},
	}}}
}

// TestRealFailureEvents: the Warning Events of failed writes are Knative's
// (reasons, types and message forms of its Service, Configuration and Route
// reconcilers and of knative.dev/pkg's generated reconcilers), on the objects
// Knative records them on, as `kubectl describe` lists them, each once however
// often the write is retried. The API server refuses (a ValidatingAdmissionPolicy)
// the Route, the Revision, the Service's status and then the Route's placeholder
// Service of the Service "failing"; once it stops refusing, the Created Events
// follow.
func TestRealFailureEvents(t *testing.T) {
	cfg := kubetest.Start(t)
	kubetest.StartWebhook(t, cfg, nil)
	ctx := context.Background()
	dyn := dynamic.NewForConfigOrDie(cfg)
	cs := kubernetes.NewForConfigOrDie(cfg)
	dryRun := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}

	// What the API server answers the store's writes while it refuses them,
	// asked with dry runs of the same writes.
	failingRoute := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "serving.knative.dev/v1", "kind": "Route", "metadata": map[string]any{"name": "failing", "namespace": "default"},
		"spec": map[string]any{"traffic": []any{map[string]any{"configurationName": "failing", "latestRevision": true, "percent": int64(100)}}},
	}}
	var routeErr error
	liftServing := refuse(t, cs, "servekit-test-serving", rules("serving.knative.dev", "routes", "revisions", "services/status"),
		"object.metadata.name.startsWith('failing')", func() error {
			_, err := dyn.Resource(store.RoutesGVR).Namespace("default").Create(ctx, failingRoute, dryRun)
			if apierrors.IsAlreadyExists(err) {
				return nil // lifted, and the store has made it since
			}
			if err != nil {
				routeErr = err // kept once the policy is lifted
			}
			return err
		})
	placeholder := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "failing", Namespace: "default"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: testIngress}}
	var phErr error
	liftCore := refuse(t, cs, "servekit-test-core", rules("", "services"), "object.metadata.name == 'failing'", func() error {
		_, err := cs.CoreV1().Services("default").Create(ctx, placeholder, dryRun)
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		if err != nil {
			phErr = err
		}
		return err
	})

	startStack(t, cfg, withIngress, withRecorder(t, cfg))
	svcObj := seed(t)
	svcObj.SetName("failing")
	svc, err := dyn.Resource(store.ServicesGVR).Namespace("default").Create(ctx, svcObj, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var cfgObj *unstructured.Unstructured
	waitFor(t, "the Configuration failing", func() bool {
		cfgObj, _ = get(ctx, dyn, store.ConfigurationsGVR, "failing")
		return cfgObj != nil
	})
	// The same refusals, as the store gets them.
	rev := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "serving.knative.dev/v1", "kind": "Revision", "metadata": map[string]any{"name": "failing-00001", "namespace": "default"},
		"spec": map[string]any{"containers": []any{map[string]any{"image": "example.com/x:v1"}}},
	}}
	_, revErr := dyn.Resource(store.RevisionsGVR).Namespace("default").Create(ctx, rev, dryRun)
	cur, err := get(ctx, dyn, store.ServicesGVR, "failing")
	if err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedField(cur.Object, int64(99), "status", "observedGeneration"); err != nil {
		t.Fatal(err)
	}
	_, statusErr := dyn.Resource(store.ServicesGVR).Namespace("default").UpdateStatus(ctx, cur, metav1.UpdateOptions{DryRun: []string{metav1.DryRunAll}})
	for _, err := range []error{routeErr, revErr, statusErr} {
		if err == nil || !apierrors.IsInvalid(err) && !apierrors.IsForbidden(err) {
			t.Fatalf("a refused write returned %v, want the policy's refusal (route %v, revision %v, status %v)", err, routeErr, revErr, statusErr)
		}
	}

	wantEvents(ctx, t, cs, "ksvc failing (refused)", svc.GetUID(), map[string]int32{
		`Normal Created: Created Configuration "failing"`:                                   1,
		`Warning CreationFailed: Failed to create Route "failing": ` + routeErr.Error():     1,
		`Warning InternalError: failed to create Route: ` + routeErr.Error():                1,
		`Warning UpdateFailed: Failed to update status for "failing": ` + statusErr.Error(): 1,
	})
	wantEvents(ctx, t, cs, "configuration failing (refused)", cfgObj.GetUID(), map[string]int32{
		`Warning CreationFailed: Failed to create Revision: ` + revErr.Error(): 1,
		`Warning InternalError: failed to create Revision: ` + revErr.Error():  1,
	})

	liftServing()
	var rt *unstructured.Unstructured
	waitFor(t, "the Route failing", func() bool {
		rt, _ = get(ctx, dyn, store.RoutesGVR, "failing")
		return rt != nil
	})
	wantEvents(ctx, t, cs, "route failing (its placeholder refused)", rt.GetUID(), map[string]int32{
		`Warning CreationFailed: Failed to create placeholder service "failing": ` + phErr.Error(): 1,
		`Warning InternalError: failed to create placeholder service: ` + phErr.Error():            1,
	})
	liftCore()
	wantEvents(ctx, t, cs, "route failing", rt.GetUID(), map[string]int32{
		`Warning CreationFailed: Failed to create placeholder service "failing": ` + phErr.Error(): 1,
		`Warning InternalError: failed to create placeholder service: ` + phErr.Error():            1,
		`Normal Created: Created placeholder service "failing"`:                                    1,
	})
	wantEvents(ctx, t, cs, "ksvc failing", svc.GetUID(), map[string]int32{
		`Normal Created: Created Configuration "failing"`:                                   1,
		`Normal Created: Created Route "failing"`:                                           1,
		`Warning CreationFailed: Failed to create Route "failing": ` + routeErr.Error():     1,
		`Warning InternalError: failed to create Route: ` + routeErr.Error():                1,
		`Warning UpdateFailed: Failed to update status for "failing": ` + statusErr.Error(): 1,
	})
	wantEvents(ctx, t, cs, "configuration failing", cfgObj.GetUID(), map[string]int32{
		`Warning CreationFailed: Failed to create Revision: ` + revErr.Error(): 1,
		`Warning InternalError: failed to create Revision: ` + revErr.Error():  1,
		`Normal Created: Created Revision "failing-00001"`:                     1,
	})
}
