package webhook_test

// Against a real kube-apiserver (serving/runtime/kube/kubetest), which calls the
// webhook on loopback. Skipped without hack/testbin.sh's binaries, unless
// SERVEKIT_REQUIRE_APISERVER=1.

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/jsonmergepatch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/servekit/servekit/serving/runtime/kube/kubetest"
	"github.com/servekit/servekit/serving/runtime/kube/webhook"
)

var ksvcGVR = schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "services"}

const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond) // poll interval of an observed condition
	}
}

func as(cfg *rest.Config, user string) dynamic.NamespaceableResourceInterface {
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:masters", "system:authenticated"}}
	return dynamic.NewForConfigOrDie(c).Resource(ksvcGVR)
}

func seedObject(t *testing.T, name string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := json.Unmarshal(seedJSON(t), &u.Object); err != nil {
		t.Fatal(err)
	}
	u.SetName(name)
	return u
}

// clientSideApply does what `kubectl apply` does for a custom resource: create
// with the last-applied annotation, or send the three-way JSON merge patch of the
// last applied, the new and the live object (nothing if it is empty).
func clientSideApply(ctx context.Context, t *testing.T, ksvc dynamic.ResourceInterface, obj *unstructured.Unstructured) {
	t.Helper()
	modified, err := json.Marshal(obj.Object)
	if err != nil {
		t.Fatal(err)
	}
	withAnn := obj.DeepCopy()
	withAnn.SetAnnotations(map[string]string{lastApplied: string(modified)})
	live, err := ksvc.Get(ctx, obj.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if _, err := ksvc.Create(ctx, withAnn, metav1.CreateOptions{}); err != nil {
			t.Fatalf("apply (create) %s: %v", obj.GetName(), err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	current, err := json.Marshal(live.Object)
	if err != nil {
		t.Fatal(err)
	}
	modifiedWithAnn, err := json.Marshal(withAnn.Object)
	if err != nil {
		t.Fatal(err)
	}
	patch, err := jsonmergepatch.CreateThreeWayJSONMergePatch([]byte(live.GetAnnotations()[lastApplied]), modifiedWithAnn, current)
	if err != nil {
		t.Fatal(err)
	}
	if string(patch) == "{}" {
		return // kubectl: "unchanged"
	}
	if _, err := ksvc.Patch(ctx, obj.GetName(), types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatalf("apply (patch %s) %s: %v", patch, obj.GetName(), err)
	}
}

func serverSideApply(ctx context.Context, t *testing.T, ksvc dynamic.ResourceInterface, obj *unstructured.Unstructured, dryRun bool) *unstructured.Unstructured {
	t.Helper()
	b, err := json.Marshal(obj.Object)
	if err != nil {
		t.Fatal(err)
	}
	force := true
	opts := metav1.PatchOptions{FieldManager: "kubectl", Force: &force}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	out, err := ksvc.Patch(ctx, obj.GetName(), types.ApplyPatchType, b, opts)
	if err != nil {
		t.Fatalf("server-side apply %s: %v", obj.GetName(), err)
	}
	return out
}

func TestRealAdmission(t *testing.T) {
	cfg := kubetest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := kubetest.ApplyFiles(ctx, cfg, "../../../../config/deploy/00-namespace.yaml", "../../../../config/deploy/10-rbac.yaml"); err != nil {
		t.Fatal(err)
	}
	sa := kubetest.ServiceAccountConfig(cfg, "servekit", "servekit-controller")
	stop := kubetest.StartWebhook(t, cfg, sa)
	alice := as(cfg, "alice").Namespace("default")
	bob := as(cfg, "bob").Namespace("default")

	invalid := seedObject(t, "invalid")
	if err := unstructured.SetNestedField(invalid.Object, int64(-1), "spec", "template", "spec", "containerConcurrency"); err != nil {
		t.Fatal(err)
	}
	const refusal = `admission webhook "validation.webhook.serving.knative.dev" denied the request: validation failed: expected 0 <= -1 <= 1000: spec.template.spec.containerConcurrency`
	if _, err := alice.Create(ctx, invalid, metav1.CreateOptions{}); err == nil || !strings.Contains(err.Error(), refusal) {
		t.Errorf("creating an invalid Service: %v; want %q", err, refusal)
	}

	t.Run("defaults, creator and lastModifier at create", func(t *testing.T) {
		clientSideApply(ctx, t, alice, seedObject(t, "helloworld-go"))
		got, err := alice.Get(ctx, "helloworld-go", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.GetGeneration() != 1 {
			t.Errorf("generation = %d, want 1", got.GetGeneration())
		}
		for path, want := range map[string]any{
			"spec.template.spec.timeoutSeconds":       int64(300),
			"spec.template.spec.containerConcurrency": int64(0),
			"spec.template.spec.enableServiceLinks":   false,
			"spec.traffic":                            []any{map[string]any{"latestRevision": true, "percent": int64(100)}},
		} {
			v, _, _ := unstructured.NestedFieldNoCopy(got.Object, strings.Split(path, ".")...)
			if !equalJSON(v, want) {
				t.Errorf("%s = %v, want %v", path, v, want)
			}
		}
		cs, _, _ := unstructured.NestedSlice(got.Object, "spec", "template", "spec", "containers")
		if n, _ := cs[0].(map[string]any)["name"]; n != "user-container" {
			t.Errorf("container name = %v, want user-container", n)
		}
		if a := got.GetAnnotations(); a["serving.knative.dev/creator"] != "alice" || a["serving.knative.dev/lastModifier"] != "alice" {
			t.Errorf("creator, lastModifier = %q, %q; want alice, alice", a["serving.knative.dev/creator"], a["serving.knative.dev/lastModifier"])
		}
	})

	t.Run("unchanged re-apply leaves the generation", func(t *testing.T) {
		clientSideApply(ctx, t, bob, seedObject(t, "helloworld-go"))
		serverSideApply(ctx, t, bob, seedObject(t, "helloworld-go"), false)
		// A Service created by server-side apply, applied again.
		serverSideApply(ctx, t, alice, seedObject(t, "hello-ssa"), false)
		serverSideApply(ctx, t, bob, seedObject(t, "hello-ssa"), false)
		for _, name := range []string{"helloworld-go", "hello-ssa"} {
			got, err := alice.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got.GetGeneration() != 1 || got.GetAnnotations()["serving.knative.dev/lastModifier"] != "alice" {
				t.Errorf("%s: generation %d, lastModifier %q after unchanged re-applies; want 1, alice", name, got.GetGeneration(), got.GetAnnotations()["serving.knative.dev/lastModifier"])
			}
			// kubectl diff: a server-side dry-run apply compared with the live object.
			dry := serverSideApply(ctx, t, bob, seedObject(t, name), true)
			if !equalJSON(dry.Object["spec"], got.Object["spec"]) || dry.GetGeneration() != 1 {
				t.Errorf("%s: dry-run apply differs from the live object (kubectl diff not empty)", name)
			}
		}
	})

	t.Run("a spec change sets lastModifier; creator cannot be changed", func(t *testing.T) {
		changed := seedObject(t, "helloworld-go")
		cs, _, _ := unstructured.NestedSlice(changed.Object, "spec", "template", "spec", "containers")
		cs[0].(map[string]any)["env"] = []any{map[string]any{"name": "TARGET", "value": "Go"}}
		if err := unstructured.SetNestedSlice(changed.Object, cs, "spec", "template", "spec", "containers"); err != nil {
			t.Fatal(err)
		}
		clientSideApply(ctx, t, bob, changed)
		got, err := bob.Get(ctx, "helloworld-go", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		a := got.GetAnnotations()
		if got.GetGeneration() != 2 || a["serving.knative.dev/creator"] != "alice" || a["serving.knative.dev/lastModifier"] != "bob" {
			t.Errorf("generation %d, creator %q, lastModifier %q; want 2, alice, bob", got.GetGeneration(), a["serving.knative.dev/creator"], a["serving.knative.dev/lastModifier"])
		}
		_, err = bob.Patch(ctx, "helloworld-go", types.MergePatchType, []byte(`{"metadata":{"annotations":{"serving.knative.dev/creator":"bob"}}}`), metav1.PatchOptions{})
		if err == nil || !strings.Contains(err.Error(), "validation failed: annotation value is immutable: metadata.annotations.serving.knative.dev/creator") {
			t.Errorf("changing the creator: %v, want refused as immutable", err)
		}
	})

	cs := kubernetes.NewForConfigOrDie(cfg)
	secret, err := cs.CoreV1().Secrets("servekit").Get(ctx, webhook.DefaultSecretName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("the CA bundle is registered", func(t *testing.T) {
		m, err := cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, webhook.MutatingName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		v, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, webhook.ValidatingName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(m.Webhooks[0].ClientConfig.CABundle, secret.Data[webhook.CACertKey]) || !bytes.Equal(v.Webhooks[0].ClientConfig.CABundle, secret.Data[webhook.CACertKey]) {
			t.Error("the configurations' caBundle is not the Secret's CA")
		}
		if f := *v.Webhooks[0].FailurePolicy; f != "Fail" {
			t.Errorf("failurePolicy = %s, want Fail", f)
		}
	})

	t.Run("webhook down: writes refused", func(t *testing.T) {
		stop()
		_, err := alice.Create(ctx, seedObject(t, "while-down"), metav1.CreateOptions{})
		if err == nil || !strings.Contains(err.Error(), `failed calling webhook "webhook.serving.knative.dev"`) {
			t.Errorf("create while the webhook is down: %v; want refused (failurePolicy Fail)", err)
		}
		t.Logf("what a user sees: %v", err)
	})

	t.Run("a restart reuses the Secret", func(t *testing.T) {
		kubetest.StartWebhook(t, cfg, sa) // another port: the configurations follow
		waitFor(t, "a Service created through the restarted webhook", func() bool {
			_, err := alice.Create(ctx, seedObject(t, "after-restart"), metav1.CreateOptions{})
			return err == nil
		})
		again, err := cs.CoreV1().Secrets("servekit").Get(ctx, webhook.DefaultSecretName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if again.ResourceVersion != secret.ResourceVersion || !bytes.Equal(again.Data[webhook.CACertKey], secret.Data[webhook.CACertKey]) {
			t.Error("the restarted webhook replaced the certificate Secret; want it reused")
		}
	})
}

func equalJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}
