package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/servekit/servekit/autoscaler"
	"github.com/servekit/servekit/autoscaler/hpa"
)

// Limits of a trace, so that a typo cannot run for days or allocate a
// million pods' worth of state.
const (
	// MaxDuration bounds Trace.Duration and Trace.PodStartup.
	MaxDuration = 24 * time.Hour
	// MaxReadyPods bounds Sample.ReadyPods.
	MaxReadyPods = 1_000_000
	// MaxLoad bounds Sample.Concurrency, Sample.RPS and Sample.CPU.
	MaxLoad = 1e12
)

// maxTraceBytes bounds what DecodeTrace reads.
const maxTraceBytes = 64 << 20

// Trace is a load trace: the revision's autoscaling spec, how long to run,
// how long pods take to start, and the load as steps. Build one in Go or
// decode one with DecodeTrace; Simulate validates it either way.
type Trace struct {
	// Spec is the revision's autoscaling spec. The zero Spec means
	// Knative's defaults (SpecFromAnnotations over DefaultConfig with no
	// annotations and containerConcurrency 0); any other Spec should come
	// from autoscaler.SpecFromAnnotations.
	Spec autoscaler.Spec
	// Duration is the last second simulated: whole seconds in
	// (0, MaxDuration]. Simulate returns Duration/2s ticks.
	Duration time.Duration
	// PodStartup is how long a requested pod takes to become ready, in
	// [0, MaxDuration]; zero means at once.
	PodStartup time.Duration
	// Samples are steps, sorted by At (strictly increasing). Before the
	// first sample nothing is recorded, as with NoData.
	Samples []Sample
}

// Sample is one step of load, in effect from At until the next sample.
type Sample struct {
	// At is when the step starts: whole seconds in [0, Trace.Duration].
	At time.Duration
	// Concurrency is the revision's total concurrency for each second, in
	// [0, MaxLoad].
	Concurrency float64
	// RPS is the revision's total requests per second, in [0, MaxLoad].
	RPS float64
	// CPU is, for an HPA-class trace, the revision's total CPU use as a
	// percentage of one pod's CPU request (250 = two and a half pods' worth),
	// in [0, MaxLoad]; the ready pods share it equally. It must be zero in a
	// KPA trace, as Concurrency and RPS must be in an HPA trace.
	CPU float64
	// ReadyPods is the ready pod count the decider sees while the step
	// holds, in [0, MaxReadyPods]; it is used only when HasReadyPods.
	ReadyPods int32
	// HasReadyPods makes ReadyPods override the simulated pods. When
	// false, pods follow the applied scale (see Trace.PodStartup).
	HasReadyPods bool
	// NoData records nothing for these seconds; Concurrency and RPS must
	// then be zero.
	NoData bool
}

// spec returns the spec Simulate uses: t.Spec, or Knative's defaults for
// the zero Spec.
func (t *Trace) spec() autoscaler.Spec {
	if t.Spec == (autoscaler.Spec{}) {
		// Knative's defaults always resolve; the error cannot happen.
		s, _ := autoscaler.SpecFromAnnotations(autoscaler.DefaultConfig(), nil, 0)
		return s
	}
	return t.Spec
}

// Validate reports the first value out of range, naming the field as the
// JSON format does ("sim: samples[3].at: …").
func (t *Trace) Validate() error {
	if err := checkWholeSeconds("duration", t.Duration); err != nil {
		return err
	}
	if t.Duration <= 0 || t.Duration > MaxDuration {
		return fmt.Errorf("sim: duration: %v must be in (0s, 24h]", t.Duration)
	}
	if t.PodStartup < 0 || t.PodStartup > MaxDuration {
		return fmt.Errorf("sim: podStartup: %v must be in [0s, 24h]", t.PodStartup)
	}
	if s := t.spec(); s.Class == autoscaler.ClassHPA {
		if s.Metric != autoscaler.MetricCPU {
			return fmt.Errorf("sim: annotations: metric %q: the simulator runs the HPA class on cpu only", s.Metric)
		}
		if _, err := hpa.New(hpaSpecOf(s)); err != nil {
			return fmt.Errorf("sim: annotations: %w", err)
		}
	} else if !(s.TargetValue > 0) || math.IsInf(s.TargetValue, 0) {
		return fmt.Errorf("sim: spec: target %v must be positive; build the spec with autoscaler.SpecFromAnnotations", s.TargetValue)
	}
	for i := range t.Samples {
		if err := t.validateSample(i); err != nil {
			return err
		}
	}
	return nil
}

