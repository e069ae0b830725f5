package endpoints

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/servekit/servekit/activator"
)

// Target is what a Source updates: an *activator.Throttler.
type Target interface {
	SetRevision(key activator.RevisionKey, r activator.Revision) error
	UpdateEndpoints(key activator.RevisionKey, addrs []string) error
	RemoveRevision(key activator.RevisionKey)
}

// Source applies Configs to a Target: revisions added or updated, their addresses
// replaced, revisions no longer listed removed. It is also the activator.Resolver for
// the hosts of the Config last applied. Its methods are safe for concurrent use.
type Source struct {
	target   Target
	log      *slog.Logger
	resolver atomic.Pointer[HostResolver]

	mu      sync.Mutex // guards the fields below and serialises Apply
	current map[activator.RevisionKey]bool
	last    []byte // file content last applied
	lastBad []byte // file content last rejected, so that it is logged once
}

// NewSource returns a Source that updates t and logs revisions and addresses it
// ignores to log (nil discards). Until the first Apply it resolves only Knative's
// <revision>.<namespace>.svc.<cluster-domain> hosts.
func NewSource(t Target, log *slog.Logger) *Source {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Source{target: t, log: log, current: map[activator.RevisionKey]bool{}}
	s.resolver.Store(NewHostResolver(&Config{}))
	return s
}

// Apply makes c the Target's set of revisions. A revision the Target refuses (its
// containerConcurrency changed) is logged and skipped, as are endpoint errors.
func (s *Source) Apply(c *Config) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.applyLocked(c)
}

func (s *Source) applyLocked(c *Config) {
	next := map[activator.RevisionKey]bool{}
	for _, r := range c.Revisions {
		rev := activator.Revision{ContainerConcurrency: r.ContainerConcurrency, Timeout: time.Duration(r.TimeoutSeconds) * time.Second, H2C: r.Protocol == "h2c"}
		if err := s.target.SetRevision(r.Key(), rev); err != nil {
			s.log.Warn("ignoring revision", "revision", r.Key().String(), "reason", err.Error())
			continue
		}
		next[r.Key()] = true
		if err := s.target.UpdateEndpoints(r.Key(), r.Addresses); err != nil {
			s.log.Warn("ignoring endpoints", "revision", r.Key().String(), "reason", err.Error())
		}
	}
	for k := range s.current {
		if !next[k] {
			s.target.RemoveRevision(k)
		}
	}
	s.current = next
	s.resolver.Store(NewHostResolver(c))
}

// Resolve routes r by the hosts of the Config last applied (see HostResolver).
func (s *Source) Resolve(r *http.Request) (activator.RevisionKey, error) {
	return s.resolver.Load().Resolve(r)
}

// Load reads the file at path, parses it (Parse) and applies it when its content
// changed since the last Load. An unreadable or invalid file is an error that names
// the file and changes nothing; the same invalid content is reported once.
func (s *Source) Load(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err // an *fs.PathError, which names the file
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if (s.last != nil && bytes.Equal(data, s.last)) || (s.lastBad != nil && bytes.Equal(data, s.lastBad)) {
		return nil
	}
	c, err := Parse(data)
	if err != nil {
		s.lastBad = data
		return fmt.Errorf("%s: %w", path, err)
	}
	s.lastBad = nil
	s.last = data
	s.applyLocked(c)
	s.log.Info("endpoints loaded", "file", path, "revisions", len(c.Revisions))
	return nil
}

// Watch calls Load every interval until ctx ends, then returns nil. A bad version of
// the file is logged and the last good one stays in force. Call Load once before, to
// fail on a bad first version.
//
// Replace the file atomically (write another file, then rename it): a file read while
// being rewritten in place may be empty, which is a valid Config without revisions and
// removes them all until the next read.
func (s *Source) Watch(ctx context.Context, path string, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := s.Load(path); err != nil {
				s.log.Warn("keeping the last good endpoints", "reason", err.Error())
			}
		}
	}
}
