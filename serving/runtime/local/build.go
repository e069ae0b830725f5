package local

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// builder builds the builtin programs of the image map once per process, into a
// cache directory shared by every process of the user (so tests and repeated runs
// do not rebuild: `go build` leaves an up-to-date target alone).
type builder struct {
	dir      string              // cache directory for the binaries
	commands map[string][]string // Options.Builtins: run these instead of building

	mu    sync.Mutex
	built map[string]string // builtin name → binary path, once built in this process
}

// command returns the command that runs a builtin: Options.Builtins' if it has one,
// else the binary built by path.
func (b *builder) command(ctx context.Context, name string) ([]string, error) {
	if c := b.commands[name]; len(c) > 0 {
		return append([]string(nil), c...), nil
	}
	bin, err := b.path(ctx, name)
	if err != nil {
		return nil, err
	}
	return []string{bin}, nil
}

// path returns the binary for a builtin, building it if needed.
func (b *builder) path(ctx context.Context, name string) (string, error) {
	pkg, ok := builtinPackage(name)
	if !ok {
		return "", fmt.Errorf("local: unknown builtin %q", name)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if p, ok := b.built[name]; ok {
		return p, nil
	}
	if b.dir == "" {
		return "", fmt.Errorf("local: builtin %q needs a cache directory (Options.CacheDir)", name)
	}
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return "", fmt.Errorf("local: cache directory: %w", err)
	}
	out := filepath.Join(b.dir, name)
	// Several processes (parallel test binaries, a running controller) may build at
	// once; a lock file keeps them from writing the same target together.
	unlock, err := lockFile(filepath.Join(b.dir, name+".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("local: building builtin %q needs the go command on $PATH: %w", name, err)
	}
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", out, pkg)
	if dir, ok := moduleDir(); ok {
		cmd.Dir = dir
	}
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("local: go build %s: %w: %s", pkg, err, strings.TrimSpace(string(msg)))
	}
	if b.built == nil {
		b.built = make(map[string]string)
	}
	b.built[name] = out
	return out, nil
}

// moduleDir finds the directory of this module's go.mod, walking up from the working
// directory, so `go build` resolves the builtin's package wherever the binary runs
// inside the repository.
func moduleDir() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			strings.Contains(string(data), "module github.com/servekit/servekit\n") {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}
