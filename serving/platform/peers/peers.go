// Package peers is the protocol between the replicas of a servekit platform in a
// Kubernetes cluster (serving/platform/cluster). Every replica serves the ingress
// and runs an activator; Kubernetes' Service spreads requests over them. Two things
// then cross replicas, as in Knative (where the activators report to the autoscaler
// over a websocket and read their index from the activator Service's endpoints):
//
//   - demand: each replica's activator reports (per revision, every second, and at
//     once on a cold start) go to every peer, whose controller records them in its
//     autoscaler. So the leader, which scales, sees requests held by a follower and
//     scales the revision from zero at once; a follower's autoscaler stays warm.
//   - capacity: each replica finds its index among the ready peers (sorted by
//     address) and gives it to its activator (Controller.UpdateActivators), so that
//     the replicas' shares of a revision's containerConcurrency add up to it.
//
// The peers are the ready endpoints of a headless Service (Watch) whose port named
// "admin" is the replicas' admin port; reports are POSTed there, to StatsPath, with
// the installation's peer token (Token). See docs/kubernetes-replicas.md.
package peers

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/servekit/servekit/queue"
	"github.com/servekit/servekit/serving/runtime/kube"
)

// StatsPath is where a replica receives its peers' activator reports (Peers'
// ServeHTTP), on its admin listener.
const StatsPath = "/peer/activator-stats"

// TokenKey is the key of the peer token in its Secret (see Token).
const TokenKey = "token"

// maxReport bounds the body of one report batch.
const maxReport = 1 << 20

// stat is one activator report for one revision, as sent between replicas.
type stat struct {
	Namespace   string  `json:"namespace"`
	Name        string  `json:"name"`
	Concurrency float64 `json:"concurrency"`
	Requests    float64 `json:"requests"`
}

// batch is the body of a POST to StatsPath.
type batch struct {
	Stats []stat `json:"stats"`
}

// Recorder is what Peers need of the controller; serving/controller's Controller
// satisfies it.
type Recorder interface {
	// RecordActivatorStat records a peer's activator report for one revision.
	RecordActivatorStat(namespace, name string, concurrency, requestCount float64)
	// UpdateActivators gives this replica's activator its index among count
	// replicas (-1: it uses every pod).
	UpdateActivators(index, count int) error
}

// Options configure Peers.
type Options struct {
	// Self is this replica's "ip:port" as its peers see it among the addresses
	// (SetAddrs). Required.
	Self string
	// Token is the installation's peer token: sent with every report, and
	// required of every report received. Empty refuses every report.
	Token string
	// Recorder receives the peers' reports and this replica's subset. Required.
	Recorder Recorder
	// Logger receives the peers' logs; nil discards them.
	Logger *slog.Logger
	// Transport carries the reports to the peers; nil means
	// http.DefaultTransport. Each report times out after 2 s.
	Transport http.RoundTripper
}

// Peers tracks the replicas and carries activator reports between them. Create it
// with New; give Observe to the controller (Options.OnActivatorStat), serve it on
// StatsPath, keep its addresses current (SetAddrs, or Watch), and Run it.
type Peers struct {
	self   string // this replica's "ip:port" among the peers' addresses
	token  string
	ctrl   Recorder
	log    *slog.Logger
	client *http.Client

	wake chan struct{} // buffer 1: reports are waiting

	mu struct {
		sync.Mutex
		addrs   []string // ready peers, sorted, self included when listed
		pending []stat   // reports not yet sent
	}
}

// New returns Peers that know no peer yet.
func New(o Options) *Peers {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Peers{
		self: o.Self, token: o.Token, ctrl: o.Recorder, log: log,
		client: &http.Client{Timeout: 2 * time.Second, Transport: o.Transport},
		wake:   make(chan struct{}, 1),
	}
}

// SetAddrs records the ready peers ("ip:port", in any order, Self included when it
// is ready) and, when they changed, gives the activator its subset: this replica's
// index among them and their count.
func (p *Peers) SetAddrs(addrs []string) {
	addrs = slices.Clone(addrs)
	slices.Sort(addrs)
	addrs = slices.Compact(addrs)
	p.mu.Lock()
	same := slices.Equal(addrs, p.mu.addrs)
	p.mu.addrs = addrs
	p.mu.Unlock()
	if same {
		return
	}
	index, count := subset(addrs, p.self)
	if err := p.ctrl.UpdateActivators(index, count); err != nil {
		p.log.Error("peers: activator subset", "index", index, "count", count, "err", err)
		return
	}
	p.log.Info("peers: activator subset", "index", index, "count", count, "peers", addrs)
}

// subset is this replica's index among the sorted ready peers and their count. A
// replica not listed (not ready yet: the Service sends it no traffic) uses every pod.
func subset(sorted []string, self string) (index, count int) {
	i, ok := slices.BinarySearch(sorted, self)
	if !ok || len(sorted) <= 1 {
		return -1, len(sorted)
	}
	return i, len(sorted)
}

// Observe is Controller's OnActivatorStat: it queues the report for the peers. It
// never blocks; beyond 10,000 queued reports (a stalled sender) it drops them.
func (p *Peers) Observe(namespace, name string, concurrency, requestCount float64) {
	p.mu.Lock()
	if len(p.mu.pending) < 10000 { // a stalled sender must not grow without bound
		p.mu.pending = append(p.mu.pending, stat{namespace, name, concurrency, requestCount})
	}
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Run sends the queued reports to every other peer until ctx is done; it returns nil
// then. A report a peer does not take is logged and dropped: the next second's
// report replaces it.
func (p *Peers) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-p.wake:
		}
		p.mu.Lock()
		pending := p.mu.pending
		p.mu.pending = nil
		addrs := p.mu.addrs
		p.mu.Unlock()
		body, err := json.Marshal(batch{Stats: pending})
		if err != nil || len(pending) == 0 {
			continue
		}
		var wg sync.WaitGroup
		for _, a := range addrs {
			if a == p.self {
				continue
			}
			wg.Go(func() { p.send(ctx, a, body) })
		}
		wg.Wait()
	}
}

