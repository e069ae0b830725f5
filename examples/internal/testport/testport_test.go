//go:build unix

package testport

import (
	"errors"
	"net"
	"strconv"
	"syscall"
	"testing"
)

// A reserved port takes a program's listener (SO_REUSEADDR, as Go's), refuses a bind
// that does not share it, and is still refused to others once that listener closed.
func TestReserve(t *testing.T) {
	port := Reserve(t)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	plainBind := func() error {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer syscall.Close(fd)
		return syscall.Bind(fd, &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}})
	}
	if err := plainBind(); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("bind without SO_REUSEADDR to the reserved port: %v, want EADDRINUSE", err)
	}
	for range 2 { // the program's listener, then a restarted program's
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("listening on the reserved port %s: %v", addr, err)
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dialing the listener on the reserved port: %v", err)
		}
		c.Close()
		ln.Close()
		if err := plainBind(); !errors.Is(err, syscall.EADDRINUSE) {
			t.Errorf("bind without SO_REUSEADDR after the listener closed: %v, want EADDRINUSE", err)
		}
	}
}

// No one asking the kernel for a free port gets a reserved one. With 300 of the
// ~28,000 ephemeral ports reserved, 1,500 listeners on port 0 would land on about 16
// of them if the reservations did not hold.
func TestReservedPortsAreNotHandedOut(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur < 2000 {
		t.Skipf("needs 2,000 file descriptors (RLIMIT_NOFILE %d, %v)", lim.Cur, err)
	}
	reserved := map[int]bool{}
	for range 300 {
		reserved[Reserve(t)] = true
	}
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range 1500 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		if p := ln.Addr().(*net.TCPAddr).Port; reserved[p] {
			t.Fatalf("a listener on port 0 got the reserved port %d", p)
		}
	}
}
