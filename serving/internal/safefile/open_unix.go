//go:build unix

package safefile

import (
	"os"
	"syscall"
)

// openFile opens name for reading without blocking: O_NONBLOCK, so that a FIFO
// put in the file's place after Read's Stat opens at once instead of waiting
// for a writer, and O_NOCTTY, so that a terminal never becomes the controlling
// one. Reading a regular file is not affected by O_NONBLOCK.
func openFile(name string) (*os.File, error) {
	return os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
}
