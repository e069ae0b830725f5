package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/servekit/servekit/serving/controller"
)

// runGet implements "controller get [--admin ADDR]": it reads GET /status from a
// running controller and prints it as tables, like `kubectl get ksvc` and
// `kubectl get revisions`.
func runGet(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	fs.SetOutput(stderr)
	admin := fs.String("admin", "127.0.0.1:8081", "the admin address of the running controller")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	st, err := fetchStatus(ctx, *admin)
	if err != nil {
		fmt.Fprintln(stderr, "controller get:", err)
		return 1
	}
	printStatus(stdout, st)
	return 0
}

func fetchStatus(ctx context.Context, admin string) (controller.Status, error) {
	var st controller.Status
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+"/status", nil)
	if err != nil {
		return st, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, fmt.Errorf("is the controller running with --admin %s? %w", admin, err)
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

// printStatus writes the services table, the revisions table and any rejected
// manifests.
func printStatus(w io.Writer, st controller.Status) {
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
	if len(st.Errors) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "REJECTED MANIFESTS (nothing of them applied):")
		for _, e := range st.Errors {
			fmt.Fprintf(w, "  %s\n", e.Error)
		}
	}
}

func title(b bool) string {
	if b {
		return "True"
	}
	return "False"
}
