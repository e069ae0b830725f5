package webhook_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/servekit/servekit/serving/runtime/kube/webhook"
)

func seedJSON(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../store/testdata/helloworld-go.yaml")
	if err != nil {
		t.Fatal(err)
	}
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func request(kind string, op admissionv1.Operation, user string, obj, old []byte) *admissionv1.AdmissionRequest {
	return &admissionv1.AdmissionRequest{
		UID:       "uid-1",
		Kind:      metav1.GroupVersionKind{Group: "serving.knative.dev", Version: "v1", Kind: kind},
		Operation: op,
		UserInfo:  authenticationv1.UserInfo{Username: user},
		Object:    runtime.RawExtension{Raw: obj},
		OldObject: runtime.RawExtension{Raw: old},
	}
}

// applyPatch applies a response's JSON patch as the API server does.
func applyPatch(t *testing.T, obj []byte, resp *admissionv1.AdmissionResponse) []byte {
	t.Helper()
	if !resp.Allowed {
		t.Fatalf("refused: %v", resp.Result)
	}
	if len(resp.Patch) == 0 {
		return obj
	}
	if resp.PatchType == nil || *resp.PatchType != admissionv1.PatchTypeJSONPatch {
		t.Fatalf("patchType = %v, want JSONPatch", resp.PatchType)
	}
	p, err := jsonpatch.DecodePatch(resp.Patch)
	if err != nil {
		t.Fatalf("patch %s: %v", resp.Patch, err)
	}
	out, err := p.Apply(obj)
	if err != nil {
		t.Fatalf("applying %s: %v", resp.Patch, err)
	}
	return out
}

func field(t *testing.T, obj []byte, path ...string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(obj, &v); err != nil {
		t.Fatal(err)
	}
	for _, p := range path {
		switch c := v.(type) {
		case map[string]any:
			v = c[p]
		case []any:
			if len(c) == 0 {
				return nil
			}
			v = c[0] // "0" is the only index used here
		default:
			return nil
		}
	}
	return v
}

func TestDefaultingPatch(t *testing.T) {
	h := &webhook.Handler{}
	seed := seedJSON(t)
	resp := h.Default(request("Service", admissionv1.Create, "alice", seed, nil))
	created := applyPatch(t, seed, resp)

	for _, c := range []struct {
		path []string
		want any
	}{
		{[]string{"spec", "template", "spec", "timeoutSeconds"}, 300.0},
		{[]string{"spec", "template", "spec", "containerConcurrency"}, 0.0},
		{[]string{"spec", "template", "spec", "enableServiceLinks"}, false},
		{[]string{"spec", "template", "spec", "containers", "0", "name"}, "user-container"},
		{[]string{"spec", "template", "spec", "containers", "0", "readinessProbe", "successThreshold"}, 1.0},
		{[]string{"spec", "traffic", "0", "latestRevision"}, true},
		{[]string{"spec", "traffic", "0", "percent"}, 100.0},
		{[]string{"metadata", "annotations", "serving.knative.dev/creator"}, "alice"},
		{[]string{"metadata", "annotations", "serving.knative.dev/lastModifier"}, "alice"},
		// Untouched: what the user gave.
		{[]string{"spec", "template", "metadata", "annotations", "autoscaling.knative.dev/target"}, "10"},
		{[]string{"metadata", "name"}, "helloworld-go"},
	} {
		if got := field(t, created, c.path...); !cmp.Equal(got, c.want) {
			t.Errorf("%s = %v, want %v", strings.Join(c.path, "."), got, c.want)
		}
	}
	// Only spec and annotations are patched; each op has a JSON pointer path.
	var ops []map[string]any
	if err := json.Unmarshal(resp.Patch, &ops); err != nil {
		t.Fatal(err)
	}
	for _, op := range ops {
		p, _ := op["path"].(string)
		if !strings.HasPrefix(p, "/spec") && !strings.HasPrefix(p, "/metadata/annotations") {
			t.Errorf("op %v outside /spec and /metadata/annotations", op)
		}
	}

	t.Run("defaulted again: no patch", func(t *testing.T) {
		resp := h.Default(request("Service", admissionv1.Update, "bob", created, created))
		if len(resp.Patch) != 0 || !resp.Allowed {
			t.Errorf("update of the stored object with itself: patch %s, allowed %v; want none", resp.Patch, resp.Allowed)
		}
	})
	t.Run("spec change sets lastModifier, keeps creator", func(t *testing.T) {
		changed := bytes.Replace(created, []byte(`"World"`), []byte(`"Go"`), 1)
		got := applyPatch(t, changed, h.Default(request("Service", admissionv1.Update, "bob", changed, created)))
		if c, m := field(t, got, "metadata", "annotations", "serving.knative.dev/creator"), field(t, got, "metadata", "annotations", "serving.knative.dev/lastModifier"); c != "alice" || m != "bob" {
			t.Errorf("creator, lastModifier = %v, %v; want alice, bob", c, m)
		}
	})
	t.Run("a user-set creator is overwritten on create", func(t *testing.T) {
		forged := withAnnotations(t, seed, []byte(`{"metadata":{"annotations":{"serving.knative.dev/creator":"mallory","serving.knative.dev/lastModifier":"mallory"}}}`))
		got := applyPatch(t, forged, h.Default(request("Service", admissionv1.Create, "alice", forged, nil)))
		if c, m := field(t, got, "metadata", "annotations", "serving.knative.dev/creator"), field(t, got, "metadata", "annotations", "serving.knative.dev/lastModifier"); c != "alice" || m != "alice" {
			t.Errorf("creator, lastModifier = %v, %v; want alice, alice", c, m)
		}
	})
	t.Run("an owned Configuration gets no user annotations", func(t *testing.T) {
		cfg := []byte(`{"apiVersion":"serving.knative.dev/v1","kind":"Configuration","metadata":{"name":"c","ownerReferences":[{"apiVersion":"serving.knative.dev/v1","kind":"Service","name":"s","uid":"u"}]},
			"spec":{"template":{"spec":{"containers":[{"image":"img"}]}}}}`)
		got := applyPatch(t, cfg, h.Default(request("Configuration", admissionv1.Create, "alice", cfg, nil)))
		if a := field(t, got, "metadata", "annotations"); a != nil {
			t.Errorf("annotations = %v, want none", a)
		}
		if n := field(t, got, "spec", "template", "spec", "containers", "0", "name"); n != "user-container" {
			t.Errorf("container name = %v, want user-container", n)
		}
	})
}

// withAnnotations is obj with the metadata.annotations of from.
func withAnnotations(t *testing.T, obj, from []byte) []byte {
	t.Helper()
	var o, f map[string]any
	if err := json.Unmarshal(obj, &o); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(from, &f); err != nil {
		t.Fatal(err)
	}
	o["metadata"].(map[string]any)["annotations"] = f["metadata"].(map[string]any)["annotations"]
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestValidation(t *testing.T) {
	h := &webhook.Handler{}
	seed := seedJSON(t)
	created := applyPatch(t, seed, h.Default(request("Service", admissionv1.Create, "alice", seed, nil)))
	for _, c := range []struct {
		name    string
		req     *admissionv1.AdmissionRequest
		wantMsg string // "" means allowed
	}{
		{"valid seed", request("Service", admissionv1.Create, "alice", created, nil), ""},
		{"containerConcurrency -1", request("Service", admissionv1.Create, "alice",
			bytes.Replace(created, []byte(`"containerConcurrency":0`), []byte(`"containerConcurrency":-1`), 1), nil),
			"validation failed: expected 0 <= -1 <= 1000: spec.template.spec.containerConcurrency"},
		{"creator changed", request("Service", admissionv1.Update, "mallory",
			bytes.Replace(created, []byte(`"serving.knative.dev/creator":"alice"`), []byte(`"serving.knative.dev/creator":"mallory"`), 1), created),
			"validation failed: annotation value is immutable: metadata.annotations.serving.knative.dev/creator"},
		{"lastModifier changed without a spec change", request("Service", admissionv1.Update, "mallory",
			bytes.Replace(created, []byte(`"serving.knative.dev/lastModifier":"alice"`), []byte(`"serving.knative.dev/lastModifier":"mallory"`), 1), created),
			"validation failed: invalid value: mallory: metadata.annotations.serving.knative.dev/lastModifier"},
		{"delete is let through", &admissionv1.AdmissionRequest{UID: "u", Operation: admissionv1.Delete,
			Kind: metav1.GroupVersionKind{Group: "serving.knative.dev", Version: "v1", Kind: "Service"}}, ""},
		{"wrong kind", request("Deployment", admissionv1.Create, "alice", created, nil),
			"decoding request failed: unhandled kind: serving.knative.dev/v1, Kind=Deployment"},
		{"object of another kind than the request's", request("Route", admissionv1.Create, "alice", created, nil),
			`decoding request failed: cannot decode incoming new object: kind "Service", the request says "Route"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp := h.Validate(c.req)
			switch {
			case c.wantMsg == "" && !resp.Allowed:
				t.Errorf("refused: %v", resp.Result)
			case c.wantMsg != "" && resp.Allowed:
				t.Errorf("allowed, want %q", c.wantMsg)
			case c.wantMsg != "" && resp.Result.Message != c.wantMsg:
				t.Errorf("message %q, want %q", resp.Result.Message, c.wantMsg)
			}
		})
	}
	if resp := h.Default(request("Deployment", admissionv1.Create, "alice", created, nil)); resp.Allowed ||
		resp.Result.Message != "mutation failed: unhandled kind: serving.knative.dev/v1, Kind=Deployment" {
		t.Errorf("defaulting a Deployment: %+v", resp)
	}
}

func TestServeHTTP(t *testing.T) {
	h := &webhook.Handler{MaxBodyBytes: 64 << 10}
	srv := httptest.NewServer(h)
	defer srv.Close()
	seed := seedJSON(t)
	marshal := func(obj []byte) string {
		review, err := json.Marshal(admissionv1.AdmissionReview{
			TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
			Request:  request("Service", admissionv1.Create, "alice", obj, nil),
		})
		if err != nil {
			t.Fatal(err)
		}
		return string(review)
	}
	review := marshal(seed)
	// The validating webhook sees the object as the defaulting one left it.
	defaulted := marshal(applyPatch(t, seed, (&webhook.Handler{}).Default(request("Service", admissionv1.Create, "alice", seed, nil))))
	for _, c := range []struct {
		name, path, method, body string
		wantCode                 int
		wantBody                 string
	}{
		{"defaulting", webhook.DefaultingPath, "POST", review, 200, `"patchType":"JSONPatch"`},
		{"validation", webhook.ValidationPath, "POST", defaulted, 200, `"allowed":true`},
		{"validation refused", webhook.ValidationPath, "POST", review, 200, `"message":"validation failed: Traffic targets sum to 0, want 100: spec.traffic"`},
		{"malformed JSON", webhook.DefaultingPath, "POST", `{"apiVersion":`, 400, "webhook: malformed AdmissionReview"},
		{"v1beta1", webhook.ValidationPath, "POST", `{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"u"}}`, 400,
			`webhook: apiVersion/kind: want admission.k8s.io/v1, AdmissionReview; got "admission.k8s.io/v1beta1", "AdmissionReview"`},
		{"no request", webhook.ValidationPath, "POST", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, 400, "webhook: request: missing"},
		{"no uid", webhook.ValidationPath, "POST", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}}`, 400, "webhook: request.uid: missing"},
		{"too large", webhook.ValidationPath, "POST", strings.Repeat(" ", 65<<10), 413, "webhook: request body over 65536 bytes"},
		{"GET", webhook.ValidationPath, "GET", "", 405, "POST an AdmissionReview"},
		{"unknown path", "/other", "POST", review, 404, "404 page not found"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var b bytes.Buffer
			_, _ = b.ReadFrom(resp.Body)
			if resp.StatusCode != c.wantCode || !strings.Contains(b.String(), c.wantBody) {
				t.Errorf("%d %q, want %d containing %q", resp.StatusCode, b.String(), c.wantCode, c.wantBody)
			}
			if c.wantCode == 200 && !strings.Contains(b.String(), `"uid":"uid-1"`) {
				t.Errorf("response without the request's uid: %s", b.String())
			}
		})
	}
}
