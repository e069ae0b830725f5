package revision

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/serving"
	v1 "github.com/servekit/servekit/serving/v1"
)

// stamped returns the Revision cfg stamps at generation gen.
func stamped(t *testing.T, cfg *v1.Configuration, gen int64) *v1.Revision {
	t.Helper()
	c := cfg.DeepCopy()
	c.Generation = gen
	r, err := Snapshot(c, now)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCurrent(t *testing.T) {
	base := seedConfiguration()
	base.Generation = 2

	gen1 := stamped(t, base, 1)
	gen2 := stamped(t, base, 2)
	oldScheme := gen2.DeepCopy() // a Revision for generation 2 named by an older scheme
	oldScheme.Name = "helloworld-go-abcde"
	otherNS := gen2.DeepCopy()
	otherNS.Namespace = "prod"
	otherCfg := gen2.DeepCopy()
	otherCfg.Name = "other-00002"
	otherCfg.Labels[serving.ConfigurationLabelKey] = "other"

	byoCfg := base.DeepCopy()
	byoCfg.Spec.Template.Name = "helloworld-go-v2"
	byo := stamped(t, byoCfg, 2)
	byoOtherNS := byo.DeepCopy()
	byoOtherNS.Namespace = "prod"

	tests := []struct {
		name    string
		cfg     *v1.Configuration
		revs    []*v1.Revision
		want    *v1.Revision
		wantErr bool
	}{
		{name: "none yet", cfg: base, revs: []*v1.Revision{gen1}},
		{name: "found by labels", cfg: base, revs: []*v1.Revision{gen1, nil, gen2}, want: gen2},
		{name: "any name with the right labels", cfg: base, revs: []*v1.Revision{gen1, oldScheme}, want: oldScheme},
		{name: "several: the smallest name", cfg: base, revs: []*v1.Revision{oldScheme, gen2}, want: gen2},
		{name: "other namespaces and configurations are ignored", cfg: base, revs: []*v1.Revision{otherNS, otherCfg}},
		{name: "bring your own name: not there yet", cfg: byoCfg, revs: []*v1.Revision{gen1, gen2, byoOtherNS}},
		{name: "bring your own name: found", cfg: byoCfg, revs: []*v1.Revision{gen1, byo}, want: byo},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Current(tc.cfg, tc.revs)
			if err != nil {
				t.Fatalf("Current: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Current (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckName(t *testing.T) {
	cfg := seedConfiguration()
	cfg.Generation = 3
	cfg.Spec.Template.Name = "helloworld-go-v2"

	same := stamped(t, cfg, 3)

	revert := stamped(t, cfg, 1) // same spec, older generation: "git revert"
	revert.Labels["added-by-user"] = "yes"

	changed := stamped(t, cfg, 1)
	changed.Spec.Containers[0].Image = "example.com/other:v1"

	foreign := stamped(t, cfg, 3)
	foreign.OwnerReferences[0].UID = types.UID("another-configuration")

	uncontrolled := stamped(t, cfg, 3)
	uncontrolled.OwnerReferences = []metav1.OwnerReference{{Kind: "Configuration", Name: "helloworld-go", UID: "cfg-uid"}}

	tests := []struct {
		name     string
		cfg      *v1.Configuration
		existing *v1.Revision
		taken    bool
	}{
		{name: "name is free", cfg: cfg, existing: nil},
		{name: "no bring-your-own name", cfg: seedConfiguration(), existing: foreign},
		{name: "same generation", cfg: cfg, existing: same},
		{name: "other generation, same spec", cfg: cfg, existing: revert},
		{name: "other generation, other spec", cfg: cfg, existing: changed, taken: true},
		{name: "controlled by another configuration", cfg: cfg, existing: foreign, taken: true},
		{name: "owned but not as controller", cfg: cfg, existing: uncontrolled, taken: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckName(tc.cfg, tc.existing)
			if got := errors.Is(err, ErrNameTaken); got != tc.taken {
				t.Fatalf("CheckName = %v, want taken=%v", err, tc.taken)
			}
			if tc.taken {
				const want = `revisions.serving.knative.dev "helloworld-go-v2" already exists`
				if err.Error() != want {
					t.Errorf("CheckName error = %q, want %q", err, want)
				}
				// Current reports the same conflict.
				if _, cerr := Current(tc.cfg, []*v1.Revision{tc.existing}); !errors.Is(cerr, ErrNameTaken) {
					t.Errorf("Current = %v, want ErrNameTaken", cerr)
				}
			} else if err != nil {
				t.Errorf("CheckName = %v, want nil", err)
			}
		})
	}
}
