package route

import (
	"fmt"
	"strings"
	"sync/atomic"
)

// Destination is one traffic name of a Route in a table: the hosts that
// reach it and the revisions it splits over.
type Destination struct {
	// Tag is the traffic name; empty for the Route's default traffic.
	Tag string
	// Hosts are the host names (no port) that reach this destination.
	Hosts []string
	// Splits must sum to 100.
	Splits []Split
}

// TableRoute is one Route's entry in a table.
type TableRoute struct {
	// Namespace and Name identify the Route (for errors and for the
	// Picker's Namespace and Route).
	Namespace, Name string
	// Destinations are the default traffic ("" tag) and one per tag.
	Destinations []Destination
}

// TableOptions configures NewTable. The zero value turns header routing off.
type TableOptions struct {
	// TagHeaderRouting lets a request to a Route's default host choose a
	// tag with the Knative-Serving-Tag header (config-features
	// tag-header-based-routing). A tag the Route does not have falls back
	// to the default traffic, as in Knative.
	TagHeaderRouting bool
}

// ConflictError is a host claimed by two destinations.
type ConflictError struct {
	// Host is the contested host.
	Host string
	// First and Second are "<namespace>/<name>" (plus " tag <tag>") of the
	// two claimants, in input order; the first one came first.
	First, Second string
}

// Error implements error.
func (e *ConflictError) Error() string {
	return fmt.Sprintf("route: host %q is claimed by both %s and %s", e.Host, e.First, e.Second)
}

// Table maps request hosts to Pickers. It is immutable once built, so any
// number of goroutines may use it at once; replace it as a whole (see
// TableHolder) when routes change. A nil *Table finds nothing.
type Table struct {
	hosts     map[string]*tableEntry
	tagHeader bool
	routes    int
}

type tableEntry struct {
	picker *Picker
	// tags are the Route's tag pickers, set on default entries only when
	// header routing is on: a short slice scanned linearly (cheaper than a
	// map for the handful of tags routes have), or a map past smallTags.
	tags    []*Picker
	tagsMap map[string]*Picker
}

// smallTags is the most tags looked up by linear scan.
const smallTags = 8

func (e *tableEntry) tag(tag string) (*Picker, bool) {
	if e.tagsMap != nil {
		p, ok := e.tagsMap[tag]
		return p, ok
	}
	for _, p := range e.tags {
		if p.tag == tag {
			return p, true
		}
	}
	return nil, false
}

// NewTable builds a table from every Route. Hosts are matched
// case-insensitively (they are stored lower-case). A destination whose
// splits do not sum to 100 is an error naming the route and tag; a host
// claimed twice is a *ConflictError.
func NewTable(routes []TableRoute, opts TableOptions) (*Table, error) {
	n := 0
	for _, r := range routes {
		for _, d := range r.Destinations {
			n += len(d.Hosts)
		}
	}
	t := &Table{hosts: make(map[string]*tableEntry, n), tagHeader: opts.TagHeaderRouting, routes: len(routes)}
	for _, r := range routes {
		var def *tableEntry
		var tags []*Picker
		for _, d := range r.Destinations {
			p := &Picker{namespace: r.Namespace, route: r.Name, tag: d.Tag}
			if err := p.init(d.Splits); err != nil {
				return nil, fmt.Errorf("route: %s/%s tag %q: %w", r.Namespace, r.Name, d.Tag, err)
			}
			e := &tableEntry{picker: p}
			if d.Tag == "" {
				def = e
			} else if opts.TagHeaderRouting {
				tags = append(tags, p)
			}
			for _, h := range d.Hosts {
				h = strings.ToLower(strings.TrimSuffix(h, "."))
				if prev, dup := t.hosts[h]; dup {
					return nil, &ConflictError{Host: h, First: prev.picker.describe(), Second: p.describe()}
				}
				t.hosts[h] = e
			}
		}
		if def != nil && len(tags) > 0 {
			if len(tags) <= smallTags {
				def.tags = tags
			} else {
				def.tagsMap = make(map[string]*Picker, len(tags))
				for _, p := range tags {
					if _, dup := def.tagsMap[p.tag]; !dup {
						def.tagsMap[p.tag] = p
					}
				}
			}
		}
	}
	return t, nil
}

// describe names the picker's route and tag for errors.
func (p *Picker) describe() string {
	s := p.namespace + "/" + p.route
	if p.tag != "" {
		s += " tag " + p.tag
	}
	return s
}

// Len is the number of routes the table was built from.
func (t *Table) Len() int {
	if t == nil {
		return 0
	}
	return t.routes
}

// Lookup finds the Picker for a request: host is the Host header (a port,
// a trailing dot and upper case are ignored) and tag the value of the
// Knative-Serving-Tag header ("" when absent). On a default host with header
// routing on, a known tag selects that tag's Picker and an unknown one falls
// back to the default. It allocates nothing unless host has upper-case
// letters.
func (t *Table) Lookup(host, tag string) (*Picker, bool) {
	if t == nil {
		return nil, false
	}
	host = stripPort(host)
	if n := len(host); n > 0 && host[n-1] == '.' {
		host = host[:n-1]
	}
	e, ok := t.hosts[host]
	if !ok {
		if !hasUpper(host) {
			return nil, false
		}
		if e, ok = t.hosts[strings.ToLower(host)]; !ok {
			return nil, false
		}
	}
	if tag != "" {
		if p, ok := e.tag(tag); ok {
			return p, true
		}
	}
	return e.picker, true
}

// stripPort removes ":port" from a host, keeping IPv6 literals intact.
func stripPort(h string) string {
	i := strings.LastIndexByte(h, ':')
	if i < 0 {
		return h
	}
	if j := strings.LastIndexByte(h, ']'); j > i {
		return h // "[::1]" without a port
	}
	if h[0] == '[' && i > 0 && h[i-1] == ']' {
		return h[1 : i-1]
	}
	return h[:i]
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			return true
		}
	}
	return false
}

// TableHolder holds the current Table for the request path. The zero value
// holds nil (every lookup misses). Store swaps in a new table atomically:
// a request that loaded the old table keeps using it, whole, to the end.
type TableHolder struct {
	p atomic.Pointer[Table]
}

// Load returns the current table (nil before the first Store).
func (h *TableHolder) Load() *Table { return h.p.Load() }

// Store makes t the current table.
func (h *TableHolder) Store(t *Table) { h.p.Store(t) }

// Lookup is Load().Lookup(host, tag).
func (h *TableHolder) Lookup(host, tag string) (*Picker, bool) { return h.p.Load().Lookup(host, tag) }
