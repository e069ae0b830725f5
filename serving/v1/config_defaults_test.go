package v1_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/resource"

	servingv1 "github.com/servekit/servekit/serving/v1"
)

func TestDefaultsFromMap(t *testing.T) {
	stock := servingv1.StockDefaults()
	q := resource.MustParse("128Mi")
	tests := []struct {
		name    string
		data    map[string]string
		want    func(d *servingv1.Defaults)
		wantErr string // substring; "" means success
	}{
		{name: "empty map is stock", data: nil, want: func(*servingv1.Defaults) {}},
		{name: "stock values", data: map[string]string{"revision-timeout-seconds": "300", "max-revision-timeout-seconds": "600", "container-concurrency": "0"}, want: func(*servingv1.Defaults) {}},
		{name: "timeout moves the response-start default with it", data: map[string]string{"revision-timeout-seconds": "120"},
			want: func(d *servingv1.Defaults) {
				d.RevisionTimeoutSeconds = 120
				d.RevisionResponseStartTimeoutSeconds = 120
			}},
		{name: "every key", data: map[string]string{
			"revision-timeout-seconds":                "100",
			"max-revision-timeout-seconds":            "900",
			"revision-response-start-timeout-seconds": "50",
			"revision-idle-timeout-seconds":           "40",
			"container-name-template":                 "{{.Name}}",
			"init-container-name-template":            "init-{{.Name}}",
			"container-concurrency":                   "7",
			"container-concurrency-max-limit":         "70",
			"allow-container-concurrency-zero":        "false",
			"enable-service-links":                    "true",
			"revision-memory-request":                 "128Mi",
			"unknown-key":                             "ignored",
		}, want: func(d *servingv1.Defaults) {
			d.RevisionTimeoutSeconds = 100
			d.MaxRevisionTimeoutSeconds = 900
			d.RevisionResponseStartTimeoutSeconds = 50
			d.RevisionIdleTimeoutSeconds = 40
			d.ContainerNameTemplate = "{{.Name}}"
			d.InitContainerNameTemplate = "init-{{.Name}}"
			d.ContainerConcurrency = 7
			d.ContainerConcurrencyMaxLimit = 70
			d.AllowContainerConcurrencyZero = false
			d.EnableServiceLinks = ptr(true)
			d.RevisionMemoryRequest = &q
		}},
		{name: "enable-service-links other value leaves it nil", data: map[string]string{"enable-service-links": "default"},
			want: func(d *servingv1.Defaults) { d.EnableServiceLinks = nil }},
		{name: "not an integer", data: map[string]string{"container-concurrency": "ten"}, wantErr: `"container-concurrency": invalid integer "ten"`},
		{name: "bad bool", data: map[string]string{"allow-container-concurrency-zero": "maybe"}, wantErr: `"allow-container-concurrency-zero": invalid value "maybe"`},
		{name: "bad quantity", data: map[string]string{"revision-cpu-limit": "lots"}, wantErr: `"revision-cpu-limit": invalid quantity "lots"`},
		{name: "timeout above max", data: map[string]string{"revision-timeout-seconds": "700"},
			wantErr: "revision-timeout-seconds (700) cannot be greater than max-revision-timeout-seconds (600)"},
		{name: "response start above timeout", data: map[string]string{"revision-response-start-timeout-seconds": "400"},
			wantErr: "revision-response-start-timeout-seconds (400) cannot be greater than revision-timeout-seconds (300)"},
		{name: "idle above timeout", data: map[string]string{"revision-idle-timeout-seconds": "301"},
			wantErr: "revision-idle-timeout-seconds (301) cannot be greater than revision-timeout-seconds (300)"},
		{name: "concurrency above limit", data: map[string]string{"container-concurrency": "2000"},
			wantErr: "expected 0 <= 2000 <= 1000: container-concurrency"},
		{name: "negative concurrency", data: map[string]string{"container-concurrency": "-1"},
			wantErr: "expected 0 <= -1 <= 1000: container-concurrency"},
		{name: "max limit below 1", data: map[string]string{"container-concurrency-max-limit": "0"},
			wantErr: "container-concurrency-max-limit"},
		{name: "broken template", data: map[string]string{"container-name-template": "{{.Name"},
			wantErr: "invalid container-name-template"},
		{name: "template over a missing field", data: map[string]string{"init-container-name-template": "{{.Nope}}"},
			wantErr: "invalid init-container-name-template"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := servingv1.DefaultsFromMap(tc.data)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("DefaultsFromMap() error = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("DefaultsFromMap() = %v", err)
			}
			want := stock
			tc.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("DefaultsFromMap() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDefaultsBoundsApplyToValidation(t *testing.T) {
	d, err := servingv1.DefaultsFromMap(map[string]string{
		"max-revision-timeout-seconds":     "900",
		"container-concurrency-max-limit":  "50",
		"allow-container-concurrency-zero": "false",
	})
	if err != nil {
		t.Fatal(err)
	}
	r := &servingv1.Revision{}
	r.Name = "hello-00001"
	r.Spec.Containers = append(r.Spec.Containers, container(""))
	r.Spec.TimeoutSeconds = ptr[int64](800)
	r.Spec.ContainerConcurrency = ptr[int64](0)
	r.SetDefaults(d)
	var got []string
	for _, e := range r.Validate(d) {
		got = append(got, e.Field+": "+servingv1.Message(e))
	}
	want := []string{"spec.containerConcurrency: expected 1 <= 0 <= 50"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Validate (-want +got):\n%s", diff)
	}
}
