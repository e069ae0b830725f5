package manifests

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/servekit/servekit/serving/v1"
	"github.com/servekit/servekit/serving/v1beta1"
)

// Applier is what a [Watcher] needs of a controller; serving/controller's
// Controller satisfies it. A source is a file's path: it names the set of objects
// that file holds.
type Applier interface {
	// Apply replaces the objects of source with objs, all or nothing. An error
	// means nothing was applied; the Applier reports it itself (log, status).
	Apply(source string, objs []v1.Object) error
	// Reject records that source could not be read or decoded, or holds no
	// object; its objects, if any, stay as they were. A Watcher calls it once per
	// change of the file or of the error, not at every scan, and logs nothing
	// for it: the Applier reports it (serving/controller logs one line, saying
	// whether the file keeps objects it applied before, and lists it in its
	// status).
	Reject(source string, err error)
	// Delete removes every object of source.
	Delete(source string)
}

// DefaultInterval is how often a [Watcher] scans its directory when NewWatcher is
// given no interval.
const DefaultInterval = time.Second

// A Watcher applies the manifests of a directory to an [Applier], polling for
// changes: a new or changed file (by content hash) is applied, a removed file
// deletes its objects, and a file that cannot be read or does not decode is
// rejected and changes nothing. It reads the files named *.yaml, *.yml and *.json,
// not hidden ones (so a file written as ".x.tmp" and renamed is seen whole), not
// subdirectories.
//
// Only removing a file deletes its objects: a file that becomes empty ([ErrNoObjects])
// or fails to decode, as an editor's non-atomic save leaves it for a moment, is
// rejected and keeps the objects it last applied until it is valid again or
// removed; the Applier reports that state (see Applier.Reject). A FIFO, socket or
// device (or a symbolic link to one) is never opened for reading: it is rejected
// ([ErrNotRegular]) and skipped. Each rejection is reported once per change of the
// file's content or of the error, not at every scan.
//
// A Watcher is not safe for concurrent use: call Scan, then Run, from one goroutine.
type Watcher struct {
	dir      string
	applier  Applier
	log      *slog.Logger
	interval time.Duration
	files    map[string]*fileState // by path: the files present at the last scan
}

// fileState is what a Watcher remembers of one file between scans.
type fileState struct {
	sum     [32]byte // content hash of the last version read; valid if readErr == ""
	readErr string   // the error of the last read, reported once; "" if it succeeded
	applied bool     // an Apply succeeded: the Applier holds objects of this file
}

// NewWatcher returns a Watcher of dir that applies to a. A nil logger discards;
// an interval <= 0 means [DefaultInterval].
func NewWatcher(dir string, a Applier, logger *slog.Logger, interval time.Duration) *Watcher {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if interval <= 0 {
		interval = DefaultInterval
	}
	return &Watcher{dir: dir, applier: a, log: logger, interval: interval, files: map[string]*fileState{}}
}

// Adopt tells the Watcher that its Applier already holds the objects of sources (a
// controller restored from its store after a restart), as if an earlier scan had
// applied them. The next Scan then decides for each: a file still present is applied
// again (an Applier changes nothing for the objects it already holds; a file changed
// meanwhile updates them), a source that is no longer a manifest file of the
// directory is deleted. Call it before the first Scan.
func (w *Watcher) Adopt(sources []string) {
	for _, src := range sources {
		if _, ok := w.files[src]; !ok {
			w.files[src] = &fileState{applied: true} // its zero sum matches no content
		}
	}
}

// Run scans the directory every interval until ctx is done; it returns nil then.
// It does not scan at once: call Scan first to apply the files present at start-up.
func (w *Watcher) Run(ctx context.Context) error {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			w.Scan()
		}
	}
}

// Scan looks at the directory once, and deletes, applies and rejects what changed
// since the last scan (the objects of removed files first). A directory that cannot be read is logged and changes
// nothing. Scan does not block on a file: it reads only regular files.
func (w *Watcher) Scan() {
	entries, err := os.ReadDir(w.dir)
	if err != nil {
		w.log.Error("manifests: cannot read the directory", "dir", w.dir, "err", err)
		return
	}
	present := map[string]bool{}
	var paths []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") || strings.HasSuffix(name, ".json")) {
			continue
		}
		path := filepath.Join(w.dir, name)
		present[path] = true
		paths = append(paths, path)
	}
	// Removed files first: objects that moved to another file (a rename) are
	// deleted, then applied from their new file, rather than refused there as
	// still owned by the old one.
	for _, path := range slices.Sorted(maps.Keys(w.files)) {
		if !present[path] {
			delete(w.files, path)
			w.log.Info("manifest removed; deleting its objects", "file", path)
			w.applier.Delete(path)
		}
	}
	for _, path := range paths {
		st, known := w.files[path]
		if !known {
			st = &fileState{}
			w.files[path] = st
		}
		data, err := readLimited(path)
		if err != nil {
			// Report an unreadable file once per error, not at every scan.
			if msg := err.Error(); msg != st.readErr {
				st.readErr = msg
				w.reject(path, err)
			}
			continue
		}
		sum := sha256.Sum256(data)
		if known && st.readErr == "" && st.sum == sum {
			continue
		}
		st.sum, st.readErr = sum, ""
		w.apply(path, st, data)
	}
}

// apply decodes a file strictly (unknown fields are errors with their path) and
// applies its objects; a file without objects is rejected (ErrNoObjects).
func (w *Watcher) apply(path string, st *fileState, data []byte) {
	docs, err := v1.Decode(bytes.NewReader(data), v1.DecodeOptions{Strict: true, Extra: v1beta1.NewObject})
	if err == nil && len(docs) == 0 {
		err = ErrNoObjects
	}
	if err != nil {
		w.reject(path, fmt.Errorf("%s: %w", path, err))
		return
	}
	objs := make([]v1.Object, 0, len(docs))
	for _, d := range docs {
		objs = append(objs, d.Object)
	}
	if err := w.applier.Apply(path, objs); err != nil {
		return // the applier logged it and lists it in its status
	}
	st.applied = true
	w.log.Info("manifest applied", "file", path, "objects", len(objs))
}

// reject reports a file that cannot be read or applied to the Applier, which logs
// it (one line per bad file, not one here and one there).
func (w *Watcher) reject(path string, err error) {
	w.applier.Reject(path, err)
}

// readLimited is readFile with the path in readFile's own errors, as the os
// errors have it.
func readLimited(path string) ([]byte, error) {
	data, err := readFile(path)
	if errors.Is(err, errTooLarge) || errors.Is(err, ErrNotRegular) {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, err
}
