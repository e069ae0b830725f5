package peers

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/servekit/servekit/queue"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a Recorder that remembers what it was given.
type recorder struct {
	mu     sync.Mutex
	stats  []stat
	subset [][2]int
}

func (r *recorder) RecordActivatorStat(ns, name string, conc, reqs float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats = append(r.stats, stat{ns, name, conc, reqs})
}

func (r *recorder) UpdateActivators(index, count int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.subset = append(r.subset, [2]int{index, count})
	return nil
}

func TestPeerStatsHandler(t *testing.T) {
	const token = "s3cret-token"
	for _, tc := range []struct {
		name, method, token, body string
		wantCode                  int
		wantBody                  string // a substring of the answer
		wantStats                 []stat
	}{
		{name: "recorded", method: "POST", token: token,
			body:      `{"stats":[{"namespace":"default","name":"hello-00001","concurrency":2.5,"requests":3},{"namespace":"b","name":"x-00002","concurrency":0,"requests":0}]}`,
			wantCode:  http.StatusNoContent,
			wantStats: []stat{{"default", "hello-00001", 2.5, 3}, {"b", "x-00002", 0, 0}}},
		{name: "no token", method: "POST", body: `{"stats":[]}`, wantCode: http.StatusForbidden, wantBody: queue.PeerTokenHeader},
		{name: "wrong token", method: "POST", token: "s3cret-tokeN", body: `{"stats":[]}`, wantCode: http.StatusForbidden, wantBody: queue.PeerTokenHeader},
		{name: "GET", method: "GET", token: token, wantCode: http.StatusMethodNotAllowed},
		{name: "not JSON", method: "POST", token: token, body: `stats`, wantCode: http.StatusBadRequest, wantBody: "body:"},
		{name: "unknown field", method: "POST", token: token, body: `{"stats":[],"extra":1}`, wantCode: http.StatusBadRequest, wantBody: "extra"},
		{name: "negative concurrency, nothing recorded", method: "POST", token: token,
			body:     `{"stats":[{"namespace":"a","name":"b","concurrency":1,"requests":1},{"namespace":"a","name":"b","concurrency":-1,"requests":1}]}`,
			wantCode: http.StatusBadRequest, wantBody: "stats[1]: concurrency"},
		{name: "no name", method: "POST", token: token, body: `{"stats":[{"namespace":"a","concurrency":1}]}`,
			wantCode: http.StatusBadRequest, wantBody: "stats[0]: namespace and name"},
		{name: "too large", method: "POST", token: token, body: `{"stats":[` + strings.Repeat(`{"namespace":"a","name":"b"},`, maxReport/20) + `]}`,
			wantCode: http.StatusBadRequest, wantBody: "body:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			p := New(Options{Self: "10.0.0.1:8081", Token: token, Recorder: rec})
			req := httptest.NewRequest(tc.method, StatsPath, strings.NewReader(tc.body))
			if tc.token != "" {
				req.Header.Set(queue.PeerTokenHeader, tc.token)
			}
			w := httptest.NewRecorder()
			p.ServeHTTP(w, req)
			if w.Code != tc.wantCode || !strings.Contains(w.Body.String(), tc.wantBody) {
				t.Errorf("answer = %d %q, want %d containing %q", w.Code, w.Body.String(), tc.wantCode, tc.wantBody)
			}
			if diff := cmp.Diff(tc.wantStats, rec.stats); diff != "" {
				t.Errorf("recorded (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPeersWithoutTokenRefuseEverything(t *testing.T) {
	rec := &recorder{}
	p := New(Options{Self: "10.0.0.1:8081", Token: "", Recorder: rec})
	req := httptest.NewRequest("POST", StatsPath, strings.NewReader(`{"stats":[{"namespace":"a","name":"b","concurrency":1}]}`))
	w := httptest.NewRecorder()
	p.ServeHTTP(w, req)
	if w.Code != http.StatusForbidden || len(rec.stats) != 0 {
		t.Errorf("answer %d, recorded %v; want 403 and nothing recorded", w.Code, rec.stats)
	}
}

func TestSubset(t *testing.T) {
	for _, tc := range []struct {
		addrs       []string
		self        string
		index, want int
	}{
		{[]string{"10.0.0.1:8081", "10.0.0.2:8081", "10.0.0.3:8081"}, "10.0.0.2:8081", 1, 3},
		{[]string{"10.0.0.1:8081", "10.0.0.2:8081"}, "10.0.0.1:8081", 0, 2},
		{[]string{"10.0.0.1:8081"}, "10.0.0.1:8081", -1, 1},        // alone: every pod
		{[]string{"10.0.0.1:8081"}, "10.0.0.9:8081", -1, 1},        // not ready yet: every pod
		{nil, "10.0.0.9:8081", -1, 0},                              // no peers known
		{[]string{"10.0.0.1:1", "10.0.0.1:2"}, "10.0.0.1:2", 1, 2}, // same IP, ports differ
	} {
		index, count := subset(tc.addrs, tc.self)
		if index != tc.index || count != tc.want {
			t.Errorf("subset(%v, %s) = %d, %d; want %d, %d", tc.addrs, tc.self, index, count, tc.index, tc.want)
		}
	}
}

func TestSetAddrsUpdatesTheActivatorOnChange(t *testing.T) {
	rec := &recorder{}
	p := New(Options{Self: "10.0.0.2:8081", Token: "t", Recorder: rec})
	p.SetAddrs([]string{"10.0.0.3:8081", "10.0.0.2:8081", "10.0.0.1:8081", "10.0.0.2:8081"})
	p.SetAddrs([]string{"10.0.0.1:8081", "10.0.0.2:8081", "10.0.0.3:8081"}) // same set: no update
	p.SetAddrs([]string{"10.0.0.2:8081", "10.0.0.3:8081"})
	if diff := cmp.Diff([][2]int{{1, 3}, {0, 2}}, rec.subset); diff != "" {
		t.Errorf("UpdateActivators calls (-want +got):\n%s", diff)
	}
}

func TestSliceAddrs(t *testing.T) {
	yes, no := true, false
	s := &discoveryv1.EndpointSlice{
		Ports: []discoveryv1.EndpointPort{{Name: new("http"), Port: new(int32(8080))}, {Name: new("admin"), Port: new(int32(8081))}},
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.0.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: &yes}},
			{Addresses: []string{"10.0.0.2"}, Conditions: discoveryv1.EndpointConditions{Ready: &no}},
			{Addresses: []string{"10.0.0.3"}, Conditions: discoveryv1.EndpointConditions{Ready: &yes, Terminating: &yes}},
			{Addresses: []string{"fd00::4"}},
		},
	}
	if diff := cmp.Diff([]string{"10.0.0.1:8081", "[fd00::4]:8081"}, sliceAddrs(s)); diff != "" {
		t.Errorf("addresses (-want +got):\n%s", diff)
	}
	s.Ports = []discoveryv1.EndpointPort{{Name: new("http"), Port: new(int32(8080))}, {Name: new("metrics"), Port: new(int32(9090))}}
	if got := sliceAddrs(s); got != nil {
		t.Errorf("no admin port: %v, want none", got)
	}
}

// TestPeersSendToEveryOtherPeer runs the sender against two fake peers and itself.
func TestPeersSendToEveryOtherPeer(t *testing.T) {
	const token = "tok"
	got := make(chan string, 10)
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r.Header.Get(queue.PeerTokenHeader) + " " + string(b)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer peer.Close()
	self := "127.0.0.1:1" // never dialled
	p := New(Options{Self: self, Token: token, Recorder: &recorder{}})
	p.SetAddrs([]string{self, strings.TrimPrefix(peer.URL, "http://")})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()
	p.Observe("default", "hello-00001", 1, 1)
	msg := <-got
	cancel()
	<-done
	want := `tok {"stats":[{"namespace":"default","name":"hello-00001","concurrency":1,"requests":1}]}`
	if msg != want {
		t.Errorf("peer received %q, want %q", msg, want)
	}
}

func TestPeerTokenGetOrCreate(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	tok, err := Token(ctx, cs, "servekit", "servekit-peer-token")
	if err != nil || len(tok) < 40 {
		t.Fatalf("first call = %q, %v; want a new token of 32 random bytes", tok, err)
	}
	again, err := Token(ctx, cs, "servekit", "servekit-peer-token")
	if err != nil || again != tok {
		t.Errorf("second call = %q, %v; want the same token", again, err)
	}
	if _, err := cs.CoreV1().Secrets("other").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: "servekit-peer-token"},
		Data:       map[string][]byte{"wrong": []byte("x")},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Token(ctx, cs, "other", "servekit-peer-token"); err == nil || !strings.Contains(err.Error(), `"token"`) {
		t.Errorf("a Secret without the key: %v, want an error naming the key", err)
	}
}

// FuzzPeerStatsHandler feeds arbitrary bodies to the peer endpoint: it answers 204
// or 400 and never records an invalid report.
func FuzzPeerStatsHandler(f *testing.F) {
	f.Add(`{"stats":[{"namespace":"default","name":"hello-00001","concurrency":2.5,"requests":3}]}`)
	f.Add(`{"stats":[{"namespace":"a","name":"b","concurrency":1e309}]}`)
	f.Add(`{"stats":null}`)
	f.Fuzz(func(t *testing.T, body string) {
		rec := &recorder{}
		p := New(Options{Self: "10.0.0.1:8081", Token: "t", Recorder: rec})
		req := httptest.NewRequest("POST", StatsPath, strings.NewReader(body))
		req.Header.Set(queue.PeerTokenHeader, "t")
		w := httptest.NewRecorder()
		p.ServeHTTP(w, req)
		if w.Code != http.StatusNoContent && w.Code != http.StatusBadRequest {
			t.Fatalf("answer %d", w.Code)
		}
		for _, s := range rec.stats {
			if err := s.validate(); err != nil {
				t.Fatalf("recorded an invalid report %+v: %v", s, err)
			}
		}
	})
}
