package activator

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func trackers(capacity int, addrs ...string) []*Tracker {
	out := make([]*Tracker, len(addrs))
	for i, a := range addrs {
		out[i] = NewTracker(a, capacity)
	}
	return out
}

// pickAll calls p n times without releasing and returns the chosen addresses ("-" for
// none).
func pickAll(p Policy, ts []*Tracker, n int) []string {
	var got []string
	for range n {
		if tr := p(ts); tr != nil {
			got = append(got, tr.Addr())
		} else {
			got = append(got, "-")
		}
	}
	return got
}

func TestFirstAvailable(t *testing.T) {
	tests := []struct {
		name     string
		capacity int
		pods     []string
		picks    int
		want     []string
	}{
		{"packs the first pod before the next", 2, []string{"a", "b", "c"}, 7, []string{"a", "a", "b", "b", "c", "c", "-"}},
		{"cc 1", 1, []string{"a", "b"}, 3, []string{"a", "b", "-"}},
		{"no pods", 1, nil, 1, []string{"-"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := pickAll(FirstAvailable, trackers(tt.capacity, tt.pods...), tt.picks)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("choices (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("release frees the lowest pod again", func(t *testing.T) {
		ts := trackers(1, "a", "b")
		a := FirstAvailable(ts)
		FirstAvailable(ts)
		a.Release()
		if got := FirstAvailable(ts); got != ts[0] {
			t.Errorf("after releasing a got %v, want a", got)
		}
	})
}

func TestRoundRobin(t *testing.T) {
	t.Run("turns and skips full pods", func(t *testing.T) {
		ts := trackers(2, "a", "b", "c")
		rr := RoundRobin()
		got := pickAll(rr, ts, 7)
		want := []string{"a", "b", "c", "a", "b", "c", "-"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("choices (-want +got):\n%s", diff)
		}
	})
	t.Run("full pod skipped, cursor after the chosen one", func(t *testing.T) {
		ts := trackers(1, "a", "b", "c")
		rr := RoundRobin()
		first := rr(ts)  // a
		second := rr(ts) // b
		first.Release()
		second.Release()
		ts[2].TryReserve() // c is full
		got := pickAll(rr, ts, 3)
		if diff := cmp.Diff([]string{"a", "b", "-"}, got); diff != "" {
			t.Errorf("choices (-want +got):\n%s", diff)
		}
	})
	t.Run("list shrank below the cursor", func(t *testing.T) {
		rr := RoundRobin()
		big := trackers(0, "a", "b", "c", "d")
		pickAll(rr, big, 3) // cursor at 3
		small := trackers(0, "x", "y")
		if diff := cmp.Diff([]string{"x", "y", "x"}, pickAll(rr, small, 3)); diff != "" {
			t.Errorf("choices (-want +got):\n%s", diff)
		}
	})
}

// script returns an intn that replays values (mod n) and records the bounds asked.
func script(vals ...int) (func(int) int, *[]string) {
	var asked []string
	i := 0
	return func(n int) int {
		v := vals[i%len(vals)] % n
		asked = append(asked, fmt.Sprintf("%d/%d", v, n))
		i++
		return v
	}, &asked
}

func TestRandomChoiceOfTwo(t *testing.T) {
	t.Run("lower load wins, ties flip a coin", func(t *testing.T) {
		intn, asked := script(
			0, 0, 1, // i=0, j=0→1 (a,b), tie: coin 1 → b
			0, 0, // i=0, j=1 (a,b): a has 0, b has 1 → a (no coin)
			2, 1, // i=2 (c), j=1 (b): c 0, b 1 → c (no coin)
			1, 1, 0, // i=1 (b), j=1→2 (c): b 1, c 1 → tie, coin 0 → b
		)
		ts := trackers(0, "a", "b", "c")
		got := pickAll(RandomChoiceOfTwo(intn), ts, 4)
		if diff := cmp.Diff([]string{"b", "a", "c", "b"}, got); diff != "" {
			t.Errorf("choices (-want +got):\n%s", diff)
		}
		wantAsked := []string{"0/3", "0/2", "1/2", "0/3", "0/2", "2/3", "1/2", "1/3", "1/2", "0/2"}
		if diff := cmp.Diff(wantAsked, *asked); diff != "" {
			t.Errorf("random draws (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]int{1, 2, 1}, []int{ts[0].InFlight(), ts[1].InFlight(), ts[2].InFlight()}); diff != "" {
			t.Errorf("in flight per pod (-want +got):\n%s", diff)
		}
	})
	t.Run("two pods compare both", func(t *testing.T) {
		intn, _ := script(0)
		ts := trackers(0, "a", "b")
		got := pickAll(RandomChoiceOfTwo(intn), ts, 4)
		if diff := cmp.Diff([]string{"a", "b", "a", "b"}, got); diff != "" {
			t.Errorf("choices (-want +got):\n%s", diff)
		}
	})
	t.Run("one pod and none", func(t *testing.T) {
		p := RandomChoiceOfTwo(nil)
		if got := pickAll(p, trackers(0, "a"), 2); !cmp.Equal(got, []string{"a", "a"}) {
			t.Errorf("one pod: got %v", got)
		}
		if got := p(nil); got != nil {
			t.Errorf("no pods: got %v", got)
		}
	})
}

func TestPolicyFor(t *testing.T) {
	for _, tt := range []struct {
		cc   int
		want []string
	}{
		{0, nil}, // random: only checks it spreads, below
		{1, []string{"a", "a", "a"}},
		{3, []string{"a", "a", "a"}},
		{4, []string{"a", "b", "c"}},
	} {
		t.Run(fmt.Sprint("cc ", tt.cc), func(t *testing.T) {
			ts := trackers(tt.cc*10, "a", "b", "c")
			p := PolicyFor(tt.cc)
			got := pickAll(p, ts, 3)
			if tt.want == nil {
				if len(got) != 3 || got[0] == "-" {
					t.Errorf("cc 0 picks %v", got)
				}
				return
			}
			// First-available with room for 10 packs onto a; round-robin turns.
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("choices (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAssignSlice(t *testing.T) {
	pods := func(n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	tests := []struct {
		name         string
		pods         int
		index, count int
		want         []int
	}{
		{"unknown index: all", 3, -1, 2, []int{0, 1, 2}},
		{"one activator: all", 3, 0, 1, []int{0, 1, 2}},
		{"one pod: all", 1, 1, 3, []int{0}},
		{"no pods", 0, 0, 2, []int{}},
		{"more activators than pods", 2, 3, 5, []int{1}},
		{"even split 0", 4, 0, 2, []int{0, 1}},
		{"even split 1", 4, 1, 2, []int{2, 3}},
		{"5 pods 2 activators: index 0 gets the remainder", 5, 0, 2, []int{0, 1, 4}},
		{"5 pods 2 activators: index 1", 5, 1, 2, []int{2, 3}},
		{"7 pods 3 activators 0", 7, 0, 3, []int{0, 1, 6}},
		{"7 pods 3 activators 2", 7, 2, 3, []int{4, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := assignSlice(pods(tt.pods), tt.index, tt.count)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("assigned pods (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCapacityFor(t *testing.T) {
	for _, tt := range []struct{ cc, pods, want int }{
		{1, 0, 0}, {0, 0, 0}, {0, 3, 1<<31 - 1}, {2, 3, 6}, {1 << 30, 4, 1<<31 - 1},
	} {
		if got := capacityFor(tt.cc, tt.pods); got != tt.want {
			t.Errorf("capacityFor(%d, %d) = %d, want %d", tt.cc, tt.pods, got, tt.want)
		}
	}
}

func TestTracker(t *testing.T) {
	tr := NewTracker("a", 1)
	if !tr.TryReserve() || tr.TryReserve() {
		t.Fatal("capacity 1 must admit exactly one")
	}
	tr.SetCapacity(0) // unlimited
	if !tr.TryReserve() {
		t.Fatal("unlimited tracker refused")
	}
	tr.SetCapacity(1) // reservations held beyond the new capacity are kept
	if got := tr.InFlight(); got != 2 {
		t.Errorf("InFlight = %d, want 2", got)
	}
	if tr.TryReserve() {
		t.Error("over capacity must refuse")
	}
	tr.Release()
	tr.Release()
	if !tr.TryReserve() {
		t.Error("after releases must admit")
	}
}
