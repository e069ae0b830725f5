package store_test

import (
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/servekit/servekit/serving/runtime"
	"github.com/servekit/servekit/serving/runtime/kube/store"
	v1 "github.com/servekit/servekit/serving/v1"
)

// BenchmarkSync measures one Sync (run every SyncInterval) over 100 Services and
// their children: a snapshot of the controller, and every object queued.
func BenchmarkSync(b *testing.B) {
	var objs runtime.Objects
	for i := range 100 {
		m := metav1.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("svc-%d", i)}
		objs.Services = append(objs.Services, &v1.Service{ObjectMeta: m})
		objs.Configurations = append(objs.Configurations, &v1.Configuration{ObjectMeta: m})
		objs.Routes = append(objs.Routes, &v1.Route{ObjectMeta: m})
		rm := m
		rm.Name += "-00001"
		objs.Revisions = append(objs.Revisions, &v1.Revision{ObjectMeta: rm})
	}
	s, err := store.New(store.Options{Client: newFakeDynamic(b), Controller: &fakeController{objects: objs}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s.Sync()
	}
}