func (p *Peers) send(ctx context.Context, addr string, body []byte) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+StatsPath, bytes.NewReader(body))
	if err != nil {
		p.log.Error("peers: report", "peer", addr, "err", err)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(queue.PeerTokenHeader, p.token)
	resp, err := p.client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			p.log.Warn("peers: report not delivered", "peer", addr, "err", err)
		}
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		p.log.Warn("peers: report refused", "peer", addr, "status", resp.Status)
	}
}

// ServeHTTP receives a peer's reports: POST, the peer token in
// queue.PeerTokenHeader, a JSON body {"stats": [{"namespace", "name",
// "concurrency", "requests"}...]}. It answers 204 once every report is recorded,
// 403 without the right token, 400 (recording nothing) if any report is invalid.
func (p *Peers) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed: POST only", http.StatusMethodNotAllowed)
		return
	}
	if p.token == "" || subtle.ConstantTimeCompare([]byte(r.Header.Get(queue.PeerTokenHeader)), []byte(p.token)) != 1 {
		http.Error(w, "header "+queue.PeerTokenHeader+": missing or wrong", http.StatusForbidden)
		return
	}
	var b batch
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxReport))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
		return
	}
	for i, s := range b.Stats {
		if err := s.validate(); err != nil {
			http.Error(w, fmt.Sprintf("body: stats[%d]: %v", i, err), http.StatusBadRequest)
			return
		}
	}
	for _, s := range b.Stats {
		p.ctrl.RecordActivatorStat(s.Namespace, s.Name, s.Concurrency, s.Requests)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s stat) validate() error {
	switch {
	case s.Namespace == "" || s.Name == "":
		return errors.New("namespace and name: required")
	case math.IsNaN(s.Concurrency) || math.IsInf(s.Concurrency, 0) || s.Concurrency < 0:
		return fmt.Errorf("concurrency: %v: not a finite number >= 0", s.Concurrency)
	case math.IsNaN(s.Requests) || math.IsInf(s.Requests, 0) || s.Requests < 0:
		return fmt.Errorf("requests: %v: not a finite number >= 0", s.Requests)
	}
	return nil
}

// Watch keeps p's addresses equal to the ready endpoints of the Service
// namespace/name (its port named "admin", or its only port) until ctx is done; it
// returns nil then.
func Watch(ctx context.Context, cs kubernetes.Interface, namespace, name string, p *Peers) error {
	f := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.LabelSelector = discoveryv1.LabelServiceName + "=" + name
		}))
	inf := f.Discovery().V1().EndpointSlices().Informer()
	update := func(any) {
		var addrs []string
		for _, obj := range inf.GetStore().List() {
			addrs = append(addrs, sliceAddrs(obj.(*discoveryv1.EndpointSlice))...)
		}
		p.SetAddrs(addrs)
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: update, UpdateFunc: func(_, o any) { update(o) }, DeleteFunc: update,
	}); err != nil {
		return fmt.Errorf("peers: watch %s/%s: %w", namespace, name, err)
	}
	f.Start(ctx.Done())
	<-ctx.Done()
	f.Shutdown()
	return nil
}

// sliceAddrs is the "ip:port" of each ready endpoint of s.
func sliceAddrs(s *discoveryv1.EndpointSlice) []string {
	var port int32
	for _, sp := range s.Ports {
		if sp.Port == nil {
			continue
		}
		if (sp.Name != nil && *sp.Name == "admin") || len(s.Ports) == 1 {
			port = *sp.Port
		}
	}
	if port == 0 {
		return nil
	}
	var out []string
	for _, ep := range s.Endpoints {
		if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
			continue
		}
		if ep.Conditions.Terminating != nil && *ep.Conditions.Terminating {
			continue
		}
		for _, ip := range ep.Addresses {
			out = append(out, net.JoinHostPort(ip, strconv.Itoa(int(port))))
		}
	}
	return out
}

// Token returns the installation's peer token from Secret namespace/name (key
// TokenKey), creating it with 32 random bytes if it does not exist, labelled as
// managed by servekit. Every replica calls it at start; the first to create it wins.
func Token(ctx context.Context, cs kubernetes.Interface, namespace, name string) (string, error) {
	secrets := cs.CoreV1().Secrets(namespace)
	for range 3 {
		s, err := secrets.Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			tok := string(s.Data[TokenKey])
			if tok == "" {
				return "", fmt.Errorf("peers: token: Secret %s/%s has no %q key", namespace, name, TokenKey)
			}
			return tok, nil
		}
		if !apierrors.IsNotFound(err) {
			return "", fmt.Errorf("peers: token: get %s/%s: %w", namespace, name, err)
		}
		raw := make([]byte, 32)
		_, _ = rand.Read(raw)
		tok := base64.RawURLEncoding.EncodeToString(raw)
		_, err = secrets.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name,
				Labels: map[string]string{kube.ManagedByLabelKey: kube.ManagedByValue}},
			Data: map[string][]byte{TokenKey: []byte(tok)},
		}, metav1.CreateOptions{})
		if err == nil {
			return tok, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return "", fmt.Errorf("peers: token: create %s/%s: %w", namespace, name, err)
		}
	}
	return "", fmt.Errorf("peers: token: %s/%s: created and deleted concurrently", namespace, name)
}
