package controller

import (
	"cmp"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/servekit/servekit/serving/runtime"
	v1 "github.com/servekit/servekit/serving/v1"
	"github.com/servekit/servekit/serving/v1beta1"
)

// Objects returns deep copies of every object the controller holds (see
// runtime.Objects). Metadata the controller stamps (UID, generation, creation time)
// is its own, not an API server's, except that an applied object keeps the UID it
// came with (from an API server, the API server's); owner references point at
// those UIDs. Changing the copies changes nothing.
func (c *Controller) Objects() runtime.Objects {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := runtime.Objects{
		Services:       make([]*v1.Service, 0, len(c.mu.services)),
		Configurations: make([]*v1.Configuration, 0, len(c.mu.configs)),
		Routes:         make([]*v1.Route, 0, len(c.mu.routes)),
		Revisions:      make([]*v1.Revision, 0, len(c.mu.revs)),
		DomainMappings: make([]*v1beta1.DomainMapping, 0, len(c.mu.domains)),
	}
	for _, o := range c.mu.services {
		out.Services = append(out.Services, o.DeepCopy())
	}
	for _, o := range c.mu.configs {
		out.Configurations = append(out.Configurations, o.DeepCopy())
	}
	for _, o := range c.mu.routes {
		out.Routes = append(out.Routes, o.DeepCopy())
	}
	for _, o := range c.mu.revs {
		out.Revisions = append(out.Revisions, o.DeepCopy())
	}
	sortObjects(out.Services)
	sortObjects(out.Configurations)
	sortObjects(out.Routes)
	sortObjects(out.Revisions)
	for _, o := range c.mu.domains {
		out.DomainMappings = append(out.DomainMappings, o.DeepCopy())
	}
	sortObjects(out.DomainMappings)
	return out
}

func sortObjects[T metav1.Object](objs []T) {
	slices.SortFunc(objs, func(a, b T) int {
		return cmp.Or(cmp.Compare(a.GetNamespace(), b.GetNamespace()), cmp.Compare(a.GetName(), b.GetName()))
	})
}
