// Package store keeps a serving controller's state in one file: a [Store] is a
// controller.Store on bbolt (go.etcd.io/bbolt, the embedded B+tree store etcd
// itself keeps its data in): every Commit is one transaction, written with fsync
// before it returns, so a crash of the process (kill -9) or of the machine leaves
// either all of a commit or none of it.
//
// The file, [FileName] in the state directory given to [Open], holds a layout
// version ([Layout]); a file of another version is refused with a [*LayoutError]
// naming both versions, never read as if it were this one. Open takes an exclusive
// lock on the file (flock): a second process opening the same directory gets
// [ErrLocked] after [Options].LockTimeout, and the first is not disturbed.
//
// Records are kept in one bucket per kind, keyed "<namespace>/<name>"; values are
// the controller's encoding, kept as they were given.
package store
