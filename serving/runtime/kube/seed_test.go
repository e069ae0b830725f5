package kube

import (
	_ "embed"
	"strings"
	"testing"
	"time"

	"github.com/servekit/servekit/serving/revision"
	"github.com/servekit/servekit/serving/service"
	v1 "github.com/servekit/servekit/serving/v1"
)

//go:embed testdata/helloworld-go.yaml
var seedManifest string

// seedTime is the fixed instant the seed revision is stamped at.
var seedTime = time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)

// seedRevision is helloworld-go-00001 as the controller stamps it from the seed
// manifest: decoded, defaulted, Configuration made, Revision snapshotted, and given
// UIDs as an API server would.
func seedRevision(t testing.TB) *v1.Revision {
	t.Helper()
	docs, err := v1.Decode(strings.NewReader(seedManifest), v1.DecodeOptions{Strict: true})
	if err != nil {
		t.Fatalf("decoding the seed: %v", err)
	}
	svc, ok := docs[0].Object.(*v1.Service)
	if !ok {
		t.Fatalf("seed is a %T, want *v1.Service", docs[0].Object)
	}
	svc.Namespace = "default"
	svc.UID = "svc-uid"
	svc.Generation = 1
	svc.SetDefaults(v1.StockDefaults())
	if errs := svc.Validate(v1.StockDefaults()); len(errs) > 0 {
		t.Fatalf("seed invalid: %v", errs.ToAggregate())
	}
	cfg := service.MakeConfiguration(svc)
	cfg.UID = "cfg-uid"
	cfg.Generation = 1
	rev, err := revision.Snapshot(cfg, seedTime)
	if err != nil {
		t.Fatal(err)
	}
	rev.UID = "rev-uid"
	return rev
}
