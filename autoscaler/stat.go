package autoscaler

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Stat is one metric report, Knative's protobuf message
// knative.dev/serving/pkg/autoscaler/metrics.Stat.
//
// On the wire (proto3): pod_name = 1 (string), average_concurrent_requests
// = 2, average_proxied_concurrent_requests = 3, request_count = 4,
// proxied_request_count = 5, process_uptime = 6 (doubles), timestamp = 7
// (int64).
type Stat struct {
	// PodName identifies the reporter (a pod, an activator, or
	// "service-scraper" for an aggregated scrape).
	PodName string
	// AverageConcurrentRequests is the time-weighted in-flight average over
	// the reporter's last period.
	AverageConcurrentRequests float64
	// AverageProxiedConcurrentRequests is the part of the above that came
	// through the activator; the collector subtracts it.
	AverageProxiedConcurrentRequests float64
	// RequestCount is requests per second (the activator sends raw counts
	// per 1 s period, which is the same thing).
	RequestCount float64
	// ProxiedRequestCount is the part of RequestCount that came through the
	// activator; the collector subtracts it.
	ProxiedRequestCount float64
	// ProcessUptime is seconds since the reporter started.
	ProcessUptime float64
	// Timestamp is Unix seconds; 0 when unset.
	Timestamp int64
}

// Protobuf wire types used by Stat.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

// ErrBadStat wraps every Stat decoding error.
var ErrBadStat = errors.New("autoscaler: malformed protobuf Stat")

// UnmarshalBinary decodes the protobuf wire format of a Stat. Unknown
// fields are skipped, a repeated field keeps its last value (proto3
// semantics), and a known field with the wrong wire type is an error.
func (s *Stat) UnmarshalBinary(b []byte) error {
	*s = Stat{}
	for len(b) > 0 {
		tag, n := binary.Uvarint(b)
		if n <= 0 {
			return fmt.Errorf("%w: bad tag", ErrBadStat)
		}
		b = b[n:]
		field, wt := tag>>3, tag&7
		if field == 0 || field > math.MaxInt32 {
			return fmt.Errorf("%w: field number %d", ErrBadStat, field)
		}
		var (
			u   uint64 // varint or fixed value
			buf []byte // bytes value
		)
		switch wt {
		case wireVarint:
			u, n = binary.Uvarint(b)
			if n <= 0 {
				return fmt.Errorf("%w: field %d: bad varint", ErrBadStat, field)
			}
			b = b[n:]
		case wireFixed64:
			if len(b) < 8 {
				return fmt.Errorf("%w: field %d: truncated fixed64", ErrBadStat, field)
			}
			u, b = binary.LittleEndian.Uint64(b), b[8:]
		case wireFixed32:
			if len(b) < 4 {
				return fmt.Errorf("%w: field %d: truncated fixed32", ErrBadStat, field)
			}
			u, b = uint64(binary.LittleEndian.Uint32(b)), b[4:]
		case wireBytes:
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return fmt.Errorf("%w: field %d: bad length", ErrBadStat, field)
			}
			buf, b = b[n:n+int(l)], b[n+int(l):]
		default:
			return fmt.Errorf("%w: field %d: unsupported wire type %d", ErrBadStat, field, wt)
		}
		want := uint64(wireFixed64)
		switch field {
		case 1:
			want = wireBytes
		case 7:
			want = wireVarint
		}
		if field <= 7 && wt != want {
			return fmt.Errorf("%w: field %d: wire type %d, want %d", ErrBadStat, field, wt, want)
		}
		switch field {
		case 1:
			s.PodName = string(buf)
		case 2:
			s.AverageConcurrentRequests = math.Float64frombits(u)
		case 3:
			s.AverageProxiedConcurrentRequests = math.Float64frombits(u)
		case 4:
			s.RequestCount = math.Float64frombits(u)
		case 5:
			s.ProxiedRequestCount = math.Float64frombits(u)
		case 6:
			s.ProcessUptime = math.Float64frombits(u)
		case 7:
			s.Timestamp = int64(u)
		}
	}
	return nil
}

// MarshalBinary encodes s in the protobuf wire format, omitting zero
// fields as proto3 does.
func (s Stat) MarshalBinary() ([]byte, error) {
	return s.AppendBinary(nil)
}

// AppendBinary appends the protobuf encoding of s to b.
func (s Stat) AppendBinary(b []byte) ([]byte, error) {
	if s.PodName != "" {
		b = binary.AppendUvarint(b, 1<<3|wireBytes)
		b = binary.AppendUvarint(b, uint64(len(s.PodName)))
		b = append(b, s.PodName...)
	}
	for i, f := range [...]float64{s.AverageConcurrentRequests, s.AverageProxiedConcurrentRequests,
		s.RequestCount, s.ProxiedRequestCount, s.ProcessUptime} {
		if f == 0 && !math.Signbit(f) {
			continue
		}
		b = binary.AppendUvarint(b, uint64(i+2)<<3|wireFixed64)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
	}
	if s.Timestamp != 0 {
		b = binary.AppendUvarint(b, 7<<3|wireVarint)
		b = binary.AppendUvarint(b, uint64(s.Timestamp))
	}
	return b, nil
}
