package route

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"
)

// Rollout is the state of the gradual rollouts of one Route: for every
// (tag, configuration) whose latest revision receives traffic, the revisions
// that currently share that traffic. Its JSON form is Knative's
// networking.internal.knative.dev/rollout annotation, so the state can be
// persisted anywhere a string fits (knative.dev/serving/pkg/reconciler/route/traffic/rollout.go).
//
// The algorithm is Knative's, step for step: when a new latest revision
// appears it gets 1% at once; when the first 1% is live (ObserveReady) the
// step size and interval are computed from how long that took and the
// rollout duration; each Step at or after the next step time moves one step
// of traffic from the older revisions, second newest first, to the newest.
type Rollout struct {
	// Configurations are sorted by tag, then configuration name.
	Configurations []ConfigurationRollout `json:"configurations,omitempty"`
}

// ConfigurationRollout is the rollout of one configuration under one tag.
type ConfigurationRollout struct {
	// ConfigurationName is the configuration being rolled out.
	ConfigurationName string `json:"configurationName"`
	// Tag is the traffic name the rollout is under; empty for the default
	// traffic.
	Tag string `json:"tag,omitempty"`
	// Percent is the configuration's share of the tag's traffic; the
	// revisions' percents sum to it.
	Percent int `json:"percent"`
	// Revisions, oldest first; the last is the newest. One revision means no
	// rollout is in progress.
	Revisions []RevisionRollout `json:"revisions,omitempty"`
	// StepParams time the rollout; zero when none is in progress.
	StepParams RolloutParams `json:"stepParams"`
}

// RevisionRollout is one revision's share in a rollout.
type RevisionRollout struct {
	// RevisionName is the revision's name.
	RevisionName string `json:"revisionName"`
	// Percent is a share of the tag's whole traffic, not of the
	// configuration's.
	Percent int `json:"percent"`
}

// RolloutParams are the timing and size of a rollout's steps. Times are
// Unix nanoseconds; zero means unset.
type RolloutParams struct {
	// StartTime is when the new revision got its first 1%.
	StartTime int64 `json:"starttime,omitempty"`
	// NextStepTime is when the next step is due.
	NextStepTime int64 `json:"nextStepTime,omitempty"`
	// StepDuration is the time between steps, in nanoseconds; zero until
	// ObserveReady has run.
	StepDuration int64 `json:"stepDuration,omitempty"`
	// StepSize is how many percent move per step; zero until ObserveReady
	// has run.
	StepSize int `json:"stepSize,omitempty"`
}

// RolloutFrom builds the rollout a Traffic asks for right now: one entry per
// (tag, configuration) whose latest-revision target has a share > 0 in that
// tag's group, with the current latest ready revision holding the whole
// share and no step parameters. (For the default traffic the share is the
// spec percent; a tag's own group is at 100%.)
func RolloutFrom(t Traffic) *Rollout {
	ro := &Rollout{}
	for tag, g := range t.Groups {
		for _, rt := range g {
			if !rt.LatestRevision || rt.Percent <= 0 || rt.ConfigurationName == "" {
				continue
			}
			ro.Configurations = append(ro.Configurations, ConfigurationRollout{
				ConfigurationName: rt.ConfigurationName,
				Tag:               tag,
				Percent:           int(rt.Percent),
				Revisions:         []RevisionRollout{{RevisionName: rt.RevisionName, Percent: int(rt.Percent)}},
			})
		}
	}
	sortRollout(ro)
	return ro
}

// ParseRollout decodes the JSON form of a Rollout and checks it with Valid.
// Knative discards state that fails either (the caller should then pass a
// nil previous rollout to Step); the error says why.
func ParseRollout(s string) (*Rollout, error) {
	ro := &Rollout{}
	if err := json.Unmarshal([]byte(s), ro); err != nil {
		return nil, fmt.Errorf("route: rollout state: %w", err)
	}
	if !ro.Valid() {
		return nil, errors.New("route: rollout state is inconsistent")
	}
	return ro, nil
}

