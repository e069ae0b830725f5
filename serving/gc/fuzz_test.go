package gc

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzConfigFromMap checks that ConfigFromMap never panics, that whatever
// it accepts satisfies the Config invariants, and that Map writes it back
// to data that parses to the same Config.
func FuzzConfigFromMap(f *testing.F) {
	f.Add("48h", "15h", "20", "1000")
	f.Add("disabled", "DISABLED", "0", "disabled")
	f.Add("", "", "", "")
	f.Add("-1", "-1ns", "-1", "-1")
	f.Add("1.5h", "0", "99999999999999999999", "4294967296")
	f.Add("9223372036854775807ns", "2562047h47m16.854775807s", "5", "4")
	f.Fuzz(func(t *testing.T, create, active, minKeep, maxKeep string) {
		data := map[string]string{
			RetainSinceCreateTimeKey:     create,
			RetainSinceLastActiveTimeKey: active,
			MinNonActiveRevisionsKey:     minKeep,
			MaxNonActiveRevisionsKey:     maxKeep,
		}
		c, err := ConfigFromMap(data)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("ConfigFromMap(%q): empty error", data)
			}
			return
		}
		if c.RetainSinceCreateTime < 0 && c.RetainSinceCreateTime != Disabled {
			t.Errorf("RetainSinceCreateTime = %v from %q", c.RetainSinceCreateTime, create)
		}
		if c.RetainSinceLastActiveTime < 0 && c.RetainSinceLastActiveTime != Disabled {
			t.Errorf("RetainSinceLastActiveTime = %v from %q", c.RetainSinceLastActiveTime, active)
		}
		if c.MinNonActiveRevisions < 0 {
			t.Errorf("MinNonActiveRevisions = %d from %q", c.MinNonActiveRevisions, minKeep)
		}
		if c.MaxNonActiveRevisions != Disabled && (c.MaxNonActiveRevisions < c.MinNonActiveRevisions) {
			t.Errorf("MaxNonActiveRevisions = %d < min %d", c.MaxNonActiveRevisions, c.MinNonActiveRevisions)
		}
		back, err := ConfigFromMap(c.Map())
		if err != nil {
			t.Fatalf("ConfigFromMap(Map()) of %+v: %v", c, err)
		}
		if diff := cmp.Diff(c, back); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	})
}
