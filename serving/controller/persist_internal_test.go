package controller

import (
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	v1 "github.com/servekit/servekit/serving/v1"
)

// countStore counts what it is asked to commit, and keeps the last commit's keys.
type countStore struct {
	commits, puts int
	last          []string
}

func (s *countStore) Load(func(Record) error) error { return nil }
func (s *countStore) Commit(puts []Record, dels []RecordKey) error {
	s.commits++
	s.puts += len(puts)
	s.last = s.last[:0]
	for _, r := range puts {
		s.last = append(s.last, "put "+r.Kind+" "+r.Namespace+"/"+r.Name)
	}
	for _, k := range dels {
		s.last = append(s.last, "delete "+k.Kind+" "+k.Namespace+"/"+k.Name)
	}
	return nil
}

// TestIncrementalPersistMissesNothing: after creates, updates (a new template, a
// traffic split with a tag, a gradual rollout) and a deletion, each committed by
// change-driven passes that encode only the objects they touched, a full
// comparison of every record finds nothing left to commit.
func TestIncrementalPersistMissesNothing(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC))
	s := &countStore{}
	c, err := New(Options{Backend: &memBackend{scale: map[types.NamespacedName]int{}}, Clock: clk, FullResyncInterval: time.Hour, Store: s})
	if err != nil {
		t.Fatal(err)
	}
	// check runs passes, then compares every record with what was committed.
	check := func(stage string) {
		t.Helper()
		for range 10 {
			c.reconcile()
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		before := s.commits
		c.persistLocked(true)
		if s.commits != before {
			t.Errorf("%s: a full comparison after change-driven commits committed %v, want nothing", stage, s.last)
		}
	}
	apply := func(name string, svc *v1.Service) {
		t.Helper()
		if err := c.Apply(name+".yaml", []v1.Object{svc}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		name := fmt.Sprintf("svc-%d", i)
		apply(name, idleService(name, "example.com/app"))
	}
	check("created") // the first pass was a full one
	// Full resyncs from here on are not due: only change-driven passes commit.
	split := idleService("svc-1", "example.com/app:v2")
	split.Spec.Traffic = []v1.TrafficTarget{
		{RevisionName: "svc-1-00001", Percent: new(int64(70)), Tag: "old"},
		{LatestRevision: new(true), Percent: new(int64(30))},
	}
	apply("svc-1", split)
	rolled := idleService("svc-2", "example.com/app:v2")
	rolled.Annotations = map[string]string{"serving.knative.dev/rollout-duration": "100s"}
	apply("svc-2", rolled)
	c.Delete("svc-3.yaml")
	check("updated and deleted")
	for range 5 {
		clk.Step(20 * time.Second) // the rollout steps on
		check("rolling out")
	}
}

// BenchmarkPersistOneChange1000 is the cost of a commit after a pass that changed
// one Revision's status, with 1,000 Services in the store: encoding the touched
// objects' records (a change-driven pass), or every record (a full resync).
func BenchmarkPersistOneChange1000(b *testing.B) {
	const n = 1000
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC))
	s := &countStore{}
	c, err := New(Options{Backend: &memBackend{scale: map[types.NamespacedName]int{}}, Clock: clk, FullResyncInterval: time.Hour, Store: s})
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		name := fmt.Sprintf("svc-%04d", i)
		if err := c.Apply(name+".yaml", []v1.Object{idleService(name, "example.com/app")}); err != nil {
			b.Fatal(err)
		}
	}
	for range 20 {
		c.reconcile()
		if c.reconciledLast() == 0 {
			break
		}
	}
	rev := c.mu.revs[types.NamespacedName{Namespace: "default", Name: "svc-0007-00001"}] // settled: nothing else changes
	if rev == nil {
		b.Fatal("no revision svc-0007-00001")
	}
	key := types.NamespacedName{Namespace: "default", Name: "svc-0007-00001"}
	for _, full := range []bool{false, true} {
		name := "touched"
		if full {
			name = "full"
		}
		b.Run(name, func(b *testing.B) {
			s.commits, s.puts = 0, 0
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				c.mu.Lock()
				rev.Status.ActualReplicas = new(int32(i))
				c.touchLocked(key) // as the reconcile round that changed it does
				c.persistLocked(full)
				c.mu.Unlock()
			}
			if s.commits != s.puts || s.commits == 0 {
				b.Fatalf("%d commits of %d records for as many changes of one record", s.commits, s.puts)
			}
		})
	}
}
