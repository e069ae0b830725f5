// Package safefile reads the files a platform watches (manifests, config maps, the
// image map) without blocking and within a size bound: only regular files (or
// symbolic links to one) are opened, never a FIFO, socket or device, and a file
// larger than the bound is an error rather than an unbounded read. It is shared by
// serving/manifests and serving/config.
package safefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// ErrNotRegular is the error (wrapped, with the file's type) for a file that is not
// a regular file, nor a symbolic link to one: a FIFO, a socket, a device or a
// directory. Such a file is never read: opening a FIFO waits for a writer, and
// reading a device may never end or have side effects.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is the error (wrapped, with the bound) of Read for a file larger than
// its limit.
var ErrTooLarge = errors.New("file too large")

// tooLarge is ErrTooLarge with its bound; its message is "larger than N bytes".
type tooLarge struct{ limit int }

func (e tooLarge) Error() string        { return fmt.Sprintf("larger than %d bytes", e.limit) }
func (e tooLarge) Is(target error) bool { return target == ErrTooLarge }

// Read reads at most limit bytes of name, which must be a regular file (or a
// symbolic link to one): anything else is ErrNotRegular, a larger file is
// ErrTooLarge. It never blocks on a FIFO.
func Read(name string, limit int) ([]byte, error) {
	// Refuse what is not a regular file before opening it: the open of a FIFO
	// blocks until a writer comes, and opening a device can have side effects.
	st, err := os.Stat(name)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			pe.Op = "open" // what it stands for: "open x.yaml: no such file or directory"
		}
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, notRegular(st.Mode())
	}
	// The file may be replaced between the Stat and the open: open without
	// blocking, and check again what was opened.
	f, err := openFile(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err = f.Stat(); err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, notRegular(st.Mode())
	}
	data, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(data) > limit {
		return nil, tooLarge{limit}
	}
	return data, nil
}

// notRegular is ErrNotRegular with the type of a file of mode m.
func notRegular(m fs.FileMode) error {
	kind := "irregular file"
	switch {
	case m&fs.ModeNamedPipe != 0:
		kind = "named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		kind = "socket"
	case m&fs.ModeCharDevice != 0:
		kind = "character device"
	case m&fs.ModeDevice != 0:
		kind = "block device"
	case m.IsDir():
		kind = "directory"
	}
	return fmt.Errorf("%w: a %s", ErrNotRegular, kind)
}
