package autoscaler

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Knative's fixed bounds and constants (knative.dev/serving/pkg/autoscaler/config/config.go).
const (
	// TickInterval is the decider period; Knative no longer reads
	// tick-interval from the ConfigMap.
	TickInterval = 2 * time.Second
	// ScrapeInterval is how often a revision's pods are scraped.
	ScrapeInterval = time.Second
	// TargetMin is the smallest per-pod target.
	TargetMin = 0.01
	// WindowMin and WindowMax bound the stable window.
	WindowMin = 6 * time.Second
	WindowMax = time.Hour
	// PanicWindowPercentageMin and Max bound panic-window-percentage.
	PanicWindowPercentageMin = 1.0
	PanicWindowPercentageMax = 100.0
	// PanicThresholdPercentageMin and Max bound the panic-threshold-percentage
	// annotation and, unlike Knative, the ConfigMap key too (see Config).
	PanicThresholdPercentageMin = 110.0
	PanicThresholdPercentageMax = 1000.0
	// ActivationTimeoutBuffer is added to the progress deadline to get the
	// time a revision may stay activating before it is scaled to zero.
	ActivationTimeoutBuffer = 30 * time.Second
	// DefaultProgressDeadline is config-deployment's default progress deadline.
	DefaultProgressDeadline = 600 * time.Second
	// MinActivators is the smallest activator subset.
	MinActivators = 2
)

// Class names for the pod-autoscaler-class key and class annotation.
const (
	ClassKPA = "kpa.autoscaling.knative.dev"
	ClassHPA = "hpa.autoscaling.knative.dev"
)

// Config is the cluster-wide autoscaler configuration, the keys of
// Knative's config-autoscaler ConfigMap. Build it with [DefaultConfig] or
// [ConfigFromMap]; a zero Config is not valid.
type Config struct {
	// PodAutoscalerClass is the class of revisions without a class
	// annotation (pod-autoscaler-class).
	PodAutoscalerClass string
	// EnableScaleToZero allows a final scale of 0; when false a 0 becomes 1.
	EnableScaleToZero bool
	// ContainerConcurrencyTargetFraction is the utilisation of the
	// concurrency metric as a fraction in (0, 1]
	// (container-concurrency-target-percentage after normalisation).
	ContainerConcurrencyTargetFraction float64
	// ContainerConcurrencyTargetDefault is the per-pod concurrency total
	// for revisions with containerConcurrency 0.
	ContainerConcurrencyTargetDefault float64
	// RPSTargetDefault is the per-pod total for the rps metric.
	RPSTargetDefault float64
	// TargetUtilization is the utilisation of the rps metric. It has no
	// ConfigMap key (Knative hard-codes 0.7; see docs/autoscaling.md surprise 1).
	TargetUtilization float64
	// TargetBurstCapacity is the spare concurrency to keep; -1 keeps the
	// activator always in the path, 0 only at scale zero.
	TargetBurstCapacity float64
	// StableWindow is the stable averaging window.
	StableWindow time.Duration
	// PanicWindowPercentage is the panic window as a percentage of the
	// stable window.
	PanicWindowPercentage float64
	// PanicThresholdPercentage is the panic threshold in percent, in
	// [110, 1000]. Knative validates only the annotation and accepts any
	// ConfigMap value; servekit applies the annotation's bounds to the key
	// too, since a value below 100 puts every tick in panic (issue 17).
	PanicThresholdPercentage float64
	// MaxScaleUpRate caps a tick's scale-up: desired ≤ ceil(rate × max(1, ready)).
	MaxScaleUpRate float64
	// MaxScaleDownRate caps a tick's scale-down: desired ≥ floor(max(1, ready) / rate).
	MaxScaleDownRate float64
	// ActivatorCapacity is the concurrency one activator absorbs.
	ActivatorCapacity float64
	// ScaleToZeroGracePeriod is how long the activator must be in the path
	// before the last pod goes.
	ScaleToZeroGracePeriod time.Duration
	// ScaleToZeroPodRetentionPeriod is the minimum time the last pod is kept
	// after the revision went inactive.
	ScaleToZeroPodRetentionPeriod time.Duration
	// ScaleDownDelay holds scale-down decisions for this long.
	ScaleDownDelay time.Duration
	// InitialScale is the default initial scale.
	InitialScale int32
	// AllowZeroInitialScale permits initial scale 0.
	AllowZeroInitialScale bool
	// MinScale is the default lower bound.
	MinScale int32
	// MaxScale is the default upper bound; 0 means unbounded.
	MaxScale int32
	// MaxScaleLimit caps max-scale; 0 means no limit.
	MaxScaleLimit int32
	// ProgressDeadline is how long a new revision may take to reach its
	// initial scale before it fails (ProgressDeadlineExceeded), and, plus
	// ActivationTimeoutBuffer, how long a revision may stay activating
	// before it is scaled to zero. It is not a config-autoscaler key but
	// config-deployment's progress-deadline (serving/config reads it there);
	// a revision's serving.knative.dev/progress-deadline annotation overrides
	// it. Zero means DefaultProgressDeadline (600 s).
	ProgressDeadline time.Duration
}

