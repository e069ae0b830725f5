// Package metrics holds the one per-second stat of servekit: what a queue proxy
// (queue.Proxy) and an activator report and what the autoscaler collects, with its
// protobuf wire form. It is Knative's message metrics.Stat
// (knative.dev/serving/pkg/autoscaler/metrics/stat.proto) as a plain Go value,
// encoded and decoded byte for byte as Knative's generated code
// (knative.dev/serving/pkg/autoscaler/metrics/stat.pb.go) does, so a servekit
// queue proxy can be scraped by Knative's autoscaler and the other way round.
//
// The package is a leaf: it imports the standard library and
// google.golang.org/protobuf/encoding/protowire only, so that queue and activator,
// which may import nothing else of the autoscaler, can share the type with it.
package metrics

import (
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// ContentType is the Content-Type of an encoded Stat: the exact string Knative's
// scraper requires (knative.dev/serving/pkg/autoscaler/metrics/http_scrape_client.go).
const ContentType = "application/protobuf"

// Field numbers of Knative's stat.proto.
const (
	fieldPodName                          protowire.Number = 1 // string
	fieldAverageConcurrentRequests        protowire.Number = 2 // double
	fieldAverageProxiedConcurrentRequests protowire.Number = 3 // double
	fieldRequestCount                     protowire.Number = 4 // double
	fieldProxiedRequestCount              protowire.Number = 5 // double
	fieldProcessUptime                    protowire.Number = 6 // double
	fieldTimestamp                        protowire.Number = 7 // int64
)

// Stat is one reporter's measurement of one period (Knative: one second), Knative's
// protobuf message metrics.Stat. The zero value is an empty report.
//
// On the wire (proto3): pod_name = 1 (string), average_concurrent_requests = 2,
// average_proxied_concurrent_requests = 3, request_count = 4,
// proxied_request_count = 5, process_uptime = 6 (doubles), timestamp = 7 (int64).
type Stat struct {
	// PodName identifies the reporter (field 1): a queue proxy's pod, an activator,
	// or "service-scraper" for the collector's aggregate of a scrape. Empty means
	// unnamed.
	PodName string
	// AverageConcurrentRequests is the time-weighted average number of requests in
	// flight over the period (field 2): two requests of 500 ms in one second give 1.0.
	AverageConcurrentRequests float64
	// AverageProxiedConcurrentRequests is the part of AverageConcurrentRequests that
	// came through the activator (field 3); the collector subtracts it, since the
	// activator reports those requests itself.
	AverageProxiedConcurrentRequests float64
	// RequestCount is the number of requests that arrived in the period, per second
	// (field 4); the activator sends raw counts per 1 s period, the same thing.
	RequestCount float64
	// ProxiedRequestCount is the part of RequestCount that came through the
	// activator (field 5); the collector subtracts it.
	ProxiedRequestCount float64
	// ProcessUptime is the reporter's age in seconds (field 6); the scraper prefers
	// pods older than the stable window.
	ProcessUptime float64
	// Timestamp is Unix seconds (field 7); 0 means unset: a queue proxy leaves it 0,
	// as Knative's does, and the autoscaler stamps the time of receipt.
	Timestamp int64
}

// ErrBadStat wraps every error of [Stat.UnmarshalBinary]: the input is not the
// protobuf encoding of a Stat.
var ErrBadStat = errors.New("metrics: malformed protobuf Stat")

// AppendProto appends the protobuf encoding of s to b and returns the result. Zero
// fields are omitted, as Knative's generated code does (it compares doubles with 0,
// so a negative zero is omitted too). It allocates only when b lacks capacity; 64
// bytes hold a Stat whose PodName is up to 9 bytes, 128 any Kubernetes pod name.
func (s Stat) AppendProto(b []byte) []byte {
	if s.PodName != "" {
		b = protowire.AppendTag(b, fieldPodName, protowire.BytesType)
		b = protowire.AppendString(b, s.PodName)
	}
	b = appendDouble(b, fieldAverageConcurrentRequests, s.AverageConcurrentRequests)
	b = appendDouble(b, fieldAverageProxiedConcurrentRequests, s.AverageProxiedConcurrentRequests)
	b = appendDouble(b, fieldRequestCount, s.RequestCount)
	b = appendDouble(b, fieldProxiedRequestCount, s.ProxiedRequestCount)
	b = appendDouble(b, fieldProcessUptime, s.ProcessUptime)
	if s.Timestamp != 0 {
		b = protowire.AppendTag(b, fieldTimestamp, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(s.Timestamp))
	}
	return b
}

func appendDouble(b []byte, num protowire.Number, v float64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, math.Float64bits(v))
}