// JSON encodes the rollout as Knative's annotation value.
func (r *Rollout) JSON() string {
	b, err := json.Marshal(r)
	if err != nil {
		// A Rollout holds only strings and integers.
		panic("route: marshal rollout: " + err.Error())
	}
	return string(b)
}

// Valid reports whether the state is consistent: no percent over 100, a
// step size within [0, Percent], and revisions summing to Percent.
func (r *Rollout) Valid() bool {
	for _, c := range r.Configurations {
		if c.Percent > 100 {
			return false
		}
		if c.StepParams.StepSize < 0 || c.StepParams.StepSize > c.Percent {
			return false
		}
		tot := 0
		for _, rv := range c.Revisions {
			if rv.Percent < 0 || rv.Percent > 100 {
				return false
			}
			tot += rv.Percent
		}
		if tot != c.Percent {
			return false
		}
	}
	return true
}

// Done reports whether no rollout is in progress (every configuration has
// at most one revision).
func (r *Rollout) Done() bool {
	if r == nil {
		return true
	}
	for _, c := range r.Configurations {
		if len(c.Revisions) > 1 {
			return false
		}
	}
	return true
}

// Find returns the rollout of configuration cfg under tag, or nil. A nil
// Rollout has none.
func (r *Rollout) Find(tag, cfg string) *ConfigurationRollout {
	if r == nil {
		return nil
	}
	// A linear scan: a route has a handful of configurations, and state
	// read back from JSON need not be sorted.
	for i := range r.Configurations {
		if c := &r.Configurations[i]; c.Tag == tag && c.ConfigurationName == cfg {
			return c
		}
	}
	return nil
}

// ObserveReady records that the traffic of the last Step is live: every
// configuration whose rollout has started but has no step parameters yet
// gets them, computed from how long the first 1% took (now - StartTime,
// rounded up to whole seconds, at least 1 s) and the rollout duration.
// Knative calls it when the Ingress carrying the first 1% becomes ready.
func (r *Rollout) ObserveReady(now time.Time, duration time.Duration) {
	nowTS := now.UnixNano()
	for i := range r.Configurations {
		c := &r.Configurations[i]
		if c.StepParams.StepDuration == 0 && c.StepParams.StartTime > 0 {
			minStep := math.Max(1, math.Ceil(time.Duration(nowTS-c.StepParams.StartTime).Seconds()))
			c.computeProperties(float64(nowTS), minStep, duration.Seconds())
		}
	}
}

// computeProperties sets the step size, step duration and next step time
// (all as floats in seconds, like Knative): the remaining duration after the
// first step, divided into at most Percent-1 steps of at least minStep
// seconds.
func (c *ConfigurationRollout) computeProperties(nowTS, minStep, duration float64) {
	duration = math.Max(1, duration-minStep)
	numSteps := math.Max(1, duration/minStep)
	rem := float64(c.Percent - 1)
	if rem < numSteps {
		numSteps = rem
	}
	// Knative never gets here with Percent <= 1 (a 1% config is not rolled
	// out); guard against hand-written state so the division stays finite.
	if numSteps < 1 {
		numSteps = 1
	}
	stepSize := math.Round(rem / numSteps)
	if stepSize < 1 {
		stepSize = 1
	}
	stepDur := duration / numSteps * float64(time.Second)
	c.StepParams.StepDuration = int64(stepDur)
	c.StepParams.StepSize = int(stepSize)
	c.StepParams.NextStepTime = int64(nowTS + stepDur)
}