// ConfigMap keys.
const (
	KeyPodAutoscalerClass            = "pod-autoscaler-class"
	KeyEnableScaleToZero             = "enable-scale-to-zero"
	KeyContainerConcurrencyTargetPct = "container-concurrency-target-percentage"
	KeyContainerConcurrencyTargetDef = "container-concurrency-target-default"
	KeyRPSTargetDefault              = "requests-per-second-target-default"
	KeyTargetBurstCapacity           = "target-burst-capacity"
	KeyStableWindow                  = "stable-window"
	KeyPanicWindowPercentage         = "panic-window-percentage"
	KeyPanicThresholdPercentage      = "panic-threshold-percentage"
	KeyMaxScaleUpRate                = "max-scale-up-rate"
	KeyMaxScaleDownRate              = "max-scale-down-rate"
	KeyActivatorCapacity             = "activator-capacity"
	KeyScaleToZeroGracePeriod        = "scale-to-zero-grace-period"
	KeyScaleToZeroPodRetentionPeriod = "scale-to-zero-pod-retention-period"
	KeyScaleDownDelay                = "scale-down-delay"
	KeyInitialScale                  = "initial-scale"
	KeyAllowZeroInitialScale         = "allow-zero-initial-scale"
	KeyMinScale                      = "min-scale"
	KeyMaxScale                      = "max-scale"
	KeyMaxScaleLimit                 = "max-scale-limit"
)

// DefaultConfig returns Knative's defaults.
func DefaultConfig() Config {
	return Config{
		PodAutoscalerClass:                 ClassKPA,
		EnableScaleToZero:                  true,
		ContainerConcurrencyTargetFraction: 0.7,
		ContainerConcurrencyTargetDefault:  100,
		RPSTargetDefault:                   200,
		TargetUtilization:                  0.7,
		TargetBurstCapacity:                211,
		StableWindow:                       60 * time.Second,
		PanicWindowPercentage:              10,
		PanicThresholdPercentage:           200,
		MaxScaleUpRate:                     1000,
		MaxScaleDownRate:                   2,
		ActivatorCapacity:                  100,
		ScaleToZeroGracePeriod:             30 * time.Second,
		ScaleToZeroPodRetentionPeriod:      0,
		ScaleDownDelay:                     0,
		InitialScale:                       1,
		AllowZeroInitialScale:              false,
		MinScale:                           0,
		MaxScale:                           0,
		MaxScaleLimit:                      0,
	}
}

