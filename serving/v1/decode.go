package v1

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Object is one of *Service, *Configuration, *Revision or *Route (or an
// object of DecodeOptions.Extra, such as serving/v1beta1's DomainMapping):
// what Decode returns and what the default/validate entry points accept.
//
// +kubebuilder:object:generate=false
type Object interface {
	runtime.Object
	metav1.Object
	// SetDefaults fills in Knative's create-time defaults.
	SetDefaults(Defaults)
	// Validate checks the object as Knative does on create.
	Validate(Defaults) field.ErrorList
}

// DecodeOptions control Decode. The zero value decodes leniently: unknown
// fields are dropped, as kubectl apply without server-side validation would.
//
// +kubebuilder:object:generate=false
type DecodeOptions struct {
	// Strict reports unknown and duplicate fields, each with its path, as
	// errors instead of dropping them.
	Strict bool
	// Extra, when not nil, decodes kinds of other API versions: it returns a
	// new empty object for the apiVersion and kind of a document, or nil when
	// they are not its (the document is then decoded as a
	// serving.knative.dev/v1 kind, or rejected). serving/v1beta1's NewObject
	// reads DomainMappings.
	Extra func(metav1.TypeMeta) Object
}

// Document is one decoded YAML document.
//
// +kubebuilder:object:generate=false
type Document struct {
	// Index is the document's position in the stream, starting at 1 and
	// counting empty documents.
	Index int
	// Object is the typed object; never nil.
	Object Object
}

// DocumentError is a document that could not be decoded.
//
// +kubebuilder:object:generate=false
type DocumentError struct {
	// Index is the document's position in the stream, starting at 1.
	Index int
	// Fields are the errors that have a field path (an unknown kind, an
	// unknown or duplicate field in strict mode, a value of the wrong
	// type). Empty when Err has no field to name (malformed YAML).
	Fields field.ErrorList
	// Err is the underlying error (for malformed YAML, its line numbers
	// count from the start of this document).
	Err error
}

// Error reports the document index and each problem with its path.
func (e *DocumentError) Error() string {
	if len(e.Fields) == 0 {
		return fmt.Sprintf("document %d: %v", e.Index, e.Err)
	}
	parts := make([]string, 0, len(e.Fields))
	for _, f := range e.Fields {
		parts = append(parts, f.Field+": "+Message(f))
	}
	return fmt.Sprintf("document %d: %s", e.Index, strings.Join(parts, "; "))
}

// Unwrap returns Err.
func (e *DocumentError) Unwrap() error { return e.Err }

// ErrUnsupportedKind is wrapped by the DocumentError of a document whose
// apiVersion/kind is not a serving.knative.dev/v1 kind.
var ErrUnsupportedKind = errors.New("unsupported apiVersion/kind")

// Decode reads a stream of YAML (or JSON) documents separated by "---"
// and returns the serving.knative.dev/v1 objects in it, in order. Empty
// documents (only whitespace or comments) are skipped.
//
// Decoding continues after a bad document: the result holds every good
// document, and the error joins one *DocumentError per bad document
// (unknown apiVersion/kind, malformed YAML, and in strict mode unknown or
// duplicate fields). An error reading r stops decoding.
func Decode(r io.Reader, opts DecodeOptions) ([]Document, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(r))
	var docs []Document
	var errs []error
	for index := 1; ; index++ {
		raw, err := reader.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("document %d: reading: %w", index, err))
			break
		}
		obj, derr := DecodeDocument(raw, opts)
		if derr != nil {
			derr.Index = index
			errs = append(errs, derr)
			continue
		}
		if obj != nil {
			docs = append(docs, Document{Index: index, Object: obj})
		}
	}
	return docs, errors.Join(errs...)
}