// Step merges the rollout the traffic asks for now (r, from RolloutFrom)
// with the previous effective rollout (prev, nil if none) and returns the
// new effective rollout and when the next step is due (the zero Time if no
// step is scheduled). Neither r nor prev is modified.
//
// Per tag: a tag new since prev is taken as-is. Otherwise configurations are
// matched by name: a new one is kept if it gets traffic, a removed one is
// dropped, one with 0% is dropped, one with exactly 1% is taken as-is (no
// rollout for a 1% canary), and for the rest the previous state is stepped:
// a changed percent is absorbed (an increase goes to the newest revision, a
// decrease comes off the oldest first), a new latest revision starts a
// rollout with 1% taken from the newest previous revision that still has
// traffic, and an ongoing rollout moves one step if it is due.
func (r *Rollout) Step(prev *Rollout, now time.Time) (*Rollout, time.Time) {
	cur := r.clone()
	if prev == nil || len(prev.Configurations) == 0 {
		return cur, time.Time{}
	}
	prev = prev.clone()
	nowTS := now.UnixNano()

	curByTag, prevByTag := byTag(cur), byTag(prev)
	ret := &Rollout{}
	next := int64(math.MaxInt64)
	for tag, ccfgs := range curByTag {
		pcfgs, ok := prevByTag[tag]
		if !ok {
			ret.Configurations = append(ret.Configurations, *ccfgs[0])
			continue
		}
		for i, j := 0, 0; i < len(ccfgs); {
			switch {
			case j >= len(pcfgs):
				ret.Configurations = append(ret.Configurations, *ccfgs[i])
				i++
			case ccfgs[i].ConfigurationName == pcfgs[j].ConfigurationName:
				switch p := ccfgs[i].Percent; {
				case p > 1:
					sc := stepConfig(ccfgs[i], pcfgs[j], nowTS)
					ret.Configurations = append(ret.Configurations, sc)
					if nst := sc.StepParams.NextStepTime; nst > 0 && nst < next {
						next = nst
					}
				case p == 1:
					ret.Configurations = append(ret.Configurations, *ccfgs[i])
				}
				i++
				j++
			case ccfgs[i].ConfigurationName < pcfgs[j].ConfigurationName:
				if ccfgs[i].Percent != 0 {
					ret.Configurations = append(ret.Configurations, *ccfgs[i])
				}
				i++
			default:
				j++
			}
		}
	}
	sortRollout(ret)
	if next == math.MaxInt64 {
		return ret, time.Time{}
	}
	return ret, time.Unix(0, next)
}

func byTag(r *Rollout) map[string][]*ConfigurationRollout {
	m := map[string][]*ConfigurationRollout{}
	for i := range r.Configurations {
		c := &r.Configurations[i]
		m[c.Tag] = append(m[c.Tag], c)
	}
	return m
}

func (r *Rollout) clone() *Rollout {
	if r == nil {
		return &Rollout{}
	}
	out := &Rollout{Configurations: make([]ConfigurationRollout, len(r.Configurations))}
	for i, c := range r.Configurations {
		c.Revisions = append([]RevisionRollout(nil), c.Revisions...)
		out.Configurations[i] = c
	}
	sortRollout(out)
	return out
}

// adjustPercentage makes prev's revisions sum to goal: 0 clears them, an
// increase goes to the newest revision, a decrease comes off the oldest
// revisions first (a revision brought to 0 or below is removed and the rest
// carried on).
func adjustPercentage(goal int, prev *ConfigurationRollout) {
	switch diff := goal - prev.Percent; {
	case goal == 0:
		prev.Revisions = nil
	case diff > 0:
		prev.Revisions[len(prev.Revisions)-1].Percent += diff
	case diff < 0:
		diff = -diff
		i := 0
		for diff > 0 && i < len(prev.Revisions) {
			if prev.Revisions[i].Percent > diff {
				prev.Revisions[i].Percent -= diff
				break
			}
			diff -= prev.Revisions[i].Percent
			i++
		}
		prev.Revisions = prev.Revisions[i:]
	}
}

