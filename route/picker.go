package route

import (
	"errors"
	"fmt"
	"math/bits"
	"sync/atomic"
)

// Split is one revision's share of a host's traffic.
type Split struct {
	// RevisionName is the revision that receives the share.
	RevisionName string
	// Percent is the share, 0..100; 0% splits receive nothing.
	Percent int
}

// Picker chooses a revision for each request so that the long-run shares
// equal the percentages exactly.
//
// Pick walks a precomputed schedule of (100 / gcd of the percents) slots
// built with smooth weighted round-robin (the scheme nginx uses): slot k of
// the schedule is taken by the k-th call, counted by one atomic counter. The
// schedule repeats with a period that divides 100, so any 100 consecutive
// calls (in counter order, whichever goroutines made them) return each
// revision exactly Percent times, and the revisions are interleaved rather
// than bunched (90/10 gives nine A's, one B, nine A's...).
//
// PickKey instead maps a request attribute (a session cookie, a client
// address) to a revision, so the same key always lands on the same revision
// while the splits stay the same. It uses cumulative ranges over 100 buckets,
// so moving one percent from one revision to its neighbour moves only the
// keys of that one bucket.
//
// A Picker is immutable except for its counter; all methods are safe for
// concurrent use and allocate nothing.
type Picker struct {
	// next counts Pick calls; slot = next % len(schedule). It is the only
	// field written after construction, so it gets a cache line of its own:
	// otherwise every Pick on one core would evict the read-only fields
	// below from the caches of the others.
	next atomic.Uint64
	_    [cacheLine - 8]byte

	namespace, route, tag string
	names                 []string // distinct revisions with a share > 0
	splits                []Split  // the splits as given, merged by revision
	schedule              []uint8  // index into names, one per slot
	buckets               [100]uint8
}

// NewPicker builds a Picker for splits whose percents sum to 100. Splits
// naming the same revision are merged; 0% splits are kept in Splits but
// never picked.
func NewPicker(splits []Split) (*Picker, error) {
	p := &Picker{}
	if err := p.init(splits); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Picker) init(splits []Split) error {
	if len(splits) == 0 {
		return errors.New("route: no splits")
	}
	sum := 0
	p.splits = make([]Split, 0, len(splits))
	for i, s := range splits {
		if s.RevisionName == "" {
			return fmt.Errorf("route: splits[%d].revisionName: empty", i)
		}
		if s.Percent < 0 || s.Percent > 100 {
			return fmt.Errorf("route: splits[%d].percent: expected 0 <= %d <= 100", i, s.Percent)
		}
		sum += s.Percent
		if j := indexSplit(p.splits, s.RevisionName); j >= 0 {
			p.splits[j].Percent += s.Percent
			continue
		}
		p.splits = append(p.splits, s)
	}
	if sum != 100 {
		return fmt.Errorf("route: splits sum to %d, want 100", sum)
	}
	// At most 100 splits can have a share: each has at least 1%.
	var wbuf [100]int
	weights := wbuf[:0]
	g := 0
	p.names = make([]string, 0, len(p.splits))
	for _, s := range p.splits {
		if s.Percent == 0 {
			continue
		}
		p.names = append(p.names, s.RevisionName)
		weights = append(weights, s.Percent)
		g = gcd(g, s.Percent)
	}
	// Cumulative buckets for PickKey: revision i owns a contiguous range of
	// Percent buckets, in split order.
	b := 0
	for i, w := range weights {
		for range w {
			p.buckets[b] = uint8(i)
			b++
		}
	}
	// Smooth weighted round-robin over the reduced weights: every step adds
	// each weight to its running credit, picks the largest credit (the
	// first on ties) and charges it the total. Over total steps each
	// revision is picked exactly its weight times, spread out evenly.
	total := 100 / g
	var cbuf [100]int
	credit := cbuf[:len(weights)]
	p.schedule = make([]uint8, total)
	for k := range total {
		best := 0
		for i, w := range weights {
			credit[i] += w / g
			if credit[i] > credit[best] {
				best = i
			}
		}
		credit[best] -= total
		p.schedule[k] = uint8(best)
	}
	return nil
}

// cacheLine is the size of a CPU cache line on the common platforms.
const cacheLine = 64

// indexSplit is the index of the split for rev, or -1. Splits are few, so
// a scan beats a map here.
func indexSplit(splits []Split, rev string) int {
	for i := range splits {
		if splits[i].RevisionName == rev {
			return i
		}
	}
	return -1
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// Pick returns the next revision of the schedule.
func (p *Picker) Pick() string {
	n := p.next.Add(1) - 1
	return p.names[p.schedule[n%uint64(len(p.schedule))]]
}

// PickKey returns the revision for a request attribute: the same key gives
// the same revision as long as the splits do not change, and keys spread
// over revisions in proportion to the percents.
func (p *Picker) PickKey(key string) string {
	return p.PickHash(fnv1a(key))
}

// PickHash is PickKey for a caller that already has a 64-bit hash of the
// attribute. The hash is mixed again, so any hash will do.
func (p *Picker) PickHash(h uint64) string {
	// Scale the mixed hash onto [0, 100) by its high bits (Lemire's
	// multiply-shift), which is unbiased enough and has no division.
	hi, _ := bits.Mul64(mix64(h), 100)
	return p.names[p.buckets[hi]]
}

// Splits returns the revisions and percents this Picker serves, merged by
// revision, in the order given. The slice must not be modified.
func (p *Picker) Splits() []Split { return p.splits }

// Period is the length of the repeating schedule: 100 divided by the
// greatest common divisor of the non-zero percents.
func (p *Picker) Period() int { return len(p.schedule) }

// Namespace is the namespace of the Route this Picker serves; empty for a
// Picker made with NewPicker.
func (p *Picker) Namespace() string { return p.namespace }

// Route is the name of the Route this Picker serves; empty for a Picker made
// with NewPicker.
func (p *Picker) Route() string { return p.route }

// Tag is the traffic tag this Picker serves; empty for the default traffic.
func (p *Picker) Tag() string { return p.tag }

func fnv1a(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// mix64 is the splitmix64 finaliser.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
