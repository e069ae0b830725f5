package window

import "time"

// Max is a sliding maximum over integer slots, Knative's scale-down-delay
// window (aggregation/max). A value recorded at slot i is forgotten once the
// current slot is ≥ i + n; two records in one slot keep the larger.
//
// It is a monotonic deque held in a fixed ring, so Record never allocates.
// A zero Max has no capacity; create one with [NewMax].
type Max struct {
	n     int64 // slots a value is remembered for
	ents  []maxEntry
	head  int // ring index of the first (largest, oldest) entry
	count int
	slot  time.Duration
}

type maxEntry struct {
	idx int64
	val int32
}

// NewMax returns a window remembering values for ceil(d / slot) slots of
// width slot (at least one slot). The decider uses slot = 2 s, its tick.
func NewMax(d, slot time.Duration) *Max {
	if slot <= 0 {
		slot = time.Second
	}
	n := int64((d + slot - 1) / slot)
	if n < 1 {
		n = 1
	}
	return &Max{n: n, ents: make([]maxEntry, n), slot: slot}
}

// Slots returns the number of slots a value is remembered for.
func (m *Max) Slots() int { return int(m.n) }

func (m *Max) at(i int) *maxEntry { return &m.ents[(m.head+i)%len(m.ents)] }

// Record records v at the slot containing now (Unix seconds / slot width).
func (m *Max) Record(now time.Time, v int32) {
	m.RecordIndex(now.Unix()/int64(m.slot/time.Second), v)
}

// RecordIndex records v at slot index idx.
func (m *Max) RecordIndex(idx int64, v int32) {
	for m.count > 0 && m.at(m.count-1).val <= v {
		m.count--
	}
	for m.count > 0 && idx-m.at(0).idx >= m.n {
		m.head = (m.head + 1) % len(m.ents)
		m.count--
	}
	if m.count > 0 && m.at(m.count-1).idx == idx {
		// The tail is larger than v (smaller ones were popped): keep it.
		return
	}
	if m.count == len(m.ents) {
		// Only reachable with slots recorded out of order; drop the oldest.
		m.head = (m.head + 1) % len(m.ents)
		m.count--
	}
	*m.at(m.count) = maxEntry{idx: idx, val: v}
	m.count++
}

// Current returns the maximum over the window as of the last Record, and
// false if nothing was recorded.
func (m *Max) Current() (int32, bool) {
	if m.count == 0 {
		return 0, false
	}
	return m.at(0).val, true
}
