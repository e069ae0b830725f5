package local

import (
	"errors"
	"net"
	"sync"
)

// portSet hands out the loopback ports of the pods' user containers. A user port is
// chosen before the app binds it, so between the two the OS may hand the same port to
// any other listener; among the runtime's own listeners (other pods' ports, the
// fronts) portSet prevents that: a port it handed out is not handed out again, nor
// given to a front, until it is released. (Two pods starting at once could otherwise
// share a port: one app then fails to bind and crash-loops while its probe reaches the
// other pod.)
type portSet struct {
	mu       sync.Mutex
	reserved map[int]bool
}

// maxPortTries bounds how many ports reserve and listen try before giving up.
const maxPortTries = 64

// reserve returns a free loopback port no other pod of the runtime holds.
func (s *portSet) reserve() (int, error) {
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for range maxPortTries {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		held = append(held, l) // held open: the next try gets another port
		port := l.Addr().(*net.TCPAddr).Port
		s.mu.Lock()
		if !s.reserved[port] {
			if s.reserved == nil {
				s.reserved = make(map[int]bool)
			}
			s.reserved[port] = true
			s.mu.Unlock()
			return port, nil
		}
		s.mu.Unlock()
	}
	return 0, errors.New("no free loopback port")
}

// release makes a reserved port available again.
func (s *portSet) release(port int) {
	s.mu.Lock()
	delete(s.reserved, port)
	s.mu.Unlock()
}

// listen binds a loopback listener on a port no pod holds for its app.
func (s *portSet) listen() (net.Listener, error) {
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for range maxPortTries {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		taken := s.reserved[l.Addr().(*net.TCPAddr).Port]
		s.mu.Unlock()
		if !taken {
			return l, nil
		}
		held = append(held, l)
	}
	return nil, errors.New("no free loopback port")
}
