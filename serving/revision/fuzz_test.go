package revision

import (
	"strings"
	"testing"
)

// FuzzChildName checks ChildName's promises for any parent and suffix:
// unchanged when it fits, otherwise at most 63 characters, keeping a short
// suffix intact at exactly 63, and different parents of the same cut
// prefix still giving different names.
func FuzzChildName(f *testing.F) {
	f.Add("hello", "-00001")
	f.Add(strings.Repeat("a", 63), "-deployment")
	f.Add("p", strings.Repeat("s", 70))
	f.Add(strings.Repeat("x", 40), "-"+strings.Repeat("-", 40))
	f.Fuzz(func(t *testing.T, parent, suffix string) {
		got := ChildName(parent, suffix)
		if len(parent)+len(suffix) <= 63 {
			if got != parent+suffix {
				t.Fatalf("ChildName(%q, %q) = %q, want the plain concatenation", parent, suffix, got)
			}
			return
		}
		if len(got) > 63 {
			t.Fatalf("ChildName(%q, %q) = %q: %d characters", parent, suffix, got, len(got))
		}
		if len(suffix) < 31 {
			if len(got) != 63 || !strings.HasSuffix(got, suffix) || !strings.HasPrefix(got, parent[:31-len(suffix)]) {
				t.Fatalf("ChildName(%q, %q) = %q: want 63 characters, the parent's start and the suffix", parent, suffix, got)
			}
			if other := ChildName(parent+"z", suffix); other == got {
				t.Fatalf("ChildName(%q, %q) and ChildName(%q, %q) collide: %q", parent, suffix, parent+"z", suffix, got)
			}
		}
	})
}
