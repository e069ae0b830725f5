package autoscaler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/autoscaler/metrics"
)

// Scraping constants (Knative's stats_scraper.go).
const (
	// StatsPort is the queue proxy's metrics port.
	StatsPort = "9090"
	// StatsPath is the path scraped on it.
	StatsPath = "/metrics"
	// StatsContentType is the only content type a scrape accepts
	// ([metrics.ContentType]).
	StatsContentType = metrics.ContentType
	// ScrapeTimeout bounds one pod scrape.
	ScrapeTimeout = 3 * time.Second
	// maxStatBytes is how much of a scrape body is read.
	maxStatBytes = 336
	// ScraperPodName is the PodName of an aggregated scrape.
	ScraperPodName = "service-scraper"
)

// ErrNoPods is returned by Scrape when the revision has no ready pods:
// nothing is recorded for that second.
var ErrNoPods = errors.New("autoscaler: no ready pods to scrape")

// SampleSize returns how many of n pods are scraped: all of them up to 3,
// then ceil(n·X / (n + X − 1)) with X = 1.96² × 100 / 5² (a 95 %
// confidence, 5 % error sample), which never exceeds 16.
func SampleSize(n int) int {
	if n <= 3 {
		return max(n, 0)
	}
	const x = 1.96 * 1.96 * 100 / (5 * 5)
	return int(math.Ceil(float64(n) * x / (float64(n) + x - 1)))
}

// StatsClient fetches one pod's Stat from a URL. A platform may supply its
// own transport; [HTTPStatsClient] is the plain-HTTP one.
type StatsClient interface {
	ScrapeStat(ctx context.Context, url string) (Stat, error)
}

// HTTPStatsClient scrapes over HTTP. Its zero value uses
// http.DefaultTransport and a 3 s timeout per scrape.
type HTTPStatsClient struct {
	// Client is the HTTP client; nil means http.DefaultClient. The 3 s
	// per-scrape timeout applies either way.
	Client *http.Client
}

// StatusError is a scrape answered with a non-2xx status.
type StatusError struct {
	// URL is the scraped URL.
	URL string
	// StatusCode is the HTTP status received.
	StatusCode int
}

// Error returns "autoscaler: scrape <url>: status <code>".
func (e *StatusError) Error() string {
	return fmt.Sprintf("autoscaler: scrape %s: status %d", e.URL, e.StatusCode)
}

// MightBeMesh reports a 502 or 503, which Knative reads as "a service mesh
// is in the way".
func (e *StatusError) MightBeMesh() bool {
	return e.StatusCode == http.StatusBadGateway || e.StatusCode == http.StatusServiceUnavailable
}

// ScrapeStat GETs url with Accept: application/protobuf and decodes the
// Stat. Non-2xx statuses, any Content-Type other than exactly
// application/protobuf, and malformed bodies are errors. At most 336 bytes
// of body are read, as in Knative.
func (h HTTPStatsClient) ScrapeStat(ctx context.Context, url string) (Stat, error) {
	ctx, cancel := context.WithTimeout(ctx, ScrapeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Stat{}, fmt.Errorf("autoscaler: scrape %s: %w", url, err)
	}
	req.Header.Set("Accept", StatsContentType)
	c := h.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return Stat{}, fmt.Errorf("autoscaler: scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return Stat{}, &StatusError{URL: url, StatusCode: resp.StatusCode}
	}
	if ct := resp.Header.Get("Content-Type"); ct != StatsContentType {
		return Stat{}, fmt.Errorf("autoscaler: scrape %s: Content-Type %q, want %q", url, ct, StatsContentType)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxStatBytes))
	if err != nil {
		return Stat{}, fmt.Errorf("autoscaler: scrape %s: %w", url, err)
	}
	var st Stat
	if err := st.UnmarshalBinary(body); err != nil {
		return Stat{}, fmt.Errorf("autoscaler: scrape %s: %w", url, err)
	}
	return st, nil
}

// Pod is one ready pod of a revision, as the scraper needs it.
type Pod struct {
	// Address is the pod's IP or host name. Without a port, port 9090 is
	// used; with one (host:port), that port is.
	Address string
	// Started is when the pod started; pods running for at least the
	// stable window are preferred. Zero means unknown (counts as young).
	Started time.Time
}