// stepConfig computes one configuration's new state from the goal (one
// revision, the current latest ready) and the previous state.
func stepConfig(goal, prev *ConfigurationRollout, nowTS int64) ConfigurationRollout {
	ret := ConfigurationRollout{
		ConfigurationName: goal.ConfigurationName,
		Tag:               goal.Tag,
		Percent:           goal.Percent,
		Revisions:         goal.Revisions,
	}
	if len(goal.Revisions) == 0 {
		// Not produced by RolloutFrom; nothing to roll out to.
		return ret
	}
	if len(prev.Revisions) > 0 {
		adjustPercentage(goal.Percent, prev)
	}
	pc := len(prev.Revisions)
	if pc == 0 || goal.Revisions[0].RevisionName == prev.Revisions[pc-1].RevisionName {
		// No new revision. Only an in-flight rollout (≥ 2 revisions) has
		// anything to do, and only once ObserveReady set a step size.
		if pc > 1 {
			ret.Revisions = prev.Revisions
			ret.StepParams = prev.StepParams
			if ret.StepParams.StepSize > 0 {
				stepRevisions(&ret, nowTS)
			}
		}
		return ret
	}
	// A new revision: start a rollout. The old timing is dropped; the
	// newest previous revision with traffic gives up 1%.
	ret.StepParams = RolloutParams{StartTime: nowTS}
	for i := pc - 1; i >= 0; i-- {
		if prev.Revisions[i].Percent > 0 {
			prev.Revisions[i].Percent--
			break
		}
	}
	out := make([]RevisionRollout, 0, pc+1)
	for _, rv := range prev.Revisions {
		if rv.Percent != 0 {
			out = append(out, rv)
		}
	}
	newest := goal.Revisions[0]
	newest.Percent = 1
	ret.Revisions = append(out, newest)
	return ret
}

// stepRevisions moves StepSize percent to the newest revision, taking it
// from the second newest first and walking towards the oldest; emptied
// revisions are removed. The newest is capped at the configuration's
// percent. When one revision is left the rollout is over and the step
// parameters are cleared.
func stepRevisions(goal *ConfigurationRollout, nowTS int64) {
	if nowTS < goal.StepParams.NextStepTime || len(goal.Revisions) < 2 {
		return
	}
	n := len(goal.Revisions)
	remaining := goal.StepParams.StepSize
	write, read := n-1, n-2
	for remaining > 0 && read >= 0 {
		if goal.Revisions[read].Percent > remaining {
			goal.Revisions[read].Percent -= remaining
			break
		}
		remaining -= goal.Revisions[read].Percent
		write--
		read--
	}
	goal.Revisions[write] = goal.Revisions[n-1]
	goal.Revisions[write].Percent += goal.StepParams.StepSize
	if goal.Revisions[write].Percent > goal.Percent {
		goal.Revisions[write].Percent = goal.Percent
	}
	goal.Revisions = goal.Revisions[:write+1]
	if len(goal.Revisions) > 1 {
		goal.StepParams.NextStepTime = nowTS + goal.StepParams.StepDuration
	} else {
		goal.StepParams = RolloutParams{}
	}
}

func sortRollout(r *Rollout) {
	sort.SliceStable(r.Configurations, func(i, j int) bool {
		a, b := &r.Configurations[i], &r.Configurations[j]
		if a.Tag != b.Tag {
			return a.Tag < b.Tag
		}
		return a.ConfigurationName < b.ConfigurationName
	})
}

// Advance runs the rollout part of one route reconcile (Knative's rollout.go,
// steps 2-5) and returns the effective rollout and when to reconcile again
// (zero: not on a timer).
//
//   - cur is RolloutFrom(traffic), prev the effective rollout of the last
//     reconcile (nil if none, or if ParseRollout rejected the stored
//     state).
//   - duration is the effective rollout duration (Config.RolloutDurationFor);
//     with duration <= 0 traffic switches at once and cur is returned.
//   - applied says that prev's traffic is live on the data path (Knative:
//     the Ingress is ready while the Route is not yet); that is when the
//     step timer of a just-started rollout is set (ObserveReady).
func Advance(cur, prev *Rollout, duration time.Duration, applied bool, now time.Time) (*Rollout, time.Time) {
	if duration <= 0 {
		return cur.clone(), time.Time{}
	}
	if prev != nil && applied {
		prev = prev.clone()
		prev.ObserveReady(now, duration)
	}
	return cur.Step(prev, now)
}
