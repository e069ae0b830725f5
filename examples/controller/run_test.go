package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown flag", []string{"--bogus"}, 2, "flag provided but not defined: -bogus"},
		{"extra argument", []string{"serve"}, 2, `unexpected argument "serve"`},
		{"no manifests dir", []string{"--manifests", filepath.Join(t.TempDir(), "nope")}, 1, "--manifests"},
		{"bad listen", []string{"--manifests", t.TempDir(), "--listen", "not-an-address", "--admin", "127.0.0.1:0"}, 1, "--listen"},
		{"bad image map", []string{"--manifests", t.TempDir(), "--image-map", writeTemp(t, "x: []\n")}, 1, `image "x"`},
		{"get with nothing running", []string{"get", "--admin", "127.0.0.1:1"}, 1, "is the controller running"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), tc.args, &out, &errOut)
			if code != tc.code || !strings.Contains(errOut.String(), tc.want) {
				t.Errorf("run(%q) = %d, stderr %q; want %d and %q", tc.args, code, errOut.String(), tc.code, tc.want)
			}
		})
	}
}

func writeTemp(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// run with a cancelled context is the binary after SIGINT: it starts, then shuts
// down cleanly and exits 0.
func TestRunShutsDownOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errOut bytes.Buffer
	code := run(ctx, []string{"--manifests", t.TempDir(), "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"}, &out, &errOut)
	if code != 0 || !strings.Contains(errOut.String(), "servekit: stopped") {
		t.Errorf("run = %d, stderr:\n%s\nwant 0 and a clean stop", code, errOut.String())
	}
}
