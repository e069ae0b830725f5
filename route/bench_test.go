package route

import (
	"strconv"
	"testing"
)

func BenchmarkLookupPick(b *testing.B) {
	tbl := helloTable(b, true)
	b.Run("default-host", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p, _ := tbl.Lookup("hello.default.example.com", "")
			_ = p.Pick()
		}
	})
	b.Run("host-with-port+tag-header", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p, _ := tbl.Lookup("hello.default.example.com:8080", "candidate")
			_ = p.Pick()
		}
	})
	b.Run("keyed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p, _ := tbl.Lookup("hello.default.example.com", "")
			_ = p.PickKey("session-0123456789")
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				p, _ := tbl.Lookup("hello.default.example.com", "")
				_ = p.Pick()
			}
		})
	})
	b.Run("parallel-keyed", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				p, _ := tbl.Lookup("hello.default.example.com", "")
				_ = p.PickKey("session-0123456789")
			}
		})
	})
}

// BenchmarkLookupPickLargeTable looks up in a table of 10,000 routes.
func BenchmarkLookupPickLargeTable(b *testing.B) {
	tbl, err := NewTable(manyRoutes(b, 10_000), TableOptions{})
	if err != nil {
		b.Fatal(err)
	}
	hosts := make([]string, 1024)
	for i := range hosts {
		hosts[i] = "svc-" + strconv.Itoa(i*7%10_000) + ".ns-" + strconv.Itoa(i*7%10_000%50) + ".example.com"
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p, _ := tbl.Lookup(hosts[i&1023], "")
		_ = p.Pick()
		i++
	}
}

// manyRoutes builds the table entries of n routes: 90/10 default traffic and
// one tag each, through Resolve and Config.TableRoute.
func manyRoutes(tb testing.TB, n int) []TableRoute {
	tb.Helper()
	c := Config{Domains: []DomainRule{{Domain: "example.com"}}}
	out := make([]TableRoute, 0, n)
	for i := range n {
		name := "svc-" + strconv.Itoa(i)
		r := Route{Name: name, Namespace: "ns-" + strconv.Itoa(i%50), Traffic: []Target{
			{RevisionName: name + "-00001", Percent: pct(90)},
			{RevisionName: name + "-00002", Percent: pct(10), Tag: "candidate"},
		}}
		tr := Traffic{
			Targets: []ResolvedTarget{{RevisionName: name + "-00001", Percent: 90}, {Tag: "candidate", RevisionName: name + "-00002", Percent: 10}},
			Groups: map[string][]ResolvedTarget{
				"":          {{RevisionName: name + "-00001", Percent: 90}, {Tag: "candidate", RevisionName: name + "-00002", Percent: 10}},
				"candidate": {{Tag: "candidate", RevisionName: name + "-00002", Percent: 100}},
			},
		}
		e, err := c.TableRoute(r, tr, nil)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// BenchmarkTableRebuild measures NewTable over 10,000 routes (20,000
// destinations, 160,000 hosts), the work a route change costs.
func BenchmarkTableRebuild(b *testing.B) {
	routes := manyRoutes(b, 10_000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewTable(routes, TableOptions{TagHeaderRouting: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTableRebuildFromSpecs includes host rendering and resolution:
// Resolve + Config.TableRoute for each of 10,000 routes, then NewTable.
func BenchmarkTableRebuildFromSpecs(b *testing.B) {
	const n = 10_000
	lookup := MapLookup{Configurations: map[string]Configuration{}, Revisions: map[string]Revision{}}
	routes := make([]Route, n)
	for i := range n {
		name := "svc-" + strconv.Itoa(i)
		lookup.Configurations[name] = Configuration{LatestReadyRevisionName: name + "-00002", Ready: StatusTrue}
		lookup.Revisions[name+"-00001"] = Revision{Ready: StatusTrue, ConfigurationName: name}
		lookup.Revisions[name+"-00002"] = Revision{Ready: StatusTrue, ConfigurationName: name}
		routes[i] = Route{Name: name, Namespace: "ns-" + strconv.Itoa(i%50), Traffic: []Target{
			{RevisionName: name + "-00001", Percent: pct(90)},
			{ConfigurationName: name, Percent: pct(10), Tag: "candidate"},
		}}
	}
	c := Config{Domains: []DomainRule{{Domain: "example.com"}}}
	b.ReportAllocs()
	for b.Loop() {
		entries := make([]TableRoute, 0, n)
		for _, r := range routes {
			tr, err := Resolve(r.Traffic, lookup)
			if err != nil {
				b.Fatal(err)
			}
			e, err := c.TableRoute(r, tr, nil)
			if err != nil {
				b.Fatal(err)
			}
			entries = append(entries, e)
		}
		if _, err := NewTable(entries, c.TableOptions()); err != nil {
			b.Fatal(err)
		}
	}
}
