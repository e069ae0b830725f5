package controller

import (
	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/autoscaler"
	"github.com/servekit/servekit/route"
	"github.com/servekit/servekit/serving/gc"
	v1 "github.com/servekit/servekit/serving/v1"
)

// The setters below replace a part of the configuration Options gave while the
// controller runs (serving/config's Watcher calls them through serving/platform
// when a config map changes). Each takes effect at once or at the next reconcile,
// as Knative's controllers pick up a changed config map; none restarts a pod.

// SetAutoscalerConfig replaces config-autoscaler (with config-deployment's
// progress deadline, Config.ProgressDeadline). Every revision's autoscaling spec
// is resolved again from cfg and its annotations, and its decider uses it from its
// next tick, keeping its metric windows; new revisions, the progress deadline of
// revisions not yet ready and the validation of autoscaling annotations use cfg
// too (unless Options.Defaults set Defaults.Autoscaler).
func (c *Controller) SetAutoscalerConfig(cfg autoscaler.Config) {
	c.mu.Lock()
	c.asCfg = cfg // c.defaults.Autoscaler, unless the caller's, points here
	for key, st := range c.mu.state {
		rev := c.mu.revs[key]
		if rev == nil {
			continue
		}
		spec := c.autoscalingSpecLocked(key, rev)
		spec.Reachable = st.reachable
		if spec.Class != st.spec.Class {
			// A new pod-autoscaler-class applies to new revisions: a running
			// one keeps the autoscaler it started with.
			continue
		}
		st.spec = spec
		if st.applyErr == nil {
			if err := c.autoscaleLocked(st, false); err != nil {
				c.log.Error("revision: autoscaling", "revision", key.String(), "err", err)
			}
		}
	}
	c.resyncAllLocked() // progress deadlines, status
	c.mu.Unlock()
	c.kick()
}

// SetNetworkConfig replaces config-network, config-domain and config-features:
// routes' URLs and the hosts the ingress answers follow at the next reconcile, tag
// header routing at once.
func (c *Controller) SetNetworkConfig(cfg route.Config) {
	c.mu.Lock()
	c.netCfg = cfg
	c.resyncAllLocked() // every Route's hosts and table entry
	c.mu.Unlock()
	c.ingress.SetTagHeaderRouting(cfg.TagHeaderRouting)
	c.kick()
}

// SetGCConfig replaces config-gc; the next reconcile collects revisions by it.
func (c *Controller) SetGCConfig(cfg gc.Config) {
	c.mu.Lock()
	c.gcCfg = cfg
	c.resyncAllLocked()
	c.mu.Unlock()
	c.kick()
}

// SetDefaults replaces config-defaults. As with Knative's webhook, it applies to
// objects applied from now on: those already applied keep the defaults they got.
// A nil d.Autoscaler validates autoscaling annotations against the current
// config-autoscaler.
func (c *Controller) SetDefaults(d v1.Defaults) {
	c.mu.Lock()
	if d.Autoscaler == nil {
		d.Autoscaler = &c.asCfg
	}
	c.defaults = d
	c.mu.Unlock()
}

// SetSourceError lists source (e.g. a config file) in Status().Errors with err, or,
// with a nil err, takes it off the list. Unlike Reject it logs nothing and is not
// about manifests: the caller says what the error keeps (e.g. a config map's last
// good values).
func (c *Controller) SetSourceError(source string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		delete(c.mu.invalid, source)
		return
	}
	c.mu.invalid[source] = err.Error()
}

// autoscalingSpecLocked resolves rev's autoscaling spec from the current
// config-autoscaler and its annotations.
func (c *Controller) autoscalingSpecLocked(key types.NamespacedName, rev *v1.Revision) autoscaler.Spec {
	cc := int64(0)
	if rev.Spec.ContainerConcurrency != nil {
		cc = *rev.Spec.ContainerConcurrency
	}
	spec, err := autoscaler.SpecFromAnnotations(c.asCfg, rev.Annotations, cc)
	if err != nil {
		// Validation accepted the annotations; a config/annotation mismatch
		// (e.g. max-scale above max-scale-limit) falls back to the config.
		c.log.Error("revision: autoscaling annotations", "revision", key.String(), "err", err)
		spec, _ = autoscaler.SpecFromAnnotations(c.asCfg, nil, cc)
	}
	return spec
}

// RetryFailedRevisions asks the backend again to run each revision it refused
// (e.g. an image the local runtime's image map did not have), as the kubelet keeps
// retrying an image pull: one it now accepts starts at its initial scale and
// recovers its conditions. Revisions the backend runs are not touched. Call it
// after a change that may let the backend run them (serving/platform does after
// the image map changed).
func (c *Controller) RetryFailedRevisions() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for key, st := range c.mu.state {
		rev := c.mu.revs[key]
		if rev == nil || st.applyErr == nil {
			continue
		}
		if err := c.backend.Apply(rev); err != nil {
			st.applyErr = err
			continue
		}
		if err := c.autoscaleLocked(st, true); err != nil {
			st.applyErr = err
			continue
		}
		st.applyErr = nil
		c.mu.dirty.revs.add(key)
		c.log.Info("revision: the backend runs it now", "revision", key.String(), "initialScale", st.spec.InitialScale)
	}
	c.kick()
}