// ConfigFromMap parses config-autoscaler data over [DefaultConfig] and
// validates the result. Every key is optional and unknown keys (including
// the retired tick-interval and panic-window) are ignored. Floats use
// strconv.ParseFloat, integers ParseInt(…, 10, 32), booleans
// strconv.ParseBool and durations time.ParseDuration. A value of
// container-concurrency-target-percentage above 1 is a percentage and is
// divided by 100; a value in (0, 1] is already a fraction.
//
// The error names the key and the bad value; validation runs in Knative's
// order, so the same map yields the same first complaint.
func ConfigFromMap(data map[string]string) (Config, error) {
	c := DefaultConfig()
	p := parser{data: data}
	p.str(KeyPodAutoscalerClass, &c.PodAutoscalerClass)
	p.boolean(KeyEnableScaleToZero, &c.EnableScaleToZero)
	p.float(KeyContainerConcurrencyTargetPct, &c.ContainerConcurrencyTargetFraction)
	p.float(KeyContainerConcurrencyTargetDef, &c.ContainerConcurrencyTargetDefault)
	p.float(KeyRPSTargetDefault, &c.RPSTargetDefault)
	p.float(KeyTargetBurstCapacity, &c.TargetBurstCapacity)
	p.dur(KeyStableWindow, &c.StableWindow)
	p.float(KeyPanicWindowPercentage, &c.PanicWindowPercentage)
	p.float(KeyPanicThresholdPercentage, &c.PanicThresholdPercentage)
	p.float(KeyMaxScaleUpRate, &c.MaxScaleUpRate)
	p.float(KeyMaxScaleDownRate, &c.MaxScaleDownRate)
	p.float(KeyActivatorCapacity, &c.ActivatorCapacity)
	p.dur(KeyScaleToZeroGracePeriod, &c.ScaleToZeroGracePeriod)
	p.dur(KeyScaleToZeroPodRetentionPeriod, &c.ScaleToZeroPodRetentionPeriod)
	p.dur(KeyScaleDownDelay, &c.ScaleDownDelay)
	p.int32(KeyInitialScale, &c.InitialScale)
	p.boolean(KeyAllowZeroInitialScale, &c.AllowZeroInitialScale)
	p.int32(KeyMinScale, &c.MinScale)
	p.int32(KeyMaxScale, &c.MaxScale)
	p.int32(KeyMaxScaleLimit, &c.MaxScaleLimit)
	if p.err != nil {
		return Config{}, p.err
	}
	// Percent to fraction; values in (0, 1] are fractions already (docs/autoscaling.md surprise 2).
	if c.ContainerConcurrencyTargetFraction > 1 {
		c.ContainerConcurrencyTargetFraction /= 100
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Map renders c as config-autoscaler data: ConfigFromMap(c.Map()) returns c
// for any valid c (TargetUtilization has no key and is not rendered). The
// target percentage is written as a fraction.
func (c Config) Map() map[string]string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	i := func(v int32) string { return strconv.FormatInt(int64(v), 10) }
	return map[string]string{
		KeyPodAutoscalerClass:            c.PodAutoscalerClass,
		KeyEnableScaleToZero:             strconv.FormatBool(c.EnableScaleToZero),
		KeyContainerConcurrencyTargetPct: f(c.ContainerConcurrencyTargetFraction),
		KeyContainerConcurrencyTargetDef: f(c.ContainerConcurrencyTargetDefault),
		KeyRPSTargetDefault:              f(c.RPSTargetDefault),
		KeyTargetBurstCapacity:           f(c.TargetBurstCapacity),
		KeyStableWindow:                  c.StableWindow.String(),
		KeyPanicWindowPercentage:         f(c.PanicWindowPercentage),
		KeyPanicThresholdPercentage:      f(c.PanicThresholdPercentage),
		KeyMaxScaleUpRate:                f(c.MaxScaleUpRate),
		KeyMaxScaleDownRate:              f(c.MaxScaleDownRate),
		KeyActivatorCapacity:             f(c.ActivatorCapacity),
		KeyScaleToZeroGracePeriod:        c.ScaleToZeroGracePeriod.String(),
		KeyScaleToZeroPodRetentionPeriod: c.ScaleToZeroPodRetentionPeriod.String(),
		KeyScaleDownDelay:                c.ScaleDownDelay.String(),
		KeyInitialScale:                  i(c.InitialScale),
		KeyAllowZeroInitialScale:         strconv.FormatBool(c.AllowZeroInitialScale),
		KeyMinScale:                      i(c.MinScale),
		KeyMaxScale:                      i(c.MaxScale),
		KeyMaxScaleLimit:                 i(c.MaxScaleLimit),
	}
}

// Validate checks c in Knative's order and returns the first violation.
func (c Config) Validate() error {
	switch {
	case c.ProgressDeadline < 0:
		return fmt.Errorf("autoscaler: ProgressDeadline = %v: cannot be negative", c.ProgressDeadline)
	case c.ScaleToZeroGracePeriod <= 0:
		return keyErr(KeyScaleToZeroGracePeriod, c.ScaleToZeroGracePeriod, "must be positive")
	case c.ScaleDownDelay < 0:
		return keyErr(KeyScaleDownDelay, c.ScaleDownDelay, "cannot be negative")
	case c.ScaleDownDelay.Round(time.Second) != c.ScaleDownDelay:
		return keyErr(KeyScaleDownDelay, c.ScaleDownDelay, "must be a whole number of seconds")
	case c.ScaleToZeroPodRetentionPeriod < 0:
		return keyErr(KeyScaleToZeroPodRetentionPeriod, c.ScaleToZeroPodRetentionPeriod, "cannot be negative")
	case c.TargetBurstCapacity < 0 && c.TargetBurstCapacity != -1:
		return keyErr(KeyTargetBurstCapacity, c.TargetBurstCapacity, "must be at least 0 or exactly -1")
	case !(c.ContainerConcurrencyTargetFraction > 0 && c.ContainerConcurrencyTargetFraction <= 1):
		return keyErr(KeyContainerConcurrencyTargetPct, c.ContainerConcurrencyTargetFraction, "must be in (0, 1] as a fraction or (1, 100] as a percentage")
	case !(c.ContainerConcurrencyTargetFraction*c.ContainerConcurrencyTargetDefault >= TargetMin):
		return fmt.Errorf("autoscaler: %s = %v (as a fraction) × %s = %v is %.6g, must be at least %v",
			KeyContainerConcurrencyTargetPct, c.ContainerConcurrencyTargetFraction,
			KeyContainerConcurrencyTargetDef, c.ContainerConcurrencyTargetDefault,
			c.ContainerConcurrencyTargetFraction*c.ContainerConcurrencyTargetDefault, TargetMin)
	case !(c.RPSTargetDefault >= TargetMin):
		return keyErr(KeyRPSTargetDefault, c.RPSTargetDefault, "must be at least 0.01")
	case !(c.ActivatorCapacity >= 1):
		return keyErr(KeyActivatorCapacity, c.ActivatorCapacity, "must be at least 1")
	case !(c.MaxScaleUpRate > 1):
		return keyErr(KeyMaxScaleUpRate, c.MaxScaleUpRate, "must be greater than 1")
	case !(c.MaxScaleDownRate > 1):
		return keyErr(KeyMaxScaleDownRate, c.MaxScaleDownRate, "must be greater than 1")
	case c.StableWindow < WindowMin || c.StableWindow > WindowMax:
		return keyErr(KeyStableWindow, c.StableWindow, "must be in [6s, 1h]")
	case c.StableWindow.Round(time.Second) != c.StableWindow:
		return keyErr(KeyStableWindow, c.StableWindow, "must be a whole number of seconds")
	case !(c.PanicWindowPercentage >= PanicWindowPercentageMin && c.PanicWindowPercentage <= PanicWindowPercentageMax):
		return keyErr(KeyPanicWindowPercentage, c.PanicWindowPercentage, "must be in [1, 100]")
	case !(c.PanicThresholdPercentage >= PanicThresholdPercentageMin && c.PanicThresholdPercentage <= PanicThresholdPercentageMax):
		// Not checked by Knative's config.go; the annotation's bounds (issue 17).
		return keyErr(KeyPanicThresholdPercentage, c.PanicThresholdPercentage, "must be in [110, 1000]")
	case c.InitialScale < 0 || (c.InitialScale == 0 && !c.AllowZeroInitialScale):
		return keyErr(KeyInitialScale, c.InitialScale, "must be at least 1, or 0 when allow-zero-initial-scale is true")
	case c.MinScale < 0:
		return keyErr(KeyMinScale, c.MinScale, "must be at least 0")
	case c.MaxScale < 0 || (c.MaxScaleLimit > 0 && (c.MaxScale < 1 || c.MaxScale > c.MaxScaleLimit)):
		return fmt.Errorf("autoscaler: %s = %d, must be in [0, max-scale-limit] and at least 1 when max-scale-limit (%d) is set",
			KeyMaxScale, c.MaxScale, c.MaxScaleLimit)
	case c.MaxScaleLimit < 0:
		return keyErr(KeyMaxScaleLimit, c.MaxScaleLimit, "must be at least 0")
	case c.MaxScale > 0 && c.MinScale > c.MaxScale:
		return fmt.Errorf("autoscaler: %s = %d must not exceed %s = %d", KeyMinScale, c.MinScale, KeyMaxScale, c.MaxScale)
	}
	return nil
}

func keyErr(key string, v any, why string) error {
	return fmt.Errorf("autoscaler: %s = %v: %s", key, v, why)
}

// parser collects the first parse error, naming the key and the raw value.
type parser struct {
	data map[string]string
	err  error
}

func (p *parser) get(key string) (string, bool) {
	if p.err != nil {
		return "", false
	}
	v, ok := p.data[key]
	return v, ok
}

func (p *parser) fail(key, raw, kind string, err error) {
	p.err = fmt.Errorf("autoscaler: %s = %q: not a valid %s: %w", key, raw, kind, unwrapNum(err))
}

// unwrapNum drops strconv's repetition of the input from its error.
func unwrapNum(err error) error {
	if ne, ok := err.(*strconv.NumError); ok {
		return ne.Err
	}
	return err
}

func (p *parser) str(key string, dst *string) {
	if v, ok := p.get(key); ok {
		*dst = v
	}
}

func (p *parser) boolean(key string, dst *bool) {
	if v, ok := p.get(key); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			p.fail(key, v, "boolean", err)
			return
		}
		*dst = b
	}
}

func (p *parser) float(key string, dst *float64) {
	if v, ok := p.get(key); ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			p.fail(key, v, "number", err)
			return
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			// Knative accepts NaN and Inf here and then misbehaves
			// (NaN passes every range check); we reject them.
			p.fail(key, v, "number", errNotFinite)
			return
		}
		*dst = f
	}
}

func (p *parser) int32(key string, dst *int32) {
	if v, ok := p.get(key); ok {
		i, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			p.fail(key, v, "32-bit integer", err)
			return
		}
		*dst = int32(i)
	}
}

func (p *parser) dur(key string, dst *time.Duration) {
	if v, ok := p.get(key); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			p.fail(key, v, "duration", errDuration)
			return
		}
		*dst = d
	}
}

var (
	errDuration  = errors.New("want a number with a unit such as 30s or 1m")
	errNotFinite = errors.New("must be finite")
)
