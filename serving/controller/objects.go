package controller

import (
	"cmp"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/servekit/servekit/serving/v1"
)

// Objects is a snapshot of every object a Controller holds, with its current status:
// the applied Services, Configurations and Routes, and those the controller made (a
// Service's Configuration and Route, every Configuration's Revisions). Each list is
// sorted by namespace and name. A Kubernetes store reads it to write the children and
// the status back to the API server.
type Objects struct {
	Services       []*v1.Service
	Configurations []*v1.Configuration
	Routes         []*v1.Route
	Revisions      []*v1.Revision
}

// Objects returns deep copies of every object the controller holds. Metadata the
// controller stamps (UID, generation, creation time) is its own, not an API server's;
// owner references point at those UIDs. Changing the copies changes nothing.
func (c *Controller) Objects() Objects {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := Objects{
		Services:       make([]*v1.Service, 0, len(c.mu.services)),
		Configurations: make([]*v1.Configuration, 0, len(c.mu.configs)),
		Routes:         make([]*v1.Route, 0, len(c.mu.routes)),
		Revisions:      make([]*v1.Revision, 0, len(c.mu.revs)),
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
	return out
}

func sortObjects[T metav1.Object](objs []T) {
	slices.SortFunc(objs, func(a, b T) int {
		return cmp.Or(cmp.Compare(a.GetNamespace(), b.GetNamespace()), cmp.Compare(a.GetName(), b.GetName()))
	})
}
