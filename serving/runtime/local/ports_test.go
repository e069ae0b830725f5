package local

import (
	"net"
	"testing"
)

// TestPortSet: a reserved port is not reserved again nor given to a front's listener
// until it is released, even when the OS would hand it out again (it is not bound
// while the app starts).
func TestPortSet(t *testing.T) {
	var s portSet
	reserved := map[int]bool{}
	for range 100 {
		p, err := s.reserve()
		if err != nil {
			t.Fatal(err)
		}
		if reserved[p] {
			t.Fatalf("port %d reserved twice", p)
		}
		reserved[p] = true
	}
	for range 100 {
		l, err := s.listen()
		if err != nil {
			t.Fatal(err)
		}
		if port := l.Addr().(*net.TCPAddr).Port; reserved[port] {
			t.Fatalf("front listener on reserved port %d", port)
		}
		l.Close()
	}
	for p := range reserved {
		s.release(p)
	}
	if len(s.reserved) != 0 {
		t.Errorf("%d ports still reserved after release", len(s.reserved))
	}
}