// DecodeDocument decodes one YAML or JSON document. It returns (nil, nil)
// for an empty document. The returned error's Index is 0; Decode fills it.
func DecodeDocument(raw []byte, opts DecodeOptions) (Object, *DocumentError) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	toJSON := yaml.YAMLToJSON
	if opts.Strict {
		toJSON = yaml.YAMLToJSONStrict
	}
	data, err := toJSON(raw)
	if err != nil {
		return nil, &DocumentError{Err: fmt.Errorf("malformed YAML: %w", err)}
	}
	data = bytes.TrimSpace(data)
	if bytes.Equal(data, []byte("null")) {
		return nil, nil
	}
	if len(data) == 0 || data[0] != '{' {
		return nil, &DocumentError{Err: fmt.Errorf("malformed document: want a YAML mapping with apiVersion and kind, got %s", shorten(string(data)))}
	}
	var tm metav1.TypeMeta
	if err := kjson.UnmarshalCaseSensitivePreserveInts(data, &tm); err != nil {
		return nil, &DocumentError{Fields: field.ErrorList{typeError(err)}, Err: err}
	}
	var obj Object
	if opts.Extra != nil {
		obj = opts.Extra(tm)
	}
	var ferr *field.Error
	if obj == nil {
		obj, ferr = newObject(tm)
	}
	if ferr != nil {
		return nil, &DocumentError{Fields: field.ErrorList{ferr}, Err: ErrUnsupportedKind}
	}
	var strictErrs []error
	if opts.Strict {
		strictErrs, err = kjson.UnmarshalStrict(data, obj)
	} else {
		err = kjson.UnmarshalCaseSensitivePreserveInts(data, obj)
	}
	if err != nil {
		return nil, &DocumentError{Fields: field.ErrorList{typeError(err)}, Err: err}
	}
	if len(strictErrs) > 0 {
		derr := &DocumentError{Err: errors.Join(strictErrs...)}
		for _, se := range strictErrs {
			msg, path := se.Error(), ""
			var fe kjson.FieldError
			if errors.As(se, &fe) {
				path = fe.FieldPath()
				msg, _, _ = strings.Cut(msg, " \"")
			}
			derr.Fields = append(derr.Fields, field.Invalid(field.NewPath(path), "", msg))
		}
		return nil, derr
	}
	return obj, nil
}

// typeError turns a JSON type mismatch into a field error at the field's
// path (without list indexes, which encoding/json does not track).
func typeError(err error) *field.Error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return field.Invalid(field.NewPath(jsonPath(te.Field)), te.Value,
			fmt.Sprintf("invalid value: cannot use %s as %s", te.Value, te.Type))
	}
	return field.Invalid(field.NewPath("<document>"), "", shorten(err.Error()))
}

// isEmbeddedName reports the Go names of inlined structs that encoding/json puts
// in a type error's field path; they are not part of the JSON path.
func isEmbeddedName(s string) bool {
	switch s {
	case "TypeMeta", "ObjectMeta", "ListMeta", "PodSpec", "ConfigurationSpec", "RouteSpec",
		"Status", "ConfigurationStatusFields", "RouteStatusFields", "ProbeHandler":
		return true
	}
	return false
}

// jsonPath drops the inlined struct names from an encoding/json field path.
func jsonPath(p string) string {
	parts := strings.Split(p, ".")
	out := parts[:0]
	for _, s := range parts {
		if !isEmbeddedName(s) {
			out = append(out, s)
		}
	}
	return strings.Join(out, ".")
}

func newObject(tm metav1.TypeMeta) (Object, *field.Error) {
	gv := SchemeGroupVersion.String()
	if tm.APIVersion == "" {
		return nil, field.Required(field.NewPath("apiVersion"), fmt.Sprintf("missing field(s); want %s", gv))
	}
	if tm.APIVersion != gv {
		return nil, field.Invalid(field.NewPath("apiVersion"), shorten(tm.APIVersion),
			fmt.Sprintf("unsupported apiVersion %q (kind %q): want %s", shorten(tm.APIVersion), shorten(tm.Kind), gv))
	}
	var obj Object
	switch tm.Kind {
	case KindService:
		obj = &Service{}
	case KindConfiguration:
		obj = &Configuration{}
	case KindRevision:
		obj = &Revision{}
	case KindRoute:
		obj = &Route{}
	case "":
		return nil, field.Required(field.NewPath("kind"), "missing field(s); want Service, Configuration, Revision or Route")
	default:
		return nil, field.Invalid(field.NewPath("kind"), shorten(tm.Kind),
			fmt.Sprintf("unsupported kind %q (apiVersion %q): want Service, Configuration, Revision or Route", shorten(tm.Kind), gv))
	}
	return obj, nil
}
