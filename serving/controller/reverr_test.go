package controller_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/serving/controller"
	"github.com/servekit/servekit/serving/runtime"
	v1 "github.com/servekit/servekit/serving/v1"
)

// asyncBackend is a fakeBackend that also reports an asynchronous apply error per
// revision (runtime.RevisionErrorer), as store.Backend does in a cluster.
type asyncBackend struct {
	*fakeBackend
	emu  sync.Mutex
	errs map[types.NamespacedName]error
}

var _ runtime.RevisionErrorer = (*asyncBackend)(nil)

func (b *asyncBackend) RevisionError(key types.NamespacedName) error {
	b.emu.Lock()
	defer b.emu.Unlock()
	return b.errs[key]
}

func (b *asyncBackend) setErr(key types.NamespacedName, err error) {
	b.emu.Lock()
	defer b.emu.Unlock()
	b.errs[key] = err
}

// conditions maps each of the revision's conditions to "status reason: message".
func conditions(c *controller.Controller, name string) map[v1.ConditionType]string {
	for _, r := range c.Objects().Revisions {
		if r.Name == name {
			out := map[v1.ConditionType]string{}
			for _, cond := range r.Status.Conditions {
				out[cond.Type] = string(cond.Status) + " " + cond.Reason + ": " + cond.Message
			}
			return out
		}
	}
	return nil
}

// TestRevisionErrorReachesTheStatus: a backend's asynchronous apply error makes the
// revision fail with RuntimeError and the error as message, as a synchronous Apply
// error does; once the backend reports nil, the pods decide again.
func TestRevisionErrorReachesTheStatus(t *testing.T) {
	for _, tc := range []struct {
		name, image string
		// after are the conditions once the error cleared.
		after map[v1.ConditionType]string
	}{
		{"pods ready", "img:v1", map[v1.ConditionType]string{
			"ContainerHealthy": "True : ", "ResourcesAvailable": "True : ", "Ready": "True : ",
		}},
		{"pods not ready yet", "never-ready", map[v1.ConditionType]string{
			"ContainerHealthy": "Unknown Deploying: ", "ResourcesAvailable": "Unknown Deploying: ", "Ready": "Unknown Deploying: ",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &asyncBackend{fakeBackend: newFakeBackend(), errs: map[types.NamespacedName]error{}}
			key := types.NamespacedName{Namespace: "default", Name: "hello-00001"}
			const msg = `kube: create Deployment default/hello-00001-deployment: admission webhook "deny" denied the request`
			b.setErr(key, errors.New(msg))
			c, err := controller.New(controller.Options{Backend: b, ResyncInterval: 10 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			run(t, c)
			if err := c.Apply("hello.yaml", []v1.Object{testService("hello", tc.image)}); err != nil {
				t.Fatal(err)
			}
			revStatus := func() controller.RevisionStatus {
				st := c.Status()
				if len(st.Services) != 1 || len(st.Services[0].Revisions) != 1 {
					return controller.RevisionStatus{}
				}
				return st.Services[0].Revisions[0]
			}
			waitFor(t, "the revision failed with RuntimeError", func() bool { return revStatus().Reason == "RuntimeError" })
			if got := revStatus(); got.Ready || got.Message != msg {
				t.Errorf("revision status: ready %v, message %q; want not ready, %q", got.Ready, got.Message, msg)
			}
			want := map[v1.ConditionType]string{
				"ContainerHealthy":   "False RuntimeError: " + msg,
				"ResourcesAvailable": "False RuntimeError: " + msg,
				"Ready":              "False RuntimeError: " + msg,
			}
			if diff := cmp.Diff(want, without(conditions(c, "hello-00001"), "Active")); diff != "" {
				t.Errorf("conditions while failing (-want +got):\n%s", diff)
			}

			b.setErr(key, nil)
			waitFor(t, "the RuntimeError cleared", func() bool { return revStatus().Reason != "RuntimeError" })
			if diff := cmp.Diff(tc.after, without(conditions(c, "hello-00001"), "Active")); diff != "" {
				t.Errorf("conditions once cleared (-want +got):\n%s", diff)
			}
		})
	}
}

func without(m map[v1.ConditionType]string, typ v1.ConditionType) map[v1.ConditionType]string {
	delete(m, typ)
	return m
}