func (t *Trace) validateSample(i int) error {
	s := &t.Samples[i]
	field := func(name string) string { return fmt.Sprintf("samples[%d].%s", i, name) }
	if err := checkWholeSeconds(field("at"), s.At); err != nil {
		return err
	}
	if s.At < 0 || s.At > t.Duration {
		return fmt.Errorf("sim: %s: %v must be in [0s, duration (%v)]", field("at"), s.At, t.Duration)
	}
	if i > 0 && s.At <= t.Samples[i-1].At {
		return fmt.Errorf("sim: %s: %v is not after samples[%d].at (%v)", field("at"), s.At, i-1, t.Samples[i-1].At)
	}
	if s.NoData && (s.Concurrency != 0 || s.RPS != 0 || s.CPU != 0) {
		return errNoDataWithLoad(i)
	}
	if t.spec().Class == autoscaler.ClassHPA {
		if s.Concurrency != 0 {
			return fmt.Errorf("sim: %s: an HPA-class trace is driven by cpu; concurrency must be absent", field("concurrency"))
		}
		if s.RPS != 0 {
			return fmt.Errorf("sim: %s: an HPA-class trace is driven by cpu; rps must be absent", field("rps"))
		}
	} else if s.CPU != 0 {
		return fmt.Errorf("sim: %s: cpu drives only an HPA-class trace (annotation %s: %s)", field("cpu"), autoscaler.AnnotationClass, autoscaler.ClassHPA)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"concurrency", s.Concurrency}, {"rps", s.RPS}, {"cpu", s.CPU}} {
		// !(v >= 0) also rejects NaN.
		if !(f.v >= 0) || f.v > MaxLoad {
			return fmt.Errorf("sim: %s: %v must be in [0, 1e12]", field(f.name), f.v)
		}
	}
	if s.HasReadyPods && (s.ReadyPods < 0 || s.ReadyPods > MaxReadyPods) {
		return fmt.Errorf("sim: %s: %d must be in [0, %d]", field("readyPods"), s.ReadyPods, MaxReadyPods)
	}
	return nil
}

func errNoDataWithLoad(i int) error {
	return fmt.Errorf("sim: samples[%d].noData: noData cannot be combined with concurrency, rps or cpu", i)
}

// checkWholeSeconds rejects a duration with a fractional second.
func checkWholeSeconds(field string, d time.Duration) error {
	if d.Truncate(time.Second) != d {
		return fmt.Errorf("sim: %s: %v must be whole seconds", field, d)
	}
	return nil
}

// rawTrace is the JSON form of a trace; pointers tell absent from zero.
type rawTrace struct {
	Config               map[string]string `json:"config"`
	Annotations          map[string]string `json:"annotations"`
	ContainerConcurrency *int64            `json:"containerConcurrency"`
	Duration             *string           `json:"duration"`
	PodStartup           *string           `json:"podStartup"`
	Samples              []json.RawMessage `json:"samples"`
}

// rawSample is the JSON form of a sample.
type rawSample struct {
	At          *string  `json:"at"`
	Concurrency *float64 `json:"concurrency"`
	RPS         *float64 `json:"rps"`
	CPU         *float64 `json:"cpu"`
	ReadyPods   *int64   `json:"readyPods"`
	NoData      bool     `json:"noData"`
}

