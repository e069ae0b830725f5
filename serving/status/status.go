// Package status reads a running servekit controller's status over HTTP and prints
// it as tables, like `kubectl get ksvc` and `kubectl get revisions`: the client
// side of serving/controller's StatusHandler, what `controller get` shows.
package status

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/servekit/servekit/serving/controller"
)

// Fetch reads GET /status from the admin listener at adminAddr ("host:port") of a
// running controller (serving/controller's StatusHandler), with a 10 s timeout on
// top of ctx. Its errors say what to check.
func Fetch(ctx context.Context, adminAddr string) (controller.Status, error) {
	var st controller.Status
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+adminAddr+"/status", nil)
	if err != nil {
		return st, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, fmt.Errorf("is the controller running with --admin %s? %w", adminAddr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("GET /status: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("GET /status: %w", err)
	}
	return st, nil
}

// Print writes st as `kubectl get ksvc`, `kubectl get revisions` and `kubectl get
// pods` would: a table of services, a table of revisions (with their traffic, tags,
// scale and whether the activator is in their path), a table of their pods (in
// rotation or not and why, restarts, last failed probe) if there are any, a table of
// the DomainMappings if there are any, then the manifests the controller rejected,
// if any.
func Print(w io.Writer, st controller.Status) {
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tNAME\tURL\tLATESTCREATED\tLATESTREADY\tREADY\tREASON")
	for _, s := range st.Services {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Namespace, s.Name, s.URL,
			s.LatestCreatedRevisionName, s.LatestReadyRevisionName, title(s.Ready), s.Reason)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tNAME\tSERVICE\tTRAFFIC\tTAGS\tDESIRED\tREADY PODS\tACTUAL\tACTIVATOR\tREADY\tREASON")
	for _, s := range st.Services {
		for _, r := range s.Revisions {
			pct, tags := int64(0), []string{}
			for _, t := range s.Traffic {
				if t.RevisionName == r.Name {
					pct += t.Percent
					if t.Tag != "" {
						tags = append(tags, t.Tag)
					}
				}
			}
			traffic := ""
			if pct > 0 {
				traffic = strconv.FormatInt(pct, 10) + "%"
			}
			activator := "no"
			if r.ActivatorInPath {
				activator = "in path"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n", s.Namespace, r.Name, s.Name, traffic,
				strings.Join(tags, ","), r.DesiredScale, r.ReadyPods, r.ActualPods, activator, title(r.Ready), r.Reason)
		}
	}
	tw.Flush()
	printPods(w, st)
	printDomainMappings(w, st)
	if len(st.Errors) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "REJECTED MANIFESTS (nothing of them applied):")
		for _, e := range st.Errors {
			fmt.Fprintf(w, "  %s\n", e.Error)
		}
	}
}

// printPods writes a table of every revision's pods (like `kubectl get pods`), if
// there are any: whether each is in rotation, why not, its restarts and its last
// failed probe.
func printPods(w io.Writer, st controller.Status) {
	havePods := false
	for _, s := range st.Services {
		for _, r := range s.Revisions {
			havePods = havePods || len(r.Pods) > 0
		}
	}
	if !havePods {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tREVISION\tPOD\tREADY\tRESTARTS\tREASON\tLAST PROBE FAILURE")
	for _, s := range st.Services {
		for _, r := range s.Revisions {
			for _, p := range r.Pods {
				reason := p.Reason
				switch {
				case p.Terminating:
					reason = "Terminating"
				case p.Pending && reason == "":
					reason = "Pending"
				}
				failure := ""
				if f := p.LastProbeFailure; f != nil {
					failure = fmt.Sprintf("%s at %s: %s", f.Probe, f.Time.Format(time.RFC3339), f.Message)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", s.Namespace, r.Name, p.Name, title(p.Ready), p.Restarts,
					oneLine(reason), oneLine(failure))
			}
		}
	}
	tw.Flush()
}

// printDomainMappings writes a table of the DomainMappings (like `kubectl get
// domainmappings`), if there are any.
func printDomainMappings(w io.Writer, st controller.Status) {
	if len(st.DomainMappings) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tDOMAINMAPPING\tURL\tREF\tREADY\tREASON")
	for _, d := range st.DomainMappings {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.Namespace, d.Name, d.URL, d.Ref, title(d.Ready), d.Reason)
	}
	tw.Flush()
}

// oneLine keeps a table cell on one line: a probe's message may quote an app's
// multi-line output.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func title(b bool) string {
	if b {
		return "True"
	}
	return "False"
}
