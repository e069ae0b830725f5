package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/servekit/servekit/serving/controller"
)

// Layout is the version of the file layout this package reads and writes: the
// buckets, the keys and the controller's record encodings. A change of any of them
// takes a new version and a migration from the old one.
//
// Versions: 1, the first; 2 adds the record kinds DomainMapping and DomainClaim
// (controller.RecordDomainClaim), which a version-1 reader would fail on ("unknown
// kind") instead of refusing the file cleanly. Open migrates a version-1 file to 2
// in place (it holds none of them, so only the version changes).
const Layout = 2

// FileName is the name of the state file in the state directory.
const FileName = "state.db"

// DefaultLockTimeout is how long Open waits for another process to release the
// state file when Options.LockTimeout is zero.
const DefaultLockTimeout = time.Second

// ErrLocked is returned (wrapped, with the directory) by Open when another process
// holds the state file.
var ErrLocked = errors.New("in use by another process")

// LayoutError is returned by Open for a state file of another layout version.
type LayoutError struct {
	// Path is the state file.
	Path string
	// Found is the file's layout version (0: none, e.g. not a servekit file).
	Found int
	// Want is the version this package reads, Layout.
	Want int
}

// Error names the file and both versions.
func (e *LayoutError) Error() string {
	if e.Found <= 0 {
		return fmt.Sprintf("store: %s: no layout version (not a servekit state file), this servekit reads layout version %d only; "+
			"nothing was read or changed: move the state directory away to start empty", e.Path, e.Want)
	}
	return fmt.Sprintf("store: %s: layout version %d, this servekit reads layout version %d only; "+
		"nothing was read or changed: run a servekit that reads version %d, or move the state directory away to start empty",
		e.Path, e.Found, e.Want, e.Found)
}

// Options configure Open. The zero value is ready to use.
type Options struct {
	// LockTimeout is how long Open waits for another process to release the state
	// file before returning ErrLocked; zero means DefaultLockTimeout.
	LockTimeout time.Duration
}

// Store is a controller.Store in the file FileName of a directory. Its methods
// are safe for concurrent use (bbolt serialises writers).
type Store struct {
	db   *bolt.DB
	path string
}

var _ controller.Store = (*Store)(nil)

// Bucket names: metaBucket holds layoutKey; records are in recordsBucket, in one
// nested bucket per kind.
var (
	metaBucket    = []byte("meta")
	layoutKey     = []byte("layout")
	recordsBucket = []byte("records")
)

// Open opens (creating it and dir if need be) the state file in dir and locks it.
// A new file gets the current Layout; an existing one must have it or an older
// version Open migrates (see Layout), in the same transaction that checks it. Close it when
// done; the lock goes with the process in any case.
func Open(dir string, o Options) (*Store, error) {
	if dir == "" {
		return nil, errors.New("store: no state directory")
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: state directory: %w", err)
	}
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: o.LockTimeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("store: state directory %s: %w (the lock on %s was not released within %v): stop the other controller, or give this one another state directory",
			dir, ErrLocked, FileName, o.LockTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return checkLayout(tx, path) }); err != nil {
		db.Close()
		return nil, err
	}
	return &Store{db: db, path: path}, nil
}

// checkLayout stamps a new file with Layout, migrates an older version it knows,
// and refuses any other version.
func checkLayout(tx *bolt.Tx, path string) error {
	meta := tx.Bucket(metaBucket)
	if meta == nil {
		empty := true
		_ = tx.ForEach(func([]byte, *bolt.Bucket) error { empty = false; return nil })
		if !empty {
			return &LayoutError{Path: path, Found: 0, Want: Layout}
		}
		meta, err := tx.CreateBucket(metaBucket)
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucket(recordsBucket); err != nil {
			return err
		}
		return meta.Put(layoutKey, []byte(strconv.Itoa(Layout)))
	}
	v, err := strconv.Atoi(string(meta.Get(layoutKey)))
	if err != nil || v <= 0 {
		v = 0
	}
	if tx.Bucket(recordsBucket) == nil {
		return &LayoutError{Path: path, Found: v, Want: Layout}
	}
	if v == 1 {
		// 1 → 2: new record kinds only; the records of version 1 are read as they are.
		v = 2
		if err := meta.Put(layoutKey, []byte(strconv.Itoa(v))); err != nil {
			return err
		}
	}
	if v != Layout {
		return &LayoutError{Path: path, Found: v, Want: Layout}
	}
	return nil
}

// Path is the state file's path.
func (s *Store) Path() string { return s.path }

// Close releases the file and its lock.
func (s *Store) Close() error { return s.db.Close() }

// key is a record's key within its kind's bucket: namespaces hold no "/".
func key(k controller.RecordKey) []byte { return []byte(k.Namespace + "/" + k.Name) }

// Load calls fn for every record, by kind then key, in one read transaction: fn
// sees one committed state. Its Value is valid only during the call.
func (s *Store) Load(fn func(controller.Record) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(recordsBucket).ForEachBucket(func(kind []byte) error {
			b := tx.Bucket(recordsBucket).Bucket(kind)
			return b.ForEach(func(k, v []byte) error {
				ns, name, ok := strings.Cut(string(k), "/")
				if !ok {
					return fmt.Errorf("store: %s: record %s %q: key without a namespace separator", s.path, kind, k)
				}
				return fn(controller.Record{
					RecordKey: controller.RecordKey{Kind: string(kind), Namespace: ns, Name: name},
					Value:     v,
				})
			})
		})
	})
}

// Commit writes puts and removes deletes in one transaction, synced to disk
// before it returns.
func (s *Store) Commit(puts []controller.Record, deletes []controller.RecordKey) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		recs := tx.Bucket(recordsBucket)
		for _, r := range puts {
			if r.Kind == "" || strings.Contains(r.Namespace, "/") {
				return fmt.Errorf("record %q %s/%s: kind empty or namespace with a /", r.Kind, r.Namespace, r.Name)
			}
			b, err := recs.CreateBucketIfNotExists([]byte(r.Kind))
			if err != nil {
				return err
			}
			if err := b.Put(key(r.RecordKey), r.Value); err != nil {
				return err
			}
		}
		for _, k := range deletes {
			if b := recs.Bucket([]byte(k.Kind)); b != nil {
				if err := b.Delete(key(k)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: %s: commit: %w", s.path, err)
	}
	return nil
}
