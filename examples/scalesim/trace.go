package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/servekit/servekit/autoscaler"
)

// maxDuration bounds a trace so a typo cannot run for days.
const maxDuration = 24 * time.Hour

// maxReadyPods bounds readyPods in a sample.
const maxReadyPods = 1_000_000

// Trace is a decoded, validated load trace.
type Trace struct {
	// Config is config-autoscaler parsed with Knative's rules.
	Config autoscaler.Config
	// Spec is the revision's spec from Config, the annotations and
	// containerConcurrency.
	Spec autoscaler.Spec
	// Duration is the last second simulated.
	Duration time.Duration
	// PodStartup is how long a requested pod takes to become ready.
	PodStartup time.Duration
	// Samples are steps, sorted by At (strictly increasing).
	Samples []Sample
}

// Sample is one step of load, in effect from At until the next sample.
type Sample struct {
	// At is when the step starts (whole seconds).
	At time.Duration
	// Concurrency is the revision's total concurrency for each second.
	Concurrency float64
	// RPS is the revision's total requests per second.
	RPS float64
	// ReadyPods overrides the simulated ready pods when HasReadyPods.
	ReadyPods int32
	// HasReadyPods reports that the sample set readyPods.
	HasReadyPods bool
	// NoData records nothing for these seconds.
	NoData bool
}

type rawTrace struct {
	Config               map[string]string `json:"config"`
	Annotations          map[string]string `json:"annotations"`
	ContainerConcurrency *int64            `json:"containerConcurrency"`
	Duration             *string           `json:"duration"`
	PodStartup           *string           `json:"podStartup"`
	Samples              []json.RawMessage `json:"samples"`
}

type rawSample struct {
	At          *string  `json:"at"`
	Concurrency *float64 `json:"concurrency"`
	RPS         *float64 `json:"rps"`
	ReadyPods   *int64   `json:"readyPods"`
	NoData      bool     `json:"noData"`
}

// DecodeTrace reads one JSON trace and validates it. Errors name the field
// and, for samples, the index: "samples[3].at: …".
func DecodeTrace(r io.Reader) (*Trace, error) {
	data, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("scalesim: read trace: %w", err)
	}
	var raw rawTrace
	if err := strictDecode(data, &raw); err != nil {
		return nil, fmt.Errorf("scalesim: trace: %w", err)
	}
	t := &Trace{}
	if t.Config, err = autoscaler.ConfigFromMap(raw.Config); err != nil {
		return nil, fmt.Errorf("scalesim: config: %w", err)
	}
	var cc int64
	if raw.ContainerConcurrency != nil {
		cc = *raw.ContainerConcurrency
		if cc < 0 {
			return nil, fmt.Errorf("scalesim: containerConcurrency: %d must be at least 0", cc)
		}
	}
	if t.Spec, err = autoscaler.SpecFromAnnotations(t.Config, raw.Annotations, cc); err != nil {
		return nil, fmt.Errorf("scalesim: annotations: %w", err)
	}
	if raw.Duration == nil {
		return nil, errors.New("scalesim: duration: required (e.g. \"180s\")")
	}
	if t.Duration, err = parseWholeSeconds("duration", *raw.Duration); err != nil {
		return nil, err
	}
	if t.Duration <= 0 || t.Duration > maxDuration {
		return nil, fmt.Errorf("scalesim: duration: %q must be in (0s, 24h]", *raw.Duration)
	}
	if raw.PodStartup != nil {
		d, err := time.ParseDuration(*raw.PodStartup)
		if err != nil || d < 0 || d > maxDuration {
			return nil, fmt.Errorf("scalesim: podStartup: %q is not a duration in [0s, 24h]", *raw.PodStartup)
		}
		t.PodStartup = d
	}
	for i, rs := range raw.Samples {
		s, err := decodeSample(i, rs, t.Duration)
		if err != nil {
			return nil, err
		}
		if i > 0 && s.At <= t.Samples[i-1].At {
			return nil, fmt.Errorf("scalesim: samples[%d].at: %v is not after samples[%d].at (%v)", i, s.At, i-1, t.Samples[i-1].At)
		}
		t.Samples = append(t.Samples, s)
	}
	return t, nil
}

func decodeSample(i int, data json.RawMessage, dur time.Duration) (Sample, error) {
	var rs rawSample
	if err := strictDecode(data, &rs); err != nil {
		return Sample{}, fmt.Errorf("scalesim: samples[%d]: %w", i, err)
	}
	field := func(name string) string { return fmt.Sprintf("samples[%d].%s", i, name) }
	var s Sample
	if rs.At == nil {
		return Sample{}, fmt.Errorf("scalesim: %s: required", field("at"))
	}
	at, err := parseWholeSeconds(field("at"), *rs.At)
	if err != nil {
		return Sample{}, err
	}
	if at < 0 || at > dur {
		return Sample{}, fmt.Errorf("scalesim: %s: %q must be in [0s, duration]", field("at"), *rs.At)
	}
	s.At = at
	if rs.NoData && (rs.Concurrency != nil || rs.RPS != nil) {
		return Sample{}, fmt.Errorf("scalesim: %s: noData cannot be combined with concurrency or rps", field("noData"))
	}
	s.NoData = rs.NoData
	for _, f := range []struct {
		name string
		v    *float64
		dst  *float64
	}{{"concurrency", rs.Concurrency, &s.Concurrency}, {"rps", rs.RPS, &s.RPS}} {
		if f.v == nil {
			continue
		}
		if *f.v < 0 || math.IsInf(*f.v, 0) || math.IsNaN(*f.v) || *f.v > 1e12 {
			return Sample{}, fmt.Errorf("scalesim: %s: %v must be in [0, 1e12]", field(f.name), *f.v)
		}
		*f.dst = *f.v
	}
	if rs.ReadyPods != nil {
		if *rs.ReadyPods < 0 || *rs.ReadyPods > maxReadyPods {
			return Sample{}, fmt.Errorf("scalesim: %s: %d must be in [0, %d]", field("readyPods"), *rs.ReadyPods, maxReadyPods)
		}
		s.ReadyPods, s.HasReadyPods = int32(*rs.ReadyPods), true
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

// parseWholeSeconds parses a Go duration that must be whole seconds.
func parseWholeSeconds(field, v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("scalesim: %s: %q is not a duration (want e.g. \"10s\")", field, v)
	}
	if d.Truncate(time.Second) != d {
		return 0, fmt.Errorf("scalesim: %s: %q must be whole seconds", field, v)
	}
	return d, nil
}
