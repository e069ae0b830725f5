package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/servekit/servekit/serving"
	v1 "github.com/servekit/servekit/serving/v1"
	"github.com/servekit/servekit/serving/v1beta1"
)

// Paths of the two webhooks, as Knative Serving's webhook serves them.
const (
	DefaultingPath = "/defaulting"
	ValidationPath = "/resource-validation"
)

// DefaultMaxBodyBytes bounds an AdmissionReview request body: the API server
// refuses objects over about 1.5 MiB, and an update's review carries two of them.
const DefaultMaxBodyBytes = 4 << 20

// Handler serves the defaulting (DefaultingPath) and validating (ValidationPath)
// admission webhooks of serving.knative.dev Services, Configurations, Routes and
// Revisions: AdmissionReview v1 in, AdmissionReview v1 out. The zero value uses
// Knative's stock config-defaults and discards its logs.
type Handler struct {
	// Defaults returns the config-defaults in force (it is called once per
	// review, so a reloaded configuration applies to the next one); nil means
	// v1.StockDefaults().
	Defaults func() v1.Defaults
	// MaxBodyBytes bounds a request body; a longer one is answered 413. Zero
	// means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Logger receives one line per refused or failed review; nil discards.
	Logger *slog.Logger
}

// ServeHTTP answers a POSTed AdmissionReview on DefaultingPath or ValidationPath.
// A body that is not an AdmissionReview v1 with a request is answered 400 with
// the reason; the API server then applies the webhook's failure policy.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var admit func(*admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse
	switch r.URL.Path {
	case DefaultingPath:
		admit = h.Default
	case ValidationPath:
		admit = h.Validate
	default:
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "webhook: method "+r.Method+" not allowed: POST an AdmissionReview", http.StatusMethodNotAllowed)
		return
	}
	limit := h.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, fmt.Sprintf("webhook: request body over %d bytes", limit), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "webhook: reading the request body: "+err.Error(), http.StatusBadRequest)
		return
	}
	review, err := decodeReview(body)
	if err != nil {
		h.logger().Warn("webhook: malformed AdmissionReview", "path", r.URL.Path, "error", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	resp := admit(review.Request)
	resp.UID = review.Request.UID
	out, err := json.Marshal(&admissionv1.AdmissionReview{TypeMeta: review.TypeMeta, Response: resp})
	if err != nil {
		http.Error(w, "webhook: encoding the response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

// decodeReview parses an AdmissionReview v1 with a request, or says what is wrong
// with it, naming the field.
func decodeReview(body []byte) (*admissionv1.AdmissionReview, error) {
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil {
		return nil, fmt.Errorf("webhook: malformed AdmissionReview: %w", err)
	}
	want := admissionv1.SchemeGroupVersion.WithKind("AdmissionReview")
	if got := review.GroupVersionKind(); got != want {
		return nil, fmt.Errorf("webhook: apiVersion/kind: want %s, %s; got %q, %q (only admissionReviewVersions v1 is served)",
			want.GroupVersion(), want.Kind, review.APIVersion, review.Kind)
	}
	if review.Request == nil {
		return nil, errors.New("webhook: request: missing")
	}
	if review.Request.UID == "" {
		return nil, errors.New("webhook: request.uid: missing")
	}
	return &review, nil
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

func (h *Handler) defaults() v1.Defaults {
	if h.Defaults == nil {
		return v1.StockDefaults()
	}
	return h.Defaults()
}

// deny is Knative's webhook.MakeErrorStatus: a refusal whose message the API
// server shows as `admission webhook "<name>" denied the request: <message>`.
func deny(format string, args ...any) *admissionv1.AdmissionResponse {
	return &admissionv1.AdmissionResponse{
		Allowed: false,
		Result:  &metav1.Status{Status: metav1.StatusFailure, Message: fmt.Sprintf(format, args...)},
	}
}

// objects decodes a review's object and old object (nil when absent) as the
// request's kind.
func objects(req *admissionv1.AdmissionRequest) (cur, old v1.Object, err error) {
	isDM := req.Kind.Version == v1beta1.SchemeGroupVersion.Version && req.Kind.Kind == v1beta1.KindDomainMapping
	if req.Kind.Group != serving.GroupName || (req.Kind.Version != "v1" && !isDM) {
		return nil, nil, fmt.Errorf("unhandled kind: %s", req.Kind.String())
	}
	decode := func(which string, raw runtime.RawExtension) (v1.Object, error) {
		if len(raw.Raw) == 0 {
			return nil, nil
		}
		obj, derr := v1.DecodeDocument(raw.Raw, v1.DecodeOptions{Extra: v1beta1.NewObject})
		if derr != nil {
			return nil, fmt.Errorf("cannot decode incoming %s object: %w", which, derr)
		}
		if obj == nil {
			return nil, nil
		}
		if k := obj.GetObjectKind().GroupVersionKind().Kind; k != req.Kind.Kind {
			return nil, fmt.Errorf("cannot decode incoming %s object: kind %q, the request says %q", which, k, req.Kind.Kind)
		}
		return obj, nil
	}
	switch req.Kind.Kind {
	case v1.KindService, v1.KindConfiguration, v1.KindRoute, v1.KindRevision, v1beta1.KindDomainMapping:
	default:
		return nil, nil, fmt.Errorf("unhandled kind: %s", req.Kind.String())
	}
	if cur, err = decode("new", req.Object); err != nil {
		return nil, nil, err
	}
	if old, err = decode("old", req.OldObject); err != nil {
		return nil, nil, err
	}
	if cur == nil {
		return nil, nil, errors.New("the new object may not be nil")
	}
	return cur, old, nil
}

// handled reports whether a review is one the webhooks act on: a create or an
// update of the object itself (not of a subresource such as status, which the
// webhook configurations do not register anyway).
func handled(req *admissionv1.AdmissionRequest) bool {
	return (req.Operation == admissionv1.Create || req.Operation == admissionv1.Update) && req.SubResource == ""
}

// Default answers a review for the defaulting webhook. It fills in Knative's
// defaults (v1's SetDefaults on create, SetDefaultsOnUpdate on update; a Revision
// is never defaulted on update), sets serving.knative.dev/creator and
// lastModifier from the request's user as Knative does (on create both; on update
// lastModifier, only when the defaulted spec changed; never on a Configuration or
// Route with owner references, which a Service's reconciler writes), and returns
// the changes as a JSON patch. Other operations, and subresources, are allowed
// unchanged. A request it cannot decode is refused with "mutation failed: ...".
func (h *Handler) Default(req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	if !handled(req) {
		return &admissionv1.AdmissionResponse{Allowed: true}
	}
	cur, old, err := objects(req)
	if err != nil {
		h.logger().Warn("webhook: defaulting refused", "kind", req.Kind.Kind, "name", req.Name, "error", err)
		return deny("mutation failed: %v", err)
	}
	// The patch applies to the request's object as sent: diff from its JSON, so
	// that what the typed round trip adds (as Knative's roundTripPatch) is in it.
	var before map[string]any
	if err := json.Unmarshal(req.Object.Raw, &before); err != nil {
		return deny("mutation failed: cannot decode incoming new object: %v", err)
	}
	d := h.defaults()
	setDefaults(cur, old, d)
	setUserInfo(cur, old, d, req.UserInfo.Username)
	after, err := toMap(cur)
	if err != nil {
		return deny("mutation failed: %v", err)
	}
	var patch []patchOp
	patch = diff(patch, "/spec", before["spec"], pruneNulls(after["spec"]))
	patch = diff(patch, "/metadata/annotations", annotationsOf(before), annotationsOf(after))
	resp := &admissionv1.AdmissionResponse{Allowed: true}
	if len(patch) > 0 {
		if resp.Patch, err = json.Marshal(patch); err != nil {
			return deny("mutation failed: %v", err)
		}
		pt := admissionv1.PatchTypeJSONPatch
		resp.PatchType = &pt
	}
	return resp
}

// setDefaults defaults cur, as an update of old when old is not nil.
func setDefaults(cur, old v1.Object, d v1.Defaults) {
	if old == nil {
		cur.SetDefaults(d)
		return
	}
	switch c := cur.(type) {
	case *v1.Service:
		if o, ok := old.(*v1.Service); ok {
			c.SetDefaultsOnUpdate(o, d)
			return
		}
	case *v1.Configuration:
		if o, ok := old.(*v1.Configuration); ok {
			c.SetDefaultsOnUpdate(o, d)
			return
		}
	case *v1.Route:
		c.SetDefaults(d)
		return
	case *v1.Revision:
		return // immutable: never defaulted on update
	}
	cur.SetDefaults(d)
}

// setUserInfo writes the creator and lastModifier annotations of cur.
func setUserInfo(cur, old v1.Object, d v1.Defaults, user string) {
	switch cur.(type) {
	case *v1.Service, *v1beta1.DomainMapping:
	case *v1.Configuration, *v1.Route:
		if len(cur.GetOwnerReferences()) > 0 {
			return
		}
	default:
		return // Revisions get their creator from their Configuration
	}
	ann := cur.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	if old == nil {
		ann[serving.CreatorAnnotation] = user
		ann[serving.UpdaterAnnotation] = user
		cur.SetAnnotations(ann)
		return
	}
	// The old object defaulted too, so that defaults alone are no change
	// (Knative compares the defaulted specs).
	o := old.DeepCopyObject().(v1.Object)
	o.SetDefaults(d)
	if apiequality.Semantic.DeepEqual(specOf(o), specOf(cur)) {
		return
	}
	ann[serving.UpdaterAnnotation] = user
	cur.SetAnnotations(ann)
}

func specOf(obj v1.Object) any {
	switch o := obj.(type) {
	case *v1.Service:
		return o.Spec
	case *v1.Configuration:
		return o.Spec
	case *v1.Route:
		return o.Spec
	case *v1.Revision:
		return o.Spec
	case *v1beta1.DomainMapping:
		return o.Spec
	}
	return nil
}

// Validate answers a review for the validating webhook: v1's Validate on create,
// ValidateUpdate on update (creator immutable, lastModifier changed only with the
// spec, bring-your-own names, an immutable Revision spec). A refusal's message is
// Knative's: "validation failed: " and each problem as "<message>: <field paths>".
func (h *Handler) Validate(req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	if !handled(req) {
		return &admissionv1.AdmissionResponse{Allowed: true}
	}
	cur, old, err := objects(req)
	if err != nil {
		h.logger().Warn("webhook: validation refused", "kind", req.Kind.Kind, "name", req.Name, "error", err)
		return deny("decoding request failed: %v", err)
	}
	d := h.defaults()
	errs := cur.Validate(d)
	if old != nil {
		if dm, ok := cur.(*v1beta1.DomainMapping); ok {
			errs = dm.ValidateUpdate(nil, d)
		} else {
			errs = v1.ValidateUpdate(old, cur, d)
		}
	}
	if len(errs) > 0 {
		msg := v1.KnativeString(errs)
		h.logger().Info("webhook: refused", "kind", req.Kind.Kind, "namespace", req.Namespace, "name", req.Name, "reason", msg)
		return deny("validation failed: %s", msg)
	}
	return &admissionv1.AdmissionResponse{Allowed: true}
}

// toMap is obj as JSON-decoded values.
func toMap(obj v1.Object) (map[string]any, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// annotationsOf is metadata.annotations of a JSON-decoded object (nil if absent).
func annotationsOf(m map[string]any) any {
	md, _ := m["metadata"].(map[string]any)
	if md == nil {
		return nil
	}
	return md["annotations"]
}
