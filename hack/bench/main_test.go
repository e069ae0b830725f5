package main

import (
	"strings"
	"testing"
)

const wrkOut = `Running 5s test @ http://127.0.0.1:41234/
  2 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.31ms    2.03ms  40.11ms   91.60%
    Req/Sec     4.90k   412.33     5.61k    70.00%
  Latency Distribution
     50%  812.00us
     75%    1.20ms
     90%    2.50ms
     99%   12.04ms
  48761 requests in 5.00s, 6.88MB read
Requests/sec:   9751.42
Transfer/sec:      1.38MB
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(wrkOut)
	if err != nil {
		t.Fatal(err)
	}
	if r.rps != 9751.42 || r.p50 != 0.812 || r.p99 != 12.04 {
		t.Errorf("parseWrk = %+v, want rps 9751.42, p50 0.812 ms, p99 12.04 ms", r)
	}
}

func TestParseWrkRejectsErrorsAndTruncatedOutput(t *testing.T) {
	for name, out := range map[string]string{
		"non-2xx":   strings.Replace(wrkOut, "Requests/sec", "  Non-2xx or 3xx responses: 48761\nRequests/sec", 1),
		"socket":    strings.Replace(wrkOut, "Requests/sec", "  Socket errors: connect 0, read 3, write 0, timeout 0\nRequests/sec", 1),
		"truncated": wrkOut[:strings.Index(wrkOut, "  Latency Distribution")],
		"bad unit":  strings.Replace(wrkOut, "12.04ms", "12.04xs", 1),
	} {
		if _, err := parseWrk(out); err == nil {
			t.Errorf("%s: parseWrk accepted it", name)
		}
	}
}

func TestDurationMS(t *testing.T) {
	for in, want := range map[string]float64{"500.00us": 0.5, "1.50ms": 1.5, "2.00s": 2000, "1.00m": 60000} {
		got, err := durationMS(in)
		if err != nil || got != want {
			t.Errorf("durationMS(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

func TestMedianTakesEachFieldAlone(t *testing.T) {
	got := median([]result{{rps: 3, p50: 9, p99: 1}, {rps: 1, p50: 8, p99: 3}, {rps: 2, p50: 7, p99: 2}})
	if got != (result{rps: 2, p50: 8, p99: 2}) {
		t.Errorf("median = %+v, want {2 8 2}", got)
	}
	if got := median([]result{{rps: 1}, {rps: 4}}); got.rps != 2.5 {
		t.Errorf("median of two = %v, want their mean 2.5", got.rps)
	}
}

func TestParseInts(t *testing.T) {
	if got, err := parseInts("10, 100"); err != nil || len(got) != 2 || got[0] != 10 || got[1] != 100 {
		t.Errorf("parseInts = %v, %v", got, err)
	}
	for _, bad := range []string{"", "x", "-1", "10,"} {
		if _, err := parseInts(bad); err == nil {
			t.Errorf("parseInts(%q) accepted", bad)
		}
	}
}
