//go:build !unix

package manifests

import "os"

// openFile opens name for reading; without Unix FIFOs there is nothing that
// blocks in open, and readFile checks the file's type before and after.
func openFile(name string) (*os.File, error) { return os.Open(name) }