// AppendBinary implements encoding.BinaryAppender with [Stat.AppendProto]; the
// error is always nil.
func (s Stat) AppendBinary(b []byte) ([]byte, error) { return s.AppendProto(b), nil }

// MarshalBinary implements encoding.BinaryMarshaler with [Stat.AppendProto]; the
// error is always nil.
func (s Stat) MarshalBinary() ([]byte, error) { return s.AppendProto(nil), nil }

// UnmarshalBinary decodes the protobuf encoding of a Stat into s, replacing all of
// it. As Knative's generated decoder does, it skips unknown fields (groups included),
// keeps the last value of a repeated field, and rejects a known field with the wrong
// wire type. Any error wraps [ErrBadStat] and names the field; s is then zero.
func (s *Stat) UnmarshalBinary(b []byte) error {
	*s = Stat{}
	if err := s.decode(b); err != nil {
		*s = Stat{}
		return err
	}
	return nil
}

func (s *Stat) decode(b []byte) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: tag: %v", ErrBadStat, protowire.ParseError(n))
		}
		b = b[n:]
		var want protowire.Type
		switch num {
		case fieldPodName:
			want = protowire.BytesType
		case fieldAverageConcurrentRequests, fieldAverageProxiedConcurrentRequests,
			fieldRequestCount, fieldProxiedRequestCount, fieldProcessUptime:
			want = protowire.Fixed64Type
		case fieldTimestamp:
			want = protowire.VarintType
		default:
			if typ == protowire.EndGroupType {
				return fmt.Errorf("%w: field %d: end group outside a group", ErrBadStat, num)
			}
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return fmt.Errorf("%w: unknown field %d: %v", ErrBadStat, num, protowire.ParseError(n))
			}
			b = b[n:]
			continue
		}
		if typ != want {
			return fmt.Errorf("%w: field %d: wire type %d, want %d", ErrBadStat, num, typ, want)
		}
		switch typ {
		case protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return fmt.Errorf("%w: field %d: %v", ErrBadStat, num, protowire.ParseError(n))
			}
			s.PodName, b = string(v), b[n:]
		case protowire.Fixed64Type:
			v, n := protowire.ConsumeFixed64(b)
			if n < 0 {
				return fmt.Errorf("%w: field %d: %v", ErrBadStat, num, protowire.ParseError(n))
			}
			*s.double(num), b = math.Float64frombits(v), b[n:]
		case protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return fmt.Errorf("%w: field %d: %v", ErrBadStat, num, protowire.ParseError(n))
			}
			s.Timestamp, b = int64(v), b[n:]
		}
	}
	return nil
}

// double returns the double field numbered num.
func (s *Stat) double(num protowire.Number) *float64 {
	switch num {
	case fieldAverageConcurrentRequests:
		return &s.AverageConcurrentRequests
	case fieldAverageProxiedConcurrentRequests:
		return &s.AverageProxiedConcurrentRequests
	case fieldRequestCount:
		return &s.RequestCount
	case fieldProxiedRequestCount:
		return &s.ProxiedRequestCount
	default:
		return &s.ProcessUptime
	}
}
