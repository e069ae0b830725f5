// Package promtext serves OpenCensus views in the Prometheus text exposition format.
//
// It is the one place where servekit's binaries turn the measurements recorded by the
// `*/ocmetrics` adapter packages into what an operator's Prometheus scrapes on
// `/metrics`. It exists so the binaries need neither the Prometheus client library nor
// the archived OpenCensus Prometheus exporter: the format is small, and reading the
// views' current data through view.RetrieveData is all an exporter has to do.
//
// Mapping: a Count aggregation is a counter, a Sum a counter, a LastValue a gauge and a
// Distribution a histogram (`_bucket` with cumulative `le` buckets, `_sum`, `_count`).
// Metric and label names have every character outside [a-zA-Z0-9_:] replaced by `_`.
package promtext

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"go.opencensus.io/metric/metricdata"
	"go.opencensus.io/stats/view"
)

// ContentType is the media type of the Prometheus text format version 0.0.4.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Handler returns an http.Handler that writes the current data of views in the
// Prometheus text format. The views must be registered (view.Register) by the caller;
// a view that is not registered is left out of the output.
func Handler(views ...*view.View) http.Handler {
	vs := append([]*view.View(nil), views...)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "promtext: method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", ContentType)
		if r.Method == http.MethodHead {
			return
		}
		_ = Write(w, vs...) // the client may have gone; there is no one to tell
	})
}

// Producer is a source of metrics besides views, read at every request: the
// Read method of OpenCensus's metricproducer.Producer. serving/controller/ocmetrics'
// Reporter is one: its revision gauges are not views, so that a deleted revision's
// series go with it (OpenCensus cannot remove a view's row).
type Producer interface {
	Read() []*metricdata.Metric
}

// HandlerFor is Handler that also writes the metrics of producers, after the views.
// Only gauges and cumulatives (int64 or float64) are written; other types are
// left out.
func HandlerFor(producers []Producer, views ...*view.View) http.Handler {
	vs := append([]*view.View(nil), views...)
	ps := append([]Producer(nil), producers...)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "promtext: method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", ContentType)
		if r.Method == http.MethodHead {
			return
		}
		bw := bufio.NewWriter(w)
		_ = Write(bw, vs...)
		for _, p := range ps {
			WriteMetrics(bw, p.Read())
		}
		_ = bw.Flush() // the client may have gone; there is no one to tell
	})
}

// WriteMetrics writes metrics (gauges and cumulatives) to w in the Prometheus text
// format, each metric's series sorted by their labels.
func WriteMetrics(w *bufio.Writer, metrics []*metricdata.Metric) {
	sort.Slice(metrics, func(i, j int) bool { return metrics[i].Descriptor.Name < metrics[j].Descriptor.Name })
	for _, m := range metrics {
		typ := ""
		switch m.Descriptor.Type {
		case metricdata.TypeGaugeInt64, metricdata.TypeGaugeFloat64:
			typ = "gauge"
		case metricdata.TypeCumulativeInt64, metricdata.TypeCumulativeFloat64:
			typ = "counter"
		default:
			continue
		}
		name := sanitize(m.Descriptor.Name)
		if d := m.Descriptor.Description; d != "" {
			fmt.Fprintf(w, "# HELP %s %s\n", name, escapeHelp(d))
		}
		fmt.Fprintf(w, "# TYPE %s %s\n", name, typ)
		type series struct{ labels, value string }
		ss := make([]series, 0, len(m.TimeSeries))
		for _, ts := range m.TimeSeries {
			if len(ts.Points) == 0 {
				continue
			}
			parts := make([]string, 0, len(ts.LabelValues))
			for i, lv := range ts.LabelValues {
				if i < len(m.Descriptor.LabelKeys) && lv.Present {
					parts = append(parts, sanitize(m.Descriptor.LabelKeys[i].Key)+`="`+escapeLabel(lv.Value)+`"`)
				}
			}
			sort.Strings(parts)
			v := ""
			switch x := ts.Points[len(ts.Points)-1].Value.(type) {
			case int64:
				v = strconv.FormatInt(x, 10)
			case float64:
				v = formatFloat(x)
			default:
				continue
			}
			ss = append(ss, series{strings.Join(parts, ","), v})
		}
		sort.Slice(ss, func(i, j int) bool { return ss[i].labels < ss[j].labels })
		for _, s := range ss {
			fmt.Fprintf(w, "%s%s %s\n", name, braces(s.labels), s.value)
		}
	}
}

