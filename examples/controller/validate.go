package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	servingv1 "github.com/servekit/servekit/serving/v1"
)

// maxManifestBytes bounds how much of one file validate reads: 3 MiB, the
// Kubernetes API server's request limit.
const maxManifestBytes = 3 << 20

// runValidate implements "controller validate [-o yaml] FILE...": it
// decodes each file strictly, applies Knative's defaults (stock
// config-defaults), validates, and prints each problem as
// "FILE: <field path>: <message>" on stdout. With -o yaml it also prints
// the defaulted objects of valid files as YAML documents. It returns 0 if
// every file is valid, 1 if any is not, 2 on a usage error.
func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	output := fs.String("o", "", `output format: "yaml" prints the defaulted objects`)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: controller validate [-o yaml] FILE...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *output != "" && *output != "yaml" {
		fmt.Fprintf(stderr, "controller validate: -o %q: only \"yaml\" is supported\n", *output)
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	d := servingv1.StockDefaults()
	status := 0
	first := true
	for _, name := range fs.Args() {
		objs, problems := validateFile(name, d)
		for _, p := range problems {
			fmt.Fprintln(stdout, p)
		}
		if len(problems) > 0 {
			status = 1
			continue
		}
		if *output == "yaml" {
			for _, o := range objs {
				b, err := yaml.Marshal(o)
				if err != nil {
					fmt.Fprintf(stdout, "%s: %v\n", name, err)
					status = 1
					continue
				}
				if !first {
					fmt.Fprintln(stdout, "---")
				}
				first = false
				stdout.Write(b)
			}
		}
	}
	return status
}

// validateFile returns the defaulted objects of one file and its problems,
// each formatted "FILE: <path>: <message>". In a file with several
// documents FILE is written "FILE#N", N the document index (from 1).
func validateFile(name string, d servingv1.Defaults) ([]servingv1.Object, []string) {
	data, err := readManifest(name)
	if err != nil {
		return nil, []string{fmt.Sprintf("%s: %v", name, err)}
	}
	docs, derr := servingv1.Decode(bytes.NewReader(data), servingv1.DecodeOptions{Strict: true})
	multi := countDocuments(docs, derr) > 1
	label := func(index int) string {
		if multi {
			return fmt.Sprintf("%s#%d", name, index)
		}
		return name
	}
	var problems []string
	for _, e := range unjoin(derr) {
		var de *servingv1.DocumentError
		switch {
		case errors.As(e, &de) && len(de.Fields) > 0:
			for _, f := range de.Fields {
				problems = append(problems, fmt.Sprintf("%s: %s: %s", label(de.Index), f.Field, servingv1.Message(f)))
			}
		case errors.As(e, &de):
			problems = append(problems, fmt.Sprintf("%s: document %d: %v", label(de.Index), de.Index, de.Err))
		default:
			problems = append(problems, fmt.Sprintf("%s: %v", name, e))
		}
	}
	if len(docs) == 0 && derr == nil {
		problems = append(problems, fmt.Sprintf("%s: no serving.knative.dev/v1 objects found", name))
	}
	objs := make([]servingv1.Object, 0, len(docs))
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
	return fmt.Sprintf("%s: %s: %s", file, f.Field, servingv1.Message(f))
}

func readManifest(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxManifestBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxManifestBytes {
		return nil, fmt.Errorf("file is larger than %d bytes", maxManifestBytes)
	}
	return data, nil
}

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

// countDocuments returns the number of non-empty documents seen.
func countDocuments(docs []servingv1.Document, derr error) int {
	return len(docs) + len(unjoin(derr))
}
