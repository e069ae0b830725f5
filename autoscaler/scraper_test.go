package autoscaler

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/types"
)

func TestSampleSize(t *testing.T) {
	in := []int{-1, 0, 1, 2, 3, 4, 5, 6, 10, 20, 50, 100, 588, 589, 1000, 100000}
	want := []int{0, 0, 1, 2, 3, 4, 4, 5, 7, 9, 12, 14, 15, 16, 16, 16}
	var got []int
	for _, n := range in {
		got = append(got, SampleSize(n))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SampleSize(%v) (-want +got):\n%s", in, diff)
	}
}

func TestPodURL(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"10.0.0.1", "http://10.0.0.1:9090/metrics"},
		{"::1", "http://[::1]:9090/metrics"},
		{"127.0.0.1:4321", "http://127.0.0.1:4321/metrics"},
	} {
		if got := (Pod{Address: tc.addr}).URL(); got != tc.want {
			t.Errorf("URL(%q) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

// fakePods and fakeClient drive the Scraper without a network.
type fakePods []Pod

func (f fakePods) ReadyPodsOf(types.NamespacedName) ([]Pod, error) { return f, nil }

type fakeClient map[string]float64 // URL → concurrency; missing = error

func (f fakeClient) ScrapeStat(_ context.Context, url string) (Stat, error) {
	v, ok := f[url]
	if !ok {
		return Stat{}, fmt.Errorf("no pod at %s", url)
	}
	return Stat{AverageConcurrentRequests: v, RequestCount: 2 * v}, nil
}

func noShuffle(int, func(i, j int)) {}

type extrapCase struct {
	name string
	pods []Pod
	fc   fakeClient
	want float64
}

func TestScraperExtrapolates(t *testing.T) {
	now := sec(1000)
	old, young := sec(0), sec(990) // stable window 60 s
	pods := func(started time.Time, vals ...float64) ([]Pod, fakeClient) {
		var ps []Pod
		fc := fakeClient{}
		for i, v := range vals {
			p := Pod{Address: fmt.Sprintf("10.0.%d.%d", int(started.Unix())%250, i), Started: started}
			ps = append(ps, p)
			fc[p.URL()] = v
		}
		return ps, fc
	}
	merge := func(a, b fakeClient) fakeClient {
		for k, v := range b {
			a[k] = v
		}
		return a
	}
	tests := []extrapCase{}
	{
		p, fc := pods(young, 3, 5, 3)
		tests = append(tests, extrapCase{"3 pods, all scraped", p, fc, 11})
	}
	{
		p, fc := pods(young, 2, 4, 6, 8)
		tests = append(tests, extrapCase{"4 young pods", p, fc, 20})
	}
	{
		p, fc := pods(old, 2, 4, 6, 8, 10, 100)
		tests = append(tests, extrapCase{"6 old pods, sample 5: 30/5×6", p, fc, 36})
	}
	{
		y, fy := pods(young, 1000, 1000, 1000)
		o, fo := pods(old, 8, 10, 12, 14, 16, 18, 20, 1000)
		tests = append(tests, extrapCase{"11 pods, 7 of the 8 old ones: 98/7×11", append(y, o...), merge(fy, fo), 154})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &Scraper{Pods: fakePods(tc.pods), Client: tc.fc, Shuffle: noShuffle}
			got, err := s.Scrape(context.Background(), rev, now, mustSpec(t, nil, nil, 0))
			if err != nil {
				t.Fatal(err)
			}
			want := Stat{PodName: ScraperPodName, AverageConcurrentRequests: tc.want, RequestCount: 2 * tc.want, Timestamp: 1000}
			if diff := cmp.Diff(want, got, cmpApprox); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

var cmpApprox = cmp.Comparer(func(a, b float64) bool { return a == b || (a-b < 1e-9 && b-a < 1e-9) })

func TestScraperFailures(t *testing.T) {
	spec := mustSpec(t, nil, nil, 0)
	ps := []Pod{{Address: "10.0.0.1"}, {Address: "10.0.0.2"}, {Address: "10.0.0.3"}, {Address: "10.0.0.4"}, {Address: "10.0.0.5"}}
	t.Run("a failed pod is replaced by an untried one", func(t *testing.T) {
		fc := fakeClient{ps[1].URL(): 4, ps[2].URL(): 4, ps[3].URL(): 4, ps[4].URL(): 4} // pod 1 fails
		got, err := (&Scraper{Pods: fakePods(ps), Client: fc, Shuffle: noShuffle}).Scrape(context.Background(), rev, epoch, spec)
		if err != nil || got.AverageConcurrentRequests != 20 { // 16/4 × 5
			t.Errorf("got %v, %v; want 20", got.AverageConcurrentRequests, err)
		}
	})
	t.Run("fewer than the sample size answering is an error", func(t *testing.T) {
		fc := fakeClient{ps[0].URL(): 4, ps[1].URL(): 4, ps[2].URL(): 4}
		_, err := (&Scraper{Pods: fakePods(ps), Client: fc}).Scrape(context.Background(), rev, epoch, spec)
		if err == nil || !strings.Contains(err.Error(), "3 of 4") {
			t.Errorf("err = %v, want 3 of 4 sampled pods", err)
		}
	})
	t.Run("no pods", func(t *testing.T) {
		_, err := (&Scraper{Pods: fakePods(nil)}).Scrape(context.Background(), rev, epoch, spec)
		if !errors.Is(err, ErrNoPods) {
			t.Errorf("err = %v, want ErrNoPods", err)
		}
	})
}

func TestHTTPStatsClient(t *testing.T) {
	body, _ := Stat{PodName: "p", AverageConcurrentRequests: 2.5}.MarshalBinary()
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    Stat
		wantErr string
		mesh    bool
	}{{
		name: "protobuf stat",
		handler: func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Accept") != "application/protobuf" || r.URL.Path != "/metrics" {
				http.Error(w, "bad request", http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "application/protobuf")
			w.Write(body)
		},
		want: Stat{PodName: "p", AverageConcurrentRequests: 2.5},
	}, {
		name: "wrong content type",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/protobuf; charset=utf-8")
			w.Write(body)
		},
		wantErr: "Content-Type",
	}, {
		name:    "503 might be a mesh",
		handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) },
		wantErr: "status 503",
		mesh:    true,
	}, {
		name: "garbage body",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/protobuf")
			w.Write([]byte{0x11, 1})
		},
		wantErr: "malformed",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler) // listens on 127.0.0.1:0
			defer srv.Close()
			url := Pod{Address: strings.TrimPrefix(srv.URL, "http://")}.URL()
			got, err := HTTPStatsClient{Client: srv.Client()}.ScrapeStat(context.Background(), url)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				var se *StatusError
				if errors.As(err, &se) != tc.mesh || (tc.mesh && !se.MightBeMesh()) {
					t.Errorf("mesh flag wrong for %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