// URL returns http://<address>:9090/metrics.
func (p Pod) URL() string {
	host := p.Address
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(host, StatsPort)
	}
	return "http://" + host + StatsPath
}

// PodLister lists a revision's ready pods.
type PodLister interface {
	ReadyPodsOf(key types.NamespacedName) ([]Pod, error)
}

// Scraper scrapes a statistical sample of a revision's ready pods and
// extrapolates to the revision total (Knative's pod-direct scraping; the
// service-mesh fallback is not implemented).
type Scraper struct {
	// Pods lists the ready pods; required.
	Pods PodLister
	// Client fetches one stat; nil means HTTPStatsClient{}.
	Client StatsClient
	// Shuffle shuffles n elements; nil means math/rand/v2's Shuffle.
	Shuffle func(n int, swap func(i, j int))
}

// Scrape returns the extrapolated revision total at now: with N ready pods
// it scrapes n = SampleSize(N) of them (pods older than the stable window
// first, each group shuffled; n workers each take the next untried pod
// until one succeeds), sums the n stats field by field and multiplies by
// N/n. Fewer than n successes is an error; N = 0 is ErrNoPods.
func (s *Scraper) Scrape(ctx context.Context, key types.NamespacedName, now time.Time, spec Spec) (Stat, error) {
	pods, err := s.Pods.ReadyPodsOf(key)
	if err != nil {
		return Stat{}, fmt.Errorf("autoscaler: list pods of %s: %w", key, err)
	}
	N := len(pods)
	n := SampleSize(N)
	if n == 0 {
		return Stat{}, ErrNoPods
	}
	shuffle := s.Shuffle
	if shuffle == nil {
		shuffle = rand.Shuffle
	}
	var old, young []Pod
	for _, p := range pods {
		if !p.Started.IsZero() && now.Sub(p.Started) >= spec.StableWindow {
			old = append(old, p)
		} else {
			young = append(young, p)
		}
	}
	shuffle(len(old), func(i, j int) { old[i], old[j] = old[j], old[i] })
	order := old
	if len(old) < n {
		shuffle(len(young), func(i, j int) { young[i], young[j] = young[j], young[i] })
		order = append(order, young...)
	}
	client := s.Client
	if client == nil {
		client = HTTPStatsClient{}
	}

	var (
		mu   sync.Mutex
		next int
		got  []Stat
		errs []error
		wg   sync.WaitGroup
	)
	for range n {
		wg.Go(func() {
			for {
				mu.Lock()
				if next >= len(order) {
					mu.Unlock()
					return
				}
				p := order[next]
				next++
				mu.Unlock()
				st, err := client.ScrapeStat(ctx, p.URL())
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
					mu.Unlock()
					continue
				}
				got = append(got, st)
				mu.Unlock()
				return
			}
		})
	}
	wg.Wait()
	if len(got) < n {
		return Stat{}, fmt.Errorf("autoscaler: scrape %s: %d of %d sampled pods answered: %w",
			key, len(got), n, errors.Join(errs...))
	}
	var sum Stat
	for _, st := range got {
		sum.AverageConcurrentRequests += st.AverageConcurrentRequests
		sum.AverageProxiedConcurrentRequests += st.AverageProxiedConcurrentRequests
		sum.RequestCount += st.RequestCount
		sum.ProxiedRequestCount += st.ProxiedRequestCount
		sum.ProcessUptime += st.ProcessUptime
	}
	f := float64(N) / float64(n)
	return Stat{
		PodName:                          ScraperPodName,
		AverageConcurrentRequests:        sum.AverageConcurrentRequests * f,
		AverageProxiedConcurrentRequests: sum.AverageProxiedConcurrentRequests * f,
		RequestCount:                     sum.RequestCount * f,
		ProxiedRequestCount:              sum.ProxiedRequestCount * f,
		ProcessUptime:                    sum.ProcessUptime * f,
		Timestamp:                        now.Unix(),
	}, nil
}