// DecodeTrace reads one JSON trace (the format in the package doc, at most
// 64 MiB) and validates it. Unknown fields and trailing data are errors.
// Every error starts with "sim: " and names the field and, for samples, the
// index: "sim: samples[3].at: …".
func DecodeTrace(r io.Reader) (*Trace, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxTraceBytes))
	if err != nil {
		return nil, fmt.Errorf("sim: read trace: %w", err)
	}
	var raw rawTrace
	if err := strictDecode(data, &raw); err != nil {
		return nil, fmt.Errorf("sim: trace: %w", err)
	}
	t := &Trace{}
	cfg, err := autoscaler.ConfigFromMap(raw.Config)
	if err != nil {
		return nil, fmt.Errorf("sim: config: %w", err)
	}
	var cc int64
	if raw.ContainerConcurrency != nil {
		cc = *raw.ContainerConcurrency
		if cc < 0 {
			return nil, fmt.Errorf("sim: containerConcurrency: %d must be at least 0", cc)
		}
	}
	if t.Spec, err = autoscaler.SpecFromAnnotations(cfg, raw.Annotations, cc); err != nil {
		return nil, fmt.Errorf("sim: annotations: %w", err)
	}
	if raw.Duration == nil {
		return nil, errors.New("sim: duration: required (e.g. \"180s\")")
	}
	if t.Duration, err = parseDuration("duration", *raw.Duration); err != nil {
		return nil, err
	}
	if raw.PodStartup != nil {
		if t.PodStartup, err = parseDuration("podStartup", *raw.PodStartup); err != nil {
			return nil, err
		}
	}
	for i, rs := range raw.Samples {
		s, err := decodeSample(i, rs)
		if err != nil {
			return nil, err
		}
		t.Samples = append(t.Samples, s)
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return t, nil
}

// decodeSample parses samples[i]; Validate checks the ranges.
func decodeSample(i int, data json.RawMessage) (Sample, error) {
	var rs rawSample
	if err := strictDecode(data, &rs); err != nil {
		return Sample{}, fmt.Errorf("sim: samples[%d]: %w", i, err)
	}
	field := fmt.Sprintf("samples[%d].at", i)
	if rs.At == nil {
		return Sample{}, fmt.Errorf("sim: %s: required", field)
	}
	at, err := parseDuration(field, *rs.At)
	if err != nil {
		return Sample{}, err
	}
	// Present but zero counts too: the JSON says two contradicting things.
	if rs.NoData && (rs.Concurrency != nil || rs.RPS != nil || rs.CPU != nil) {
		return Sample{}, errNoDataWithLoad(i)
	}
	s := Sample{At: at, NoData: rs.NoData}
	if rs.Concurrency != nil {
		s.Concurrency = *rs.Concurrency
	}
	if rs.RPS != nil {
		s.RPS = *rs.RPS
	}
	if rs.CPU != nil {
		s.CPU = *rs.CPU
	}
	if rs.ReadyPods != nil {
		n := *rs.ReadyPods
		if n < 0 || n > MaxReadyPods {
			// Checked here, before the int32 conversion could wrap.
			return Sample{}, fmt.Errorf("sim: samples[%d].readyPods: %d must be in [0, %d]", i, n, MaxReadyPods)
		}
		s.ReadyPods, s.HasReadyPods = int32(n), true
	}
	return s, nil
}

// strictDecode decodes exactly one JSON value with no unknown fields.
func strictDecode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return fmt.Errorf("%s: want a JSON %v, got %s", te.Field, te.Type, te.Value)
		}
		return err
	}
	if dec.More() {
		return errors.New("unexpected data after the JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON object")
	}
	return nil
}

// parseDuration parses a Go duration string for field.
func parseDuration(field, v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("sim: %s: %q is not a duration (want e.g. \"10s\")", field, v)
	}
	return d, nil
}

// hpaSpecOf is the HPA an HPA-class spec runs.
func hpaSpecOf(s autoscaler.Spec) hpa.Spec {
	h, _ := hpa.SpecFor(s)
	return h
}