// Write writes the current data of the registered views among views to w, in the
// order given, each view's rows sorted by their labels so the output is stable.
func Write(w io.Writer, views ...*view.View) error {
	bw := bufio.NewWriter(w)
	for _, v := range views {
		rows, err := view.RetrieveData(v.Name)
		if err != nil {
			continue // not registered: nothing to report
		}
		writeView(bw, v, rows)
	}
	return bw.Flush()
}

func writeView(w *bufio.Writer, v *view.View, rows []*view.Row) {
	name := sanitize(v.Name)
	typ := "untyped"
	switch v.Aggregation.Type {
	case view.AggTypeCount, view.AggTypeSum:
		typ = "counter"
	case view.AggTypeLastValue:
		typ = "gauge"
	case view.AggTypeDistribution:
		typ = "histogram"
	}
	desc := v.Description
	if desc == "" && v.Measure != nil {
		desc = v.Measure.Description()
	}
	if desc != "" {
		fmt.Fprintf(w, "# HELP %s %s\n", name, escapeHelp(desc))
	}
	fmt.Fprintf(w, "# TYPE %s %s\n", name, typ)

	type labelled struct {
		labels string
		row    *view.Row
	}
	ls := make([]labelled, 0, len(rows))
	for _, r := range rows {
		ls = append(ls, labelled{labels: labelString(r), row: r})
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i].labels < ls[j].labels })

	for _, l := range ls {
		switch d := l.row.Data.(type) {
		case *view.CountData:
			fmt.Fprintf(w, "%s%s %d\n", name, braces(l.labels), d.Value)
		case *view.SumData:
			fmt.Fprintf(w, "%s%s %s\n", name, braces(l.labels), formatFloat(d.Value))
		case *view.LastValueData:
			fmt.Fprintf(w, "%s%s %s\n", name, braces(l.labels), formatFloat(d.Value))
		case *view.DistributionData:
			var cum int64
			for i, bound := range v.Aggregation.Buckets {
				if i < len(d.CountPerBucket) {
					cum += d.CountPerBucket[i]
				}
				fmt.Fprintf(w, "%s_bucket%s %d\n", name, braces(join(l.labels, `le="`+formatFloat(bound)+`"`)), cum)
			}
			fmt.Fprintf(w, "%s_bucket%s %d\n", name, braces(join(l.labels, `le="+Inf"`)), d.Count)
			fmt.Fprintf(w, "%s_sum%s %s\n", name, braces(l.labels), formatFloat(d.Mean*float64(d.Count)))
			fmt.Fprintf(w, "%s_count%s %d\n", name, braces(l.labels), d.Count)
		}
	}
}

// labelString renders a row's tags as `k1="v1",k2="v2"`, sorted by key.
func labelString(r *view.Row) string {
	if len(r.Tags) == 0 {
		return ""
	}
	parts := make([]string, 0, len(r.Tags))
	for _, t := range r.Tags {
		parts = append(parts, sanitize(t.Key.Name())+`="`+escapeLabel(t.Value)+`"`)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "," + b
}

func braces(labels string) string {
	if labels == "" {
		return ""
	}
	return "{" + labels + "}"
}

func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case math.IsNaN(f):
		return "NaN"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// sanitize maps a name onto the Prometheus name alphabet [a-zA-Z0-9_:], not
// starting with a digit.
func sanitize(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 1)
	for i, r := range s {
		ok := r == '_' || r == ':' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if i == 0 && r >= '0' && r <= '9' {
			b.WriteByte('_')
		}
		if ok {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
var helpEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }
func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
