package gc

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Disabled is the value of a Config duration or of MaxNonActiveRevisions
// that switches that check off. In the config-gc ConfigMap it is written as
// the string "disabled".
const Disabled = -1

// The config-gc ConfigMap keys.
const (
	RetainSinceCreateTimeKey     = "retain-since-create-time"
	RetainSinceLastActiveTimeKey = "retain-since-last-active-time"
	MinNonActiveRevisionsKey     = "min-non-active-revisions"
	MaxNonActiveRevisionsKey     = "max-non-active-revisions"
)

const disabledValue = "disabled"

// Config is the revision garbage-collection policy (Knative's config-gc).
//
// The zero Config keeps nothing: every non-active Revision is stale at once
// and none is retained by count. Start from DefaultConfig or ConfigFromMap.
type Config struct {
	// RetainSinceCreateTime keeps a Revision younger than this (measured
	// from its creation timestamp). Disabled turns the check off; zero
	// means age never protects a Revision.
	RetainSinceCreateTime time.Duration
	// RetainSinceLastActiveTime keeps a Revision whose routing state changed
	// more recently than this (the serving.knative.dev/routingStateModified
	// annotation, or the creation timestamp without it). Disabled turns the
	// check off; zero means recent activity never protects a Revision.
	RetainSinceLastActiveTime time.Duration
	// MinNonActiveRevisions is how many non-active Revisions are always
	// kept, stale or not. Zero keeps none.
	MinNonActiveRevisions int64
	// MaxNonActiveRevisions caps the non-active Revisions that are kept
	// because they are not stale yet: beyond it the oldest are deleted.
	// Disabled means no cap; zero keeps no non-stale non-active Revision
	// beyond MinNonActiveRevisions (which must then be zero too).
	MaxNonActiveRevisions int64
}

// DefaultConfig returns Knative's defaults: retain 48h since creation and
// 15h since last active, keep at least 20 and at most 1000 non-active
// Revisions.
func DefaultConfig() Config {
	return Config{
		RetainSinceCreateTime:     48 * time.Hour,
		RetainSinceLastActiveTime: 15 * time.Hour,
		MinNonActiveRevisions:     20,
		MaxNonActiveRevisions:     1000,
	}
}

// ConfigFromMap parses the data of a config-gc ConfigMap. Missing or empty
// keys keep DefaultConfig's value; unknown keys (such as "_example") are
// ignored. The durations take Go syntax ("48h", "90m") or "disabled" (any
// case); min-non-active-revisions is a non-negative integer;
// max-non-active-revisions is an integer in [0, 4294967295] or "disabled",
// and must not be below min-non-active-revisions. Like Knative, "-1" is not
// accepted for "disabled".
//
// Every error names the key and the bad value.
func ConfigFromMap(data map[string]string) (Config, error) {
	c := DefaultConfig()
	var err error
	if c.RetainSinceCreateTime, err = parseDuration(data, RetainSinceCreateTimeKey, c.RetainSinceCreateTime); err != nil {
		return Config{}, err
	}
	if c.RetainSinceLastActiveTime, err = parseDuration(data, RetainSinceLastActiveTimeKey, c.RetainSinceLastActiveTime); err != nil {
		return Config{}, err
	}
	if v := data[MinNonActiveRevisionsKey]; v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return Config{}, fmt.Errorf("gc: %s: invalid value %q: must be a non-negative integer", MinNonActiveRevisionsKey, v)
		}
		c.MinNonActiveRevisions = n
	}
	if v := data[MaxNonActiveRevisionsKey]; v != "" {
		if strings.EqualFold(v, disabledValue) {
			c.MaxNonActiveRevisions = Disabled
		} else {
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return Config{}, fmt.Errorf("gc: %s: invalid value %q: must be an integer in [0, 4294967295] or %q", MaxNonActiveRevisionsKey, v, disabledValue)
			}
			c.MaxNonActiveRevisions = int64(n)
		}
	}
	if c.MaxNonActiveRevisions != Disabled && c.MinNonActiveRevisions > c.MaxNonActiveRevisions {
		return Config{}, fmt.Errorf("gc: %s (%d) must be <= %s (%d)",
			MinNonActiveRevisionsKey, c.MinNonActiveRevisions, MaxNonActiveRevisionsKey, c.MaxNonActiveRevisions)
	}
	return c, nil
}

func parseDuration(data map[string]string, key string, def time.Duration) (time.Duration, error) {
	v := data[key]
	switch {
	case v == "":
		return def, nil
	case strings.EqualFold(v, disabledValue):
		return Disabled, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("gc: %s: invalid value %q: %w", key, v, err)
	}
	if d < 0 {
		return 0, fmt.Errorf("gc: %s: invalid value %q: must be non-negative or %q", key, v, disabledValue)
	}
	return d, nil
}

// Map returns c as config-gc ConfigMap data that ConfigFromMap parses back
// to c. Disabled values are written as "disabled".
func (c Config) Map() map[string]string {
	dur := func(d time.Duration) string {
		if d == Disabled {
			return disabledValue
		}
		return d.String()
	}
	maxRevs := disabledValue
	if c.MaxNonActiveRevisions != Disabled {
		maxRevs = strconv.FormatInt(c.MaxNonActiveRevisions, 10)
	}
	return map[string]string{
		RetainSinceCreateTimeKey:     dur(c.RetainSinceCreateTime),
		RetainSinceLastActiveTimeKey: dur(c.RetainSinceLastActiveTime),
		MinNonActiveRevisionsKey:     strconv.FormatInt(c.MinNonActiveRevisions, 10),
		MaxNonActiveRevisionsKey:     maxRevs,
	}
}
