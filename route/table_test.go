package route

import (
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// helloTable builds the table of the seed's hello world: route "hello" 90%
// on hello-00001, 10% on the latest (hello-00002, tagged candidate), and a
// second route "shop" on one revision.
func helloTable(t testing.TB, header bool) *Table {
	t.Helper()
	c := Config{Domains: []DomainRule{{Domain: "example.com"}}, TagHeaderRouting: header}
	lookup := MapLookup{
		Configurations: map[string]Configuration{
			"hello": {LatestReadyRevisionName: "hello-00002", Ready: StatusTrue},
			"shop":  {LatestReadyRevisionName: "shop-00003", Ready: StatusTrue},
		},
		Revisions: map[string]Revision{
			"hello-00001": {Ready: StatusTrue, ConfigurationName: "hello"},
			"hello-00002": {Ready: StatusTrue, ConfigurationName: "hello"},
			"shop-00003":  {Ready: StatusTrue, ConfigurationName: "shop"},
		},
	}
	routes := []Route{{
		Name: "hello", Namespace: "default",
		Traffic: []Target{
			{RevisionName: "hello-00001", Percent: pct(90)},
			{ConfigurationName: "hello", Percent: pct(10), Tag: "candidate"},
		},
	}, {
		Name: "shop", Namespace: "prod",
		Traffic: []Target{{ConfigurationName: "shop", Percent: pct(100)}},
	}}
	var entries []TableRoute
	for _, r := range routes {
		tr, err := Resolve(r.Traffic, lookup)
		if err != nil {
			t.Fatal(err)
		}
		e, err := c.TableRoute(r, tr, nil)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
	}
	tbl, err := NewTable(entries, c.TableOptions())
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

func TestTableLookup(t *testing.T) {
	tests := []struct {
		name    string
		header  bool
		host    string
		tag     string
		wantOK  bool
		route   string
		wantTag string
		splits  []Split
	}{
		{name: "default host", host: "hello.default.example.com", wantOK: true, route: "hello", splits: []Split{{"hello-00001", 90}, {"hello-00002", 10}}},
		{name: "with port", host: "hello.default.example.com:8080", wantOK: true, route: "hello", splits: []Split{{"hello-00001", 90}, {"hello-00002", 10}}},
		{name: "upper case and trailing dot", host: "Hello.Default.Example.COM.", wantOK: true, route: "hello", splits: []Split{{"hello-00001", 90}, {"hello-00002", 10}}},
		{name: "tag host", host: "candidate-hello.default.example.com", wantOK: true, route: "hello", wantTag: "candidate", splits: []Split{{"hello-00002", 100}}},
		{name: "cluster-local short name", host: "hello.default", wantOK: true, route: "hello", splits: []Split{{"hello-00001", 90}, {"hello-00002", 10}}},
		{name: "cluster-local svc name", host: "candidate-hello.default.svc:80", wantOK: true, route: "hello", wantTag: "candidate", splits: []Split{{"hello-00002", 100}}},
		{name: "cluster-local full name", host: "shop.prod.svc.cluster.local", wantOK: true, route: "shop", splits: []Split{{"shop-00003", 100}}},
		{name: "unknown host", host: "nope.default.example.com", wantOK: false},
		{name: "empty host", host: "", wantOK: false},
		{name: "header ignored when routing is off", host: "hello.default.example.com", tag: "candidate", wantOK: true, route: "hello", splits: []Split{{"hello-00001", 90}, {"hello-00002", 10}}},
		{name: "header selects the tag", header: true, host: "hello.default.example.com", tag: "candidate", wantOK: true, route: "hello", wantTag: "candidate", splits: []Split{{"hello-00002", 100}}},
		{name: "unknown tag falls back to the default", header: true, host: "hello.default.example.com", tag: "nope", wantOK: true, route: "hello", splits: []Split{{"hello-00001", 90}, {"hello-00002", 10}}},
		{name: "another route's tag falls back", header: true, host: "shop.prod.example.com", tag: "candidate", wantOK: true, route: "shop", splits: []Split{{"shop-00003", 100}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tbl := helloTable(t, tc.header)
			p, ok := tbl.Lookup(tc.host, tc.tag)
			if ok != tc.wantOK {
				t.Fatalf("Lookup(%q, %q) ok = %v, want %v", tc.host, tc.tag, ok, tc.wantOK)
			}
			if !ok {
				return
			}
			if p.Route() != tc.route || p.Tag() != tc.wantTag {
				t.Errorf("Lookup() = route %q tag %q, want %q %q", p.Route(), p.Tag(), tc.route, tc.wantTag)
			}
			if diff := cmp.Diff(tc.splits, p.Splits()); diff != "" {
				t.Errorf("Splits (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTableErrors(t *testing.T) {
	_, err := NewTable([]TableRoute{
		{Namespace: "a", Name: "x", Destinations: []Destination{{Hosts: []string{"x.example.com"}, Splits: []Split{{"r", 100}}}}},
		{Namespace: "b", Name: "y", Destinations: []Destination{{Tag: "t", Hosts: []string{"X.example.com"}, Splits: []Split{{"s", 100}}}}},
	}, TableOptions{})
	var ce *ConflictError
	if !errors.As(err, &ce) || *ce != (ConflictError{Host: "x.example.com", First: "a/x", Second: "b/y tag t"}) {
		t.Errorf("NewTable(conflict) = %v, want ConflictError", err)
	}
	_, err = NewTable([]TableRoute{
		{Namespace: "a", Name: "x", Destinations: []Destination{{Tag: "t", Hosts: []string{"x"}, Splits: []Split{{"r", 60}}}}},
	}, TableOptions{})
	if got, want := errString(err), `route: a/x tag "t": route: splits sum to 60, want 100`; got != want {
		t.Errorf("NewTable(bad sum) = %q, want %q", got, want)
	}
}

func TestNilTableAndHolder(t *testing.T) {
	var tbl *Table
	if _, ok := tbl.Lookup("x", ""); ok || tbl.Len() != 0 {
		t.Error("nil table found something")
	}
	var h TableHolder
	if _, ok := h.Lookup("hello.default.example.com", ""); ok {
		t.Error("empty holder found something")
	}
	h.Store(helloTable(t, false))
	if p, ok := h.Lookup("hello.default.example.com", ""); !ok || p.Route() != "hello" {
		t.Errorf("holder Lookup = %v, %v", p, ok)
	}
	if h.Load().Len() != 2 {
		t.Errorf("Len = %d, want 2", h.Load().Len())
	}
}

// TestHolderSwapIsAtomic swaps between two tables that send a host to
// different revision sets while readers pick: every reader sees either the
// old table or the new one, never a mix.
func TestHolderSwapIsAtomic(t *testing.T) {
	mk := func(rev string) *Table {
		tbl, err := NewTable([]TableRoute{{Namespace: "n", Name: "r", Destinations: []Destination{
			{Hosts: []string{"r.n.example.com"}, Splits: []Split{{rev + "-a", 50}, {rev + "-b", 50}}},
			{Tag: "t", Hosts: []string{"t-r.n.example.com"}, Splits: []Split{{rev + "-a", 100}}},
		}}}, TableOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return tbl
	}
	old, next := mk("old"), mk("new")
	var h TableHolder
	h.Store(old)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				tbl := h.Load()
				p1, ok1 := tbl.Lookup("r.n.example.com", "")
				p2, ok2 := tbl.Lookup("t-r.n.example.com", "")
				if !ok1 || !ok2 {
					t.Error("lookup missed during swap")
					return
				}
				a, b := p1.Pick(), p2.Pick()
				if a[:3] != b[:3] {
					t.Errorf("one table gave %s and %s", a, b)
					return
				}
			}
		})
	}
	for i := range 2000 {
		if i%2 == 0 {
			h.Store(next)
		} else {
			h.Store(old)
		}
	}
	close(stop)
	wg.Wait()
}

func TestStripPort(t *testing.T) {
	for in, want := range map[string]string{
		"a.b":         "a.b",
		"a.b:80":      "a.b",
		"[::1]:8080":  "::1",
		"[::1]":       "[::1]",
		"127.0.0.1:1": "127.0.0.1",
	} {
		if got := stripPort(in); got != want {
			t.Errorf("stripPort(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTrafficWithRollout(t *testing.T) {
	// hello: 100% latest (rolling from 00001 to 00002 at 70/30), plus a
	// 0% tag "prev" pinned on 00001.
	lookup := MapLookup{
		Configurations: map[string]Configuration{"hello": {LatestReadyRevisionName: "hello-00002", Ready: StatusTrue}},
		Revisions: map[string]Revision{
			"hello-00001": {Ready: StatusTrue, ConfigurationName: "hello"},
			"hello-00002": {Ready: StatusTrue, ConfigurationName: "hello"},
		},
	}
	r := Route{Name: "hello", Namespace: "default", Traffic: []Target{
		{ConfigurationName: "hello", Percent: pct(100)},
		{RevisionName: "hello-00001", Percent: pct(0), Tag: "prev"},
	}}
	tr, err := Resolve(r.Traffic, lookup)
	if err != nil {
		t.Fatal(err)
	}
	cur := RolloutFrom(tr)
	if diff := cmp.Diff(goalFor("", "hello", "hello-00002", 100), cur); diff != "" {
		t.Fatalf("RolloutFrom (-want +got):\n%s", diff)
	}
	ro := &Rollout{Configurations: []ConfigurationRollout{{
		ConfigurationName: "hello", Percent: 100,
		Revisions: revs("hello-00001", 70, "hello-00002", 30),
	}}}
	if diff := cmp.Diff([]Split{{"hello-00001", 70}, {"hello-00002", 30}}, tr.Splits("", ro)); diff != "" {
		t.Errorf("Splits(default) (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Split{{"hello-00002", 100}}, tr.Splits("", nil)); diff != "" {
		t.Errorf("Splits(default, no rollout) (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Split{{"hello-00001", 100}}, tr.Splits("prev", ro)); diff != "" {
		t.Errorf("Splits(prev) (-want +got):\n%s", diff)
	}
	wantStatus := []ResolvedTarget{
		{RevisionName: "hello-00001", ConfigurationName: "hello", LatestRevision: true, Percent: 70},
		{RevisionName: "hello-00002", ConfigurationName: "hello", LatestRevision: true, Percent: 30},
		{Tag: "prev", RevisionName: "hello-00001", ConfigurationName: "hello", Percent: 0},
	}
	if diff := cmp.Diff(wantStatus, tr.Status(ro)); diff != "" {
		t.Errorf("Status (-want +got):\n%s", diff)
	}
	c := Config{Domains: []DomainRule{{Domain: "example.com"}}}
	e, err := c.TableRoute(r, tr, ro)
	if err != nil {
		t.Fatal(err)
	}
	want := TableRoute{Namespace: "default", Name: "hello", Destinations: []Destination{{
		Hosts:  []string{"hello.default.example.com", "hello.default", "hello.default.svc", "hello.default.svc.cluster.local"},
		Splits: []Split{{"hello-00001", 70}, {"hello-00002", 30}},
	}, {
		Tag:    "prev",
		Hosts:  []string{"prev-hello.default.example.com", "prev-hello.default", "prev-hello.default.svc", "prev-hello.default.svc.cluster.local"},
		Splits: []Split{{"hello-00001", 100}},
	}}}
	if diff := cmp.Diff(want, e); diff != "" {
		t.Errorf("TableRoute (-want +got):\n%s", diff)
	}
}

func goalFor(tag, cfg, rev string, p int) *Rollout {
	return &Rollout{Configurations: []ConfigurationRollout{{Tag: tag, ConfigurationName: cfg, Percent: p, Revisions: revs(rev, p)}}}
}

func TestLookupAllocs(t *testing.T) {
	tbl := helloTable(t, true)
	allocs := testing.AllocsPerRun(1000, func() {
		p, _ := tbl.Lookup("hello.default.example.com:80", "candidate")
		_ = p.Pick()
		p, _ = tbl.Lookup("hello.default.example.com", "")
		_ = p.PickKey("session-1")
	})
	if allocs != 0 {
		t.Errorf("Lookup+Pick allocates %v times, want 0", allocs)
	}
}

func TestTagHeaderManyTags(t *testing.T) {
	// Past smallTags the tags are kept in a map; lookups behave the same.
	for _, n := range []int{3, smallTags, smallTags + 1, 40} {
		dests := []Destination{{Hosts: []string{"r.n.example.com"}, Splits: []Split{{"default-rev", 100}}}}
		for i := range n {
			tag := "t" + strconv.Itoa(i)
			dests = append(dests, Destination{Tag: tag, Hosts: []string{tag + "-r.n.example.com"}, Splits: []Split{{tag + "-rev", 100}}})
		}
		tbl, err := NewTable([]TableRoute{{Namespace: "n", Name: "r", Destinations: dests}}, TableOptions{TagHeaderRouting: true})
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			tag := "t" + strconv.Itoa(i)
			if p, ok := tbl.Lookup("r.n.example.com", tag); !ok || p.Pick() != tag+"-rev" {
				t.Errorf("%d tags: header %q picked %v", n, tag, p.Splits())
			}
		}
		if p, _ := tbl.Lookup("r.n.example.com", "unknown"); p.Pick() != "default-rev" {
			t.Errorf("%d tags: unknown tag picked %v", n, p.Splits())
		}
	}
}
