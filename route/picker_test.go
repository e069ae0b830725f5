package route

import (
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var shareCases = []struct {
	name   string
	splits []Split
}{
	{"100", []Split{{"a", 100}}},
	{"90/10", []Split{{"a", 90}, {"b", 10}}},
	{"33/33/34", []Split{{"a", 33}, {"b", 33}, {"c", 34}}},
	{"1/99", []Split{{"a", 1}, {"b", 99}}},
	{"50/25/25", []Split{{"a", 50}, {"b", 25}, {"c", 25}}},
	{"with a 0% split", []Split{{"a", 70}, {"z", 0}, {"b", 30}}},
	{"1% each", func() []Split {
		s := make([]Split, 100)
		for i := range s {
			s[i] = Split{"r" + strconv.Itoa(i), 1}
		}
		return s
	}()},
}

func wantCounts(splits []Split, times int) map[string]int {
	m := map[string]int{}
	for _, s := range splits {
		if s.Percent > 0 {
			m[s.RevisionName] += s.Percent * times
		}
	}
	return m
}

func TestPickerExactShares(t *testing.T) {
	for _, tc := range shareCases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewPicker(tc.splits)
			if err != nil {
				t.Fatalf("NewPicker() = %v", err)
			}
			seq := make([]string, 10_000)
			for i := range seq {
				seq[i] = p.Pick()
			}
			count := func(s []string) map[string]int {
				m := map[string]int{}
				for _, r := range s {
					m[r]++
				}
				return m
			}
			if diff := cmp.Diff(wantCounts(tc.splits, 1), count(seq[:100])); diff != "" {
				t.Errorf("first 100 picks (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantCounts(tc.splits, 100), count(seq)); diff != "" {
				t.Errorf("10,000 picks (-want +got):\n%s", diff)
			}
			// Any 100 consecutive picks: slide a window over the sequence.
			want := wantCounts(tc.splits, 1)
			win := count(seq[:100])
			for i := 100; i < len(seq); i++ {
				win[seq[i]]++
				win[seq[i-100]]--
				if win[seq[i-100]] == 0 {
					delete(win, seq[i-100])
				}
				if i%37 == 0 || i == len(seq)-1 {
					if diff := cmp.Diff(want, win); diff != "" {
						t.Fatalf("window ending at %d (-want +got):\n%s", i, diff)
					}
				}
			}
		})
	}
}

func TestPickerInterleaves(t *testing.T) {
	// Smooth weighted round-robin spreads the minority out: with 90/10 the
	// canary gets one pick in the middle of every 10.
	p, _ := NewPicker([]Split{{"a", 90}, {"b", 10}})
	got := ""
	for range 20 {
		got += p.Pick()
	}
	if want := "aaaaabaaaaaaaaabaaaa"; got != want {
		t.Errorf("90/10 picks = %s, want %s", got, want)
	}
	p, _ = NewPicker([]Split{{"a", 50}, {"b", 25}, {"c", 25}})
	got = ""
	for range 8 {
		got += p.Pick()
	}
	if want := "abcaabca"; got != want {
		t.Errorf("50/25/25 picks = %s, want %s", got, want)
	}
	if q, _ := NewPicker([]Split{{"a", 50}, {"b", 50}}); q.Period() != 2 {
		t.Errorf("Period(50/50) = %d, want 2 (gcd-reduced)", q.Period())
	}
	if q, _ := NewPicker([]Split{{"a", 33}, {"b", 33}, {"c", 34}}); q.Period() != 100 {
		t.Errorf("Period(33/33/34) = %d, want 100", q.Period())
	}
}

func TestPickerConcurrent(t *testing.T) {
	// 8 goroutines × 1250 picks = 10,000: the totals are exact because every
	// pick takes its own slot of the schedule.
	for _, tc := range shareCases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewPicker(tc.splits)
			if err != nil {
				t.Fatal(err)
			}
			const workers, each = 8, 1250
			counts := make([]map[string]int, workers)
			var wg sync.WaitGroup
			for w := range workers {
				counts[w] = map[string]int{}
				wg.Go(func() {
					for range each {
						counts[w][p.Pick()]++
					}
				})
			}
			wg.Wait()
			total := map[string]int{}
			for _, m := range counts {
				for k, v := range m {
					total[k] += v
				}
			}
			if diff := cmp.Diff(wantCounts(tc.splits, 100), total); diff != "" {
				t.Errorf("concurrent 10,000 picks (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPickKey(t *testing.T) {
	p, _ := NewPicker([]Split{{"a", 90}, {"b", 10}})
	// Sticky: the same key always gets the same revision.
	for i := range 100 {
		k := "session-" + strconv.Itoa(i)
		first := p.PickKey(k)
		for range 5 {
			if got := p.PickKey(k); got != first {
				t.Fatalf("PickKey(%q) = %q then %q", k, first, got)
			}
		}
	}
	// Proportional: over many distinct keys the shares are close to 90/10.
	n := map[string]int{}
	for i := range 100_000 {
		n[p.PickKey(fmt.Sprintf("user-%d", i))]++
	}
	if b := n["b"]; b < 9_000 || b > 11_000 {
		t.Errorf("PickKey shares = %v, want about 10%% b", n)
	}
	// Moving 1% from a to b moves about 1% of keys, all from a to b.
	q, _ := NewPicker([]Split{{"a", 89}, {"b", 11}})
	moved := 0
	for i := range 100_000 {
		k := fmt.Sprintf("user-%d", i)
		before, after := p.PickKey(k), q.PickKey(k)
		if before != after {
			if before != "a" || after != "b" {
				t.Fatalf("key %q moved %s -> %s", k, before, after)
			}
			moved++
		}
	}
	if moved < 500 || moved > 1_500 {
		t.Errorf("moved %d of 100,000 keys, want about 1,000", moved)
	}
}

func TestNewPickerErrors(t *testing.T) {
	tests := []struct {
		name   string
		splits []Split
		want   string
	}{
		{"empty", nil, "route: no splits"},
		{"sum 90", []Split{{"a", 90}}, "route: splits sum to 90, want 100"},
		{"negative", []Split{{"a", 110}, {"b", -10}}, "route: splits[0].percent: expected 0 <= 110 <= 100"},
		{"no name", []Split{{"", 100}}, "route: splits[0].revisionName: empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewPicker(tc.splits)
			if got := errString(err); got != tc.want {
				t.Errorf("NewPicker() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPickerMergesDuplicates(t *testing.T) {
	p, err := NewPicker([]Split{{"a", 40}, {"b", 20}, {"a", 40}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Split{{"a", 80}, {"b", 20}}, p.Splits()); diff != "" {
		t.Errorf("Splits (-want +got):\n%s", diff)
	}
	if p.Period() != 5 {
		t.Errorf("Period = %d, want 5", p.Period())
	}
}
