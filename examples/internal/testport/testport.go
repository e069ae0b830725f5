//go:build unix

// Package testport reserves loopback TCP ports for tests that start a program which
// binds a port it is told (a queue proxy's QUEUE_SERVING_PORT, an app's PORT) rather
// than one it picks.
//
// Asking the kernel for a free port (listen on 127.0.0.1:0), closing that listener
// and handing the number to a program races: until the program binds it, the
// kernel may give the same port to anyone else who asks for a free one (another
// test's listener, an outgoing connection), and the program then fails with
// EADDRINUSE, or worse, a second program binds it and gets the first one's traffic.
// Reserve closes that window. It binds a socket to 127.0.0.1:0 with SO_REUSEADDR and
// keeps it bound, without listening, until the test ends. On Linux a bound socket
// with SO_REUSEADDR that does not listen lets another SO_REUSEADDR socket bind and
// listen on the same address (Go's net.Listen sets SO_REUSEADDR), while the kernel
// hands the port to no one who asks for a free port and uses it for no outgoing
// connection (socket(7), SO_REUSEADDR: "a socket may bind, except when there is an
// active listening socket bound to the address"). So the port is the program's as
// soon as the test has it, whenever the program binds it.
package testport

import (
	"fmt"
	"syscall"
	"testing"
)

// Reserve returns a TCP port on 127.0.0.1 that is reserved for the caller until the
// test ends: a program may listen on it (with SO_REUSEADDR, as every Go listener
// does), and no one asking the kernel for a free port gets it meanwhile. It fails
// the test if no port can be reserved.
func Reserve(t testing.TB) int {
	t.Helper()
	port, err := Get(t)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// Get is Reserve returning its error instead of failing the test, for a goroutine
// other than the test's (which must not call t.Fatal).
func Get(t testing.TB) (int, error) {
	port, closeFn, err := reserve()
	if err != nil {
		return 0, fmt.Errorf("testport: reserving a loopback port: %w", err)
	}
	t.Cleanup(closeFn)
	return port, nil
}

func reserve() (port int, closeFn func(), err error) {
	// Under ForkLock, as package net does, so that no child started meanwhile
	// inherits the descriptor before it is close-on-exec.
	syscall.ForkLock.RLock()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return 0, nil, err
	}
	fail := func(err error) (int, func(), error) {
		syscall.Close(fd)
		return 0, nil, err
	}
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		return fail(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return fail(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		return fail(err)
	}
	in4, ok := sa.(*syscall.SockaddrInet4)
	if !ok {
		return fail(syscall.EAFNOSUPPORT)
	}
	return in4.Port, func() { syscall.Close(fd) }, nil
}
