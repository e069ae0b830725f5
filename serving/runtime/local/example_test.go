package local_test

import (
	"fmt"

	"github.com/servekit/servekit/serving/runtime/local"
)

// An image map says which local command runs an image. Relative commands are
// resolved against the map file's directory; entries merge over the default map,
// which runs the seed's image as the builtin helloworld sample.
func ExampleParseImageMap() {
	m, err := local.ParseImageMap([]byte(`
registry.example.com/team/app:v1: [python3, -m, http.server]
ghcr.io/me/hello: [./bin/hello, --verbose]
`), "/srv/apps")
	if err != nil {
		fmt.Println(err)
		return
	}
	m = local.DefaultImageMap().Merge(m)
	fmt.Println(m["registry.example.com/team/app:v1"])
	fmt.Println(m["ghcr.io/me/hello"])
	fmt.Println(m[local.SeedImage])

	_, err = local.ParseImageMap([]byte("ghcr.io/me/x: []\n"), "")
	fmt.Println(err)
	// Output:
	// [python3 -m http.server]
	// [/srv/apps/bin/hello --verbose]
	// [builtin:helloworld]
	// image map: image "ghcr.io/me/x": want a non-empty [command, args...] list, got []
}
