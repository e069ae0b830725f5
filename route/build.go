package route

// Splits returns the weighted revisions of one traffic name ("" for the
// default, or a tag) with the rollout applied: a latest-revision target whose
// configuration is being rolled out under that name is replaced by the
// rollout's revisions and their percents. 0% targets are left out; a
// revision reached twice is merged. ro may be nil (no rollout).
func (t Traffic) Splits(name string, ro *Rollout) []Split {
	var out []Split
	add := func(rev string, pct int) {
		if pct <= 0 {
			return
		}
		for i := range out {
			if out[i].RevisionName == rev {
				out[i].Percent += pct
				return
			}
		}
		out = append(out, Split{RevisionName: rev, Percent: pct})
	}
	for _, rt := range t.Groups[name] {
		if rt.LatestRevision {
			if c := ro.Find(name, rt.ConfigurationName); c != nil && len(c.Revisions) > 1 {
				for _, rv := range c.Revisions {
					add(rv.RevisionName, rv.Percent)
				}
				continue
			}
		}
		add(rt.RevisionName, int(rt.Percent))
	}
	return out
}

// Status returns Knative's status.traffic for the traffic with the rollout
// applied: each latest-revision entry under a rollout in progress (two or
// more revisions) becomes one entry per rollout revision with that revision's
// percent (all keeping LatestRevision); other entries are as in t.Targets.
// An entry whose percent is not the rollout's total (a 0% tag-only entry,
// whose tag group is at 100%) is left as it is, so the status percents still
// sum to 100. ro may be nil.
func (t Traffic) Status(ro *Rollout) []ResolvedTarget {
	out := make([]ResolvedTarget, 0, len(t.Targets))
	for _, rt := range t.Targets {
		if rt.LatestRevision {
			if c := ro.Find(rt.Tag, rt.ConfigurationName); c != nil && len(c.Revisions) > 1 && int64(c.Percent) == rt.Percent {
				for _, rv := range c.Revisions {
					e := rt
					e.RevisionName, e.Percent = rv.RevisionName, int64(rv.Percent)
					out = append(out, e)
				}
				continue
			}
		}
		out = append(out, rt)
	}
	return out
}

// TableRoute assembles a Route's entry for NewTable: the hosts of the
// default traffic and of each tag (Config.Hosts: external hosts unless
// cluster-local, plus the in-cluster names) with the splits of that traffic
// name under the rollout ro (nil for none). Errors are *HostError.
//
// This is the controller's path: Resolve each Route, Step its rollout,
// TableRoute it, then NewTable over all of them and TableHolder.Store.
func (c Config) TableRoute(r Route, t Traffic, ro *Rollout) (TableRoute, error) {
	hs, err := c.Hosts(r)
	if err != nil {
		return TableRoute{}, err
	}
	tr := TableRoute{Namespace: r.Namespace, Name: r.Name, Destinations: make([]Destination, 0, len(hs))}
	for _, h := range hs {
		splits := t.Splits(h.Tag, ro)
		if len(splits) == 0 {
			continue
		}
		hosts := make([]string, 0, len(h.External)+len(h.Local))
		hosts = append(hosts, h.External...)
		hosts = append(hosts, h.Local...)
		tr.Destinations = append(tr.Destinations, Destination{Tag: h.Tag, Hosts: hosts, Splits: splits})
	}
	return tr, nil
}

// TableOptions returns the options NewTable needs from this Config.
func (c Config) TableOptions() TableOptions {
	return TableOptions{TagHeaderRouting: c.TagHeaderRouting}
}
