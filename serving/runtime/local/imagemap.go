package local

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// SeedImage is the container image of the seed's helloworld-go sample. The default
// image map runs it as the examples/helloworld program, built on first use.
const SeedImage = "registry.cn-hangzhou.aliyuncs.com/knative-sample/helloworld-go:160e4dc8"

// BuiltinPrefix marks an image-map command that the runtime builds itself from a Go
// package of this module instead of looking it up on $PATH: "builtin:helloworld" is
// the examples/helloworld program: Options.Builtins' command for it, else built once
// into Options.CacheDir.
const BuiltinPrefix = "builtin:"

// builtinNames lists the builtins, for error messages.
const builtinNames = "helloworld"

// builtinPackage returns the Go package that implements a builtin.
func builtinPackage(name string) (string, bool) {
	switch name {
	case "helloworld":
		return "github.com/servekit/servekit/examples/helloworld", true
	}
	return "", false
}

// ImageMap says which local command runs a container image: image → [command, args...].
// An image has no meaning on one machine, so the local runtime needs one for every
// image a manifest names (unless the container sets its own command).
type ImageMap map[string][]string

// DefaultImageMap returns the map used when none is given: the seed's image (with
// and without its tag) runs the builtin helloworld sample.
func DefaultImageMap() ImageMap {
	hello := []string{BuiltinPrefix + "helloworld"}
	untagged, _, _ := strings.Cut(SeedImage, ":160e4dc8")
	return ImageMap{SeedImage: hello, untagged: slices.Clone(hello)}
}

// ParseImageMap reads an image map in YAML, one entry per image:
//
//	registry.example.com/team/app:v1: [python3, -m, http.server]
//	ghcr.io/me/hello: ["./bin/hello", "--verbose"]
//
// A command that contains a path separator but is not absolute is taken relative to
// dir (the directory of the map file). Each error names the image.
func ParseImageMap(data []byte, dir string) (ImageMap, error) {
	var raw map[string][]string
	if err := yaml.UnmarshalStrict(data, &raw); err != nil {
		return nil, fmt.Errorf("image map: %w (want `image: [command, args...]` entries)", err)
	}
	m := make(ImageMap, len(raw))
	for _, image := range slices.Sorted(maps.Keys(raw)) {
		argv := raw[image]
		if strings.TrimSpace(image) == "" {
			return nil, fmt.Errorf("image map: empty image name")
		}
		if len(argv) == 0 || strings.TrimSpace(argv[0]) == "" {
			return nil, fmt.Errorf("image map: image %q: want a non-empty [command, args...] list, got %q", image, argv)
		}
		if name, ok := strings.CutPrefix(argv[0], BuiltinPrefix); ok {
			if _, known := builtinPackage(name); !known {
				return nil, fmt.Errorf("image map: image %q: unknown builtin %q (known: %s)", image, argv[0], builtinNames)
			}
		} else if strings.ContainsRune(argv[0], '/') && !filepath.IsAbs(argv[0]) && dir != "" {
			argv = append([]string{filepath.Join(dir, argv[0])}, argv[1:]...)
		}
		m[image] = slices.Clone(argv)
	}
	return m, nil
}

// Merge returns a copy of m with the entries of over added (over wins).
func (m ImageMap) Merge(over ImageMap) ImageMap {
	out := make(ImageMap, len(m)+len(over))
	for k, v := range m {
		out[k] = slices.Clone(v)
	}
	for k, v := range over {
		out[k] = slices.Clone(v)
	}
	return out
}
