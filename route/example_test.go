package route_test

import (
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/servekit/servekit/route"
)

func pct(p int64) *int64 { return &p }

// The controller's path: resolve every Route against the Configurations and
// Revisions it knows, turn each into a table entry, build one Table and
// store it; the ingress then looks up each request's Host and picks.
func Example_controller() {
	cfg, err := route.ConfigFromMaps(route.ConfigMaps{
		Domain:   map[string]string{"example.com": ""},
		Features: map[string]string{"tag-header-based-routing": "enabled"},
	})
	if err != nil {
		log.Fatal(err)
	}
	lookup := route.MapLookup{
		Configurations: map[string]route.Configuration{
			"hello": {LatestReadyRevisionName: "hello-00002", Ready: route.StatusTrue},
			"shop":  {LatestReadyRevisionName: "shop-00001", Ready: route.StatusTrue},
		},
		Revisions: map[string]route.Revision{
			"hello-00001": {Ready: route.StatusTrue, ConfigurationName: "hello"},
			"hello-00002": {Ready: route.StatusTrue, ConfigurationName: "hello"},
			"shop-00001":  {Ready: route.StatusTrue, ConfigurationName: "shop"},
		},
	}
	routes := []route.Route{{
		Name: "hello", Namespace: "default",
		Traffic: []route.Target{
			{RevisionName: "hello-00001", Percent: pct(90)},
			{ConfigurationName: "hello", Percent: pct(10), Tag: "candidate"},
		},
	}, {
		Name: "shop", Namespace: "default",
		Traffic: []route.Target{{ConfigurationName: "shop", Percent: pct(100)}},
	}}

	var entries []route.TableRoute
	for _, r := range routes {
		if err := route.ValidateTargets(r.Traffic); err != nil {
			log.Fatal(err)
		}
		traffic, err := route.Resolve(r.Traffic, lookup)
		if err != nil {
			log.Fatal(err) // a *route.TargetError: RevisionMissing, ...
		}
		entry, err := cfg.TableRoute(r, traffic, nil)
		if err != nil {
			log.Fatal(err)
		}
		entries = append(entries, entry)
	}
	table, err := route.NewTable(entries, cfg.TableOptions())
	if err != nil {
		log.Fatal(err)
	}
	var holder route.TableHolder // shared with the ingress handler
	holder.Store(table)

	// In the ingress, per request: Lookup(r.Host, r.Header.Get(route.TagHeader)).
	counts := map[string]int{}
	for range 100 {
		p, _ := holder.Lookup("hello.default.example.com:80", "")
		counts[p.Pick()]++
	}
	fmt.Println("hello:", counts)
	p, _ := holder.Lookup("candidate-hello.default.example.com", "")
	fmt.Println("candidate host:", p.Pick())
	p, _ = holder.Lookup("hello.default.example.com", "candidate")
	fmt.Println("candidate header:", p.Pick())
	p, _ = holder.Lookup("shop.default.svc.cluster.local", "")
	fmt.Println("shop in-cluster:", p.Pick())
	_, ok := holder.Lookup("nope.example.com", "")
	fmt.Println("unknown host found:", ok)
	// Output:
	// hello: map[hello-00001:90 hello-00002:10]
	// candidate host: hello-00002
	// candidate header: hello-00002
	// shop in-cluster: shop-00001
	// unknown host found: false
}

func ExamplePicker() {
	p, err := route.NewPicker([]route.Split{{RevisionName: "stable", Percent: 90}, {RevisionName: "canary", Percent: 10}})
	if err != nil {
		log.Fatal(err)
	}
	var picks []string
	for range 10 {
		picks = append(picks, p.Pick())
	}
	fmt.Println(strings.Join(picks, " "))
	// Sticky sessions: the same key always gets the same revision.
	first := p.PickKey("user-42")
	same := true
	for range 1000 {
		same = same && p.PickKey("user-42") == first
	}
	fmt.Println(same)
	// Output:
	// stable stable stable stable stable canary stable stable stable stable
	// true
}

func ExampleConfig_Hosts() {
	cfg, err := route.ConfigFromMaps(route.ConfigMaps{
		Network: map[string]string{"domain-template": "{{.Name}}-{{.Namespace}}.{{.Domain}}"},
		Domain:  map[string]string{"example.com": "", "internal.example.com": "selector:\n  team: ops\n"},
	})
	if err != nil {
		log.Fatal(err)
	}
	show := func(r route.Route) {
		hosts, err := cfg.Hosts(r)
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, h := range hosts {
			fmt.Printf("%q %s local=%v\n", h.Tag, h.URL, h.ClusterLocal)
		}
	}
	traffic := []route.Target{
		{ConfigurationName: "hello", Percent: pct(100)},
		{RevisionName: "hello-00001", Tag: "previous"},
	}
	show(route.Route{Name: "hello", Namespace: "default", Traffic: traffic})
	show(route.Route{Name: "hello", Namespace: "ops", Labels: map[string]string{"team": "ops"}})
	show(route.Route{Name: "hello", Namespace: "default", Labels: map[string]string{route.VisibilityLabelKey: route.VisibilityClusterLocal}})
	show(route.Route{Name: "hello", Namespace: "default", Traffic: []route.Target{{RevisionName: "r", Tag: "UPPER"}}})
	// Output:
	// "" http://hello-default.example.com local=false
	// "previous" http://previous-hello-default.example.com local=false
	// "" http://hello-ops.internal.example.com local=false
	// "" http://hello.default.svc.cluster.local local=true
	// route: spec.traffic[0].tag: domain name error: invalid domain name "UPPER-hello-default.example.com": url: Invalid value: "UPPER-hello-default.example.com": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')
}

// A gradual rollout over 120 s: the new revision gets 1% at once; when that
// is live (here after 2 s), the step size and interval follow from how long
// it took (2 s: 118 s left, 59 steps of round(99/59) = 2% every 2 s); each
// reconcile at the due time moves one step.
func ExampleAdvance() {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	const duration = 120 * time.Second
	goal := func(rev string) *route.Rollout {
		return &route.Rollout{Configurations: []route.ConfigurationRollout{{
			ConfigurationName: "hello", Percent: 100,
			Revisions: []route.RevisionRollout{{RevisionName: rev, Percent: 100}},
		}}}
	}
	show := func(now time.Time, ro *route.Rollout, next time.Time) {
		fmt.Printf("+%-5v %v", now.Sub(start), ro.Configurations[0].Revisions)
		if !next.IsZero() {
			fmt.Printf(" next +%v", next.Sub(start))
		}
		fmt.Println()
	}
	prev := goal("hello-00001") // steady state
	now := start
	ro, next := route.Advance(goal("hello-00002"), prev, duration, true, now)
	show(now, ro, next)
	now = start.Add(2 * time.Second) // the 1% split is live
	ro, next = route.Advance(goal("hello-00002"), ro, duration, true, now)
	show(now, ro, next)
	for range 3 {
		now = next
		ro, next = route.Advance(goal("hello-00002"), ro, duration, true, now)
		show(now, ro, next)
	}
	// Output:
	// +0s    [{hello-00001 99} {hello-00002 1}]
	// +2s    [{hello-00001 99} {hello-00002 1}] next +4s
	// +4s    [{hello-00001 97} {hello-00002 3}] next +6s
	// +6s    [{hello-00001 95} {hello-00002 5}] next +8s
	// +8s    [{hello-00001 93} {hello-00002 7}] next +10s
}
