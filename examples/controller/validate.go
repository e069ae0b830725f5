package main

import (
	"flag"
	"fmt"
	"io"

	"sigs.k8s.io/yaml"

	"github.com/servekit/servekit/serving/manifests"
	servingv1 "github.com/servekit/servekit/serving/v1"
)

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
		objs, problems := manifests.ValidateFile(name, d)
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
