package controller

import "k8s.io/apimachinery/pkg/types"

// RevisionDeleted tells the controller that a Revision it made was deleted from
// its store by someone else (`kubectl delete revision`, `kn revision delete`), and
// makes the controller behave as Knative does: the revision is removed everywhere
// (backend, autoscaler, data plane; a Route that names it then reports it
// missing), and only if it was its Configuration's revision for the current
// generation is it made again, as a new revision with a fresh status. A deleted
// older revision stays deleted. It reports whether the controller had the
// revision.
func (c *Controller) RevisionDeleted(key types.NamespacedName) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.revs[key] == nil {
		return false
	}
	// deleteRevisionLocked marks its Configuration dirty: the next pass makes the
	// current generation's revision again if this was it (revision.Current finds
	// none), and nothing for an older one.
	c.deleteRevisionLocked(key)
	c.touchLocked(key) // its record goes from the Store
	c.persistLocked(false)
	c.kick()
	return true
}
