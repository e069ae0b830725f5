package kube

import (
	"context"
	"net"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/autoscaler/metrics"
	"github.com/servekit/servekit/serving/runtime"
)

// maxConcurrentScrapes bounds the scrapes in flight during one round.
const maxConcurrentScrapes = 16

func joinHostPort(host string, port int32) string {
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}

// metricsURL is the queue proxy's stats endpoint of the pod at address (ip:port).
func metricsURL(address string) string {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		host = address
	}
	return "http://" + joinHostPort(host, QueueMetricsPort) + "/metrics"
}

// scrapeLoop scrapes every ready pod of every applied revision once per
// ScrapeInterval until ctx ends.
func (b *Backend) scrapeLoop(ctx context.Context) {
	t := b.clock.NewTicker(b.opts.ScrapeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			b.scrapeAll(ctx)
			if b.scrapedHook != nil {
				b.scrapedHook()
			}
		}
	}
}

// scrapeAll runs one round: every ready, non-terminating pod of every revision. A pod
// whose scrape fails has no stats until a later scrape succeeds.
func (b *Backend) scrapeAll(ctx context.Context) {
	type target struct {
		key types.NamespacedName
		pod runtime.Pod
	}
	var targets []target
	for _, key := range b.keys() {
		for _, p := range b.Pods(key) {
			if p.Ready && !p.Terminating {
				targets = append(targets, target{key, p})
			}
		}
	}
	results := make([]*scraped, len(targets))
	var g errgroup.Group
	g.SetLimit(maxConcurrentScrapes)
	for i, tg := range targets {
		g.Go(func() error {
			st, err := b.stats.ScrapeStat(ctx, metricsURL(tg.pod.Address))
			if err != nil {
				b.log.Debug("kube: scrape failed", "revision", tg.key.String(), "pod", tg.pod.Name, "err", err)
				return nil
			}
			st.PodName = tg.pod.Name
			results[i] = &scraped{at: b.clock.Now(), stat: st}
			return nil
		})
	}
	_ = g.Wait()

	fresh := make(map[types.NamespacedName]map[string]scraped)
	for i, tg := range targets {
		if results[i] == nil {
			continue
		}
		m := fresh[tg.key]
		if m == nil {
			m = make(map[string]scraped)
			fresh[tg.key] = m
		}
		m[tg.pod.Name] = *results[i]
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for key := range b.mu.stats {
		if _, ok := b.mu.revs[key]; !ok {
			delete(b.mu.stats, key)
		}
	}
	for key := range b.mu.revs {
		b.mu.stats[key] = fresh[key] // nil when no pod answered
	}
}

// Stats returns the last scrape of each of the revision's pods, if it is no older
// than three scrape intervals at now.
func (b *Backend) Stats(key types.NamespacedName, now time.Time) []metrics.Stat {
	b.mu.Lock()
	defer b.mu.Unlock()
	oldest := now.Add(-3 * b.opts.ScrapeInterval)
	var out []metrics.Stat
	for _, s := range b.mu.stats[key] {
		if !s.at.Before(oldest) {
			out = append(out, s.stat)
		}
	}
	return out
}
