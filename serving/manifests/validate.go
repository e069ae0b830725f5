package manifests

import (
	"bytes"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/servekit/servekit/serving/internal/safefile"
	v1 "github.com/servekit/servekit/serving/v1"
	"github.com/servekit/servekit/serving/v1beta1"
)

// MaxFileBytes bounds one manifest file: 3 MiB, the Kubernetes API server's request
// limit.
const MaxFileBytes = 3 << 20

// ValidateFile decodes the file name strictly (unknown fields are errors), applies
// the defaults d (e.g. [v1.StockDefaults]) and validates every object, as Knative's
// webhooks would. It returns the defaulted objects and the problems, each formatted
// "FILE: <field path>: <message>"; in a file with several documents FILE is written
// "FILE#N", N the document's index from 1. A file is valid if it has no problems; a
// file without any serving.knative.dev/v1 object is a problem too.
func ValidateFile(name string, d v1.Defaults) ([]v1.Object, []string) {
	data, err := readFile(name)
	if err != nil {
		return nil, []string{fmt.Sprintf("%s: %v", name, err)}
	}
	docs, derr := v1.Decode(bytes.NewReader(data), v1.DecodeOptions{Strict: true, Extra: v1beta1.NewObject})
	multi := len(docs)+len(unjoin(derr)) > 1
	label := func(index int) string {
		if multi {
			return fmt.Sprintf("%s#%d", name, index)
		}
		return name
	}
	var problems []string
	for _, e := range unjoin(derr) {
		var de *v1.DocumentError
		switch {
		case errors.As(e, &de) && len(de.Fields) > 0:
			for _, f := range de.Fields {
				problems = append(problems, fmt.Sprintf("%s: %s: %s", label(de.Index), f.Field, v1.Message(f)))
			}
		case errors.As(e, &de):
			problems = append(problems, fmt.Sprintf("%s: document %d: %v", label(de.Index), de.Index, de.Err))
		default:
			problems = append(problems, fmt.Sprintf("%s: %v", name, e))
		}
	}
	if len(docs) == 0 && derr == nil {
		problems = append(problems, fmt.Sprintf("%s: %v", name, ErrNoObjects))
	}
	objs := make([]v1.Object, 0, len(docs))
	for _, doc := range docs {
		doc.Object.SetDefaults(d)
		for _, f := range doc.Object.Validate(d) {
			problems = append(problems, formatFieldError(label(doc.Index), f))
		}
		objs = append(objs, doc.Object)
	}
	return objs, problems
}

func formatFieldError(file string, f *field.Error) string {
	return fmt.Sprintf("%s: %s: %s", file, f.Field, v1.Message(f))
}

// errTooLarge is readFile's error for a file of more than MaxFileBytes.
var errTooLarge = safefile.ErrTooLarge

// ErrNotRegular is the error (wrapped, with the file's type) for a manifest that
// is not a regular file, nor a symbolic link to one: a FIFO, a socket, a device or
// a directory. Such a file is never read: opening a FIFO waits for a writer, and
// reading a device may never end or have side effects.
var ErrNotRegular = safefile.ErrNotRegular

// ErrNoObjects is the error of a manifest without any object: empty, or only
// whitespace, comments and empty documents. A [Watcher] rejects such a file, so
// that a file truncated by an editor's non-atomic save keeps its objects; only
// removing the file deletes them.
var ErrNoObjects = errors.New("no serving.knative.dev/v1 objects found")

// readFile reads at most MaxFileBytes of name, which must be a regular file (or a
// symbolic link to one): anything else is ErrNotRegular, a larger file is
// errTooLarge. It never blocks on a FIFO. It is the one reader of manifest files,
// for ValidateFile and the Watcher.
func readFile(name string) ([]byte, error) { return safefile.Read(name, MaxFileBytes) }

// unjoin splits an errors.Join result into its parts.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
