package controller_test

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/serving/controller"
	v1 "github.com/servekit/servekit/serving/v1"
)

func revisionUID(c *controller.Controller, name string) types.UID {
	for _, r := range c.Objects().Revisions {
		if r.Name == name {
			return r.UID
		}
	}
	return ""
}

// TestRevisionDeleted: a revision deleted from the store by someone else is
// dropped with its backend's pods; an older one stays deleted, the current one is
// made again as a new revision (another UID).
func TestRevisionDeleted(t *testing.T) {
	b := newFakeBackend()
	c, err := controller.New(controller.Options{Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Apply("hello.yaml", []v1.Object{testService("hello", "example.com/one")}); err != nil {
		t.Fatal(err)
	}
	run(t, c)
	waitFor(t, "hello-00001", func() bool { return revisionUID(c, "hello-00001") != "" })
	if err := c.Apply("hello.yaml", []v1.Object{testService("hello", "example.com/two")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "hello-00002", func() bool { return revisionUID(c, "hello-00002") != "" })

	if !c.RevisionDeleted(types.NamespacedName{Namespace: "default", Name: "hello-00001"}) {
		t.Error("RevisionDeleted(hello-00001) = false, want true")
	}
	old := revisionUID(c, "hello-00002")
	if !c.RevisionDeleted(types.NamespacedName{Namespace: "default", Name: "hello-00002"}) {
		t.Error("RevisionDeleted(hello-00002) = false, want true")
	}
	waitFor(t, "hello-00002 made again", func() bool {
		uid := revisionUID(c, "hello-00002")
		return uid != "" && uid != old
	})
	if uid := revisionUID(c, "hello-00001"); uid != "" {
		t.Errorf("hello-00001 came back (%s)", uid)
	}
	b.mu.Lock()
	deleted := slices.Clone(b.deleted)
	b.mu.Unlock()
	if !slices.Contains(deleted, "hello-00001") || !slices.Contains(deleted, "hello-00002") {
		t.Errorf("backend deletes = %v, want both revisions", deleted)
	}
	if c.RevisionDeleted(types.NamespacedName{Namespace: "default", Name: "hello-00001"}) {
		t.Error("RevisionDeleted of a revision already gone = true, want false")
	}
}
