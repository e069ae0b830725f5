package v1_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	servingv1 "github.com/servekit/servekit/serving/v1"
)

// dns1035Msg is apimachinery's explanation of a DNS-1035 label, which
// Knative quotes in its name and tag errors.
const dns1035Msg = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"

// TestValidateInvalidManifests decodes each testdata/invalid manifest,
// applies the stock defaults and checks that validation reports exactly
// the Knative field paths and messages listed.
func TestValidateInvalidManifests(t *testing.T) {
	tests := []struct {
		file string
		want []string // "<field path>: <message>", in report order
	}{
		{"autoscaling-burst-capacity-invalid", []string{
			"spec.template.metadata.annotations.autoscaling.knative.dev/target-burst-capacity: invalid value: -2",
		}},
		{"autoscaling-class-invalid", []string{
			"spec.template.metadata.annotations.autoscaling.knative.dev/class: invalid value: foo.autoscaling.knative.dev",
		}},
		{"autoscaling-initial-scale-zero", []string{
			"spec.template.metadata.annotations.autoscaling.knative.dev/initial-scale: invalid value: 0; initial-scale=0 not allowed by cluster",
		}},
		{"autoscaling-max-below-min", []string{
			"spec.template.metadata.annotations.autoscaling.knative.dev/max-scale: max-scale=2 is less than min-scale=5",
			"spec.template.metadata.annotations.autoscaling.knative.dev/min-scale: max-scale=2 is less than min-scale=5",
		}},
		{"autoscaling-metric-invalid-kpa", []string{
			"spec.template.metadata.annotations.autoscaling.knative.dev/metric: invalid value: cpu",
		}},
		{"autoscaling-min-scale-negative", []string{
			"spec.template.metadata.annotations.autoscaling.knative.dev/min-scale: expected 0 <= -1 <= 2147483647",
		}},
		{"autoscaling-min-scale-not-int", []string{
			"spec.template.metadata.annotations.autoscaling.knative.dev/min-scale: invalid value: lots",
		}},
		{"autoscaling-target-too-small", []string{
			"spec.template.metadata.annotations.autoscaling.knative.dev/target: target 0.001 should be at least 0.01",
		}},
		{"autoscaling-utilization-too-large", []string{
			"spec.template.metadata.annotations.autoscaling.knative.dev/target-utilization-percentage: expected 1 <= 150 <= 100",
		}},
		{"autoscaling-window-too-short", []string{
			"spec.template.metadata.annotations.autoscaling.knative.dev/window: expected 6s <= 1s <= 1h0m0s",
		}},
		{"byo-name-invalid", []string{
			"spec.template.metadata.name: invalid value: not a DNS 1035 label: [" + dns1035Msg + "]; got \"hello-V1\"",
		}},
		{"byo-name-no-prefix", []string{
			"spec.template.metadata.name: invalid value: \"other-v1\" must have prefix \"hello-\"",
		}},
		{"byo-name-parent-generatename", []string{
			"spec.template.metadata.name: must not set the field(s)",
		}},
		{"concurrency-negative", []string{
			"spec.template.spec.containerConcurrency: expected 0 <= -1 <= 1000",
		}},
		{"concurrency-too-large", []string{
			"spec.template.spec.containerConcurrency: expected 0 <= 1001 <= 1000",
		}},
		{"configuration-autoscaling-annotation", []string{
			"metadata.annotations: invalid key name \"autoscaling.knative.dev/target\"; autoscaling annotations must be put under \"spec.template.metadata.annotations\" to work",
		}},
		{"configuration-service-label-no-owner", []string{
			"metadata.labels.serving.knative.dev/service: missing field(s)",
		}},
		{"container-name-duplicate", []string{
			"spec.template.spec.containers[1].name: duplicate container name \"app\"",
		}},
		{"container-name-queue-proxy", []string{
			"spec.template.spec.containers[0].name: \"queue-proxy\" is a reserved container name",
		}},
		{"container-tty", []string{
			"spec.template.spec.containers[0].tty: must not set the field(s)",
		}},
		{"env-fieldref", []string{
			"spec.template.spec.containers[0].env[0].valueFrom.fieldRef: must not set the field(s)",
		}},
		{"env-k-service-reserved", []string{
			"spec.template.spec.containers[0].env[1].name: \"K_SERVICE\" is a reserved environment variable",
		}},
		{"env-name-missing", []string{
			"spec.template.spec.containers[0].env[0].name: missing field(s)",
		}},
		{"env-port-reserved", []string{
			"spec.template.spec.containers[0].env[0].name: \"PORT\" is a reserved environment variable",
		}},
		{"envfrom-neither", []string{
			"spec.template.spec.containers[0].envFrom[0].configMapRef: expected exactly one, got neither",
			"spec.template.spec.containers[0].envFrom[0].secretRef: expected exactly one, got neither",
		}},
		{"generatename-invalid", []string{
			"metadata.generateName: not a DNS 1035 label prefix: [" + dns1035Msg + "]; got \"Hello-\"",
		}},
		{"idle-timeout-too-large", []string{
			"spec.template.spec.idleTimeoutSeconds: expected 0 <= 700 <= 600",
		}},
		{"image-invalid", []string{
			"spec.template.spec.containers[0].image: Failed to parse image reference; image: \"ghcr.io/ServeKit/Hello:v1\", error: invalid repository \"ghcr.io/ServeKit/Hello\"",
		}},
		{"image-missing", []string{
			"spec.template.spec.containers[0].image: missing field(s)",
		}},
		{"multi-container-no-ports", []string{
			"spec.template.spec.containers[*].ports: missing field(s)",
		}},
		{"name-missing", []string{
			"metadata.name: name or generateName is required",
		}},
		{"name-too-long", []string{
			"metadata.name: not a DNS 1035 label: [must be no more than 63 characters]; got \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
		}},
		{"name-uppercase", []string{
			"metadata.name: not a DNS 1035 label: [" + dns1035Msg + "]; got \"Hello\"",
		}},
		{"no-containers", []string{
			"spec.template.spec.containers: missing field(s)",
		}},
		{"podspec-automount-true", []string{
			"spec.template.spec.automountServiceAccountToken: must not set the field(s)",
		}},
		{"podspec-nodeselector", []string{
			"spec.template.spec.nodeSelector: must not set the field(s)",
		}},
		{"port-hostport", []string{
			"spec.template.spec.containers[0].ports.hostPort: must not set the field(s)",
		}},
		{"port-name-invalid", []string{
			"spec.template.spec.containers[0].ports: Port name grpc is not allowed; Name must be empty, or one of: 'h2c', 'http1'",
		}},
		{"port-protocol-udp", []string{
			"spec.template.spec.containers[0].ports.protocol: invalid value: UDP",
		}},
		{"port-reserved", []string{
			"spec.template.spec.containers[0].ports.containerPort: invalid value: 8012 is a reserved port; 8012 is a reserved port, please use a different value",
		}},
		{"port-too-many", []string{
			"spec.template.spec.containers[*].ports: more than one container port is set; Only a single port is allowed across all containers",
		}},
		{"probe-failure-threshold-period-zero", []string{
			"spec.template.spec.containers[0].readinessProbe.failureThreshold: failureThreshold is disallowed when periodSeconds is zero",
		}},
		{"probe-port-name-mismatch", []string{
			"spec.template.spec.containers[0].readinessProbe.tcpSocket.port: invalid value: web; Probe port must match container port",
		}},
		{"probe-two-handlers", []string{
			"spec.template.spec.containers[0].readinessProbe.httpGet: expected exactly one, got both",
			"spec.template.spec.containers[0].readinessProbe.tcpSocket: expected exactly one, got both",
		}},
		{"progress-deadline-invalid", []string{
			"spec.template.metadata.annotations.serving.knative.dev/progress-deadline: invalid value: later",
		}},
		{"queue-sidecar-cpu-invalid", []string{
			"spec.template.metadata.annotations.queue.sidecar.serving.knative.dev/cpu-resource-request: invalid value: lots",
		}},
		{"revision-autoscaling-annotation-invalid", []string{
			"metadata.annotations.autoscaling.knative.dev/max-scale: expected 0 <= -4 <= 2147483647",
		}},
		{"revision-concurrency-negative", []string{
			"spec.containerConcurrency: expected 0 <= -3 <= 1000",
		}},
		{"revision-configuration-label-no-owner", []string{
			"metadata.labels.serving.knative.dev/configuration: missing field(s)",
		}},
		{"rollout-duration-invalid", []string{
			"metadata.annotations.serving.knative.dev/rollout-duration: invalid value: soon",
		}},
		{"rollout-duration-negative", []string{
			"metadata.annotations.serving.knative.dev/rollout-duration: rollout-duration=-10s must be positive",
		}},
		{"rollout-duration-subsecond", []string{
			"metadata.annotations.serving.knative.dev/rollout-duration: rollout-duration=1500ms is not at second precision",
		}},
		{"route-empty-traffic", []string{
			"spec.traffic: Traffic targets sum to 0, want 100",
		}},
		{"route-revision-name-invalid", []string{
			"spec.traffic[0].revisionName: invalid key name \"bad name!\"; name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
		}},
		{"route-target-both", []string{
			"spec.traffic[0].configurationName: expected exactly one, got both",
			"spec.traffic[0].revisionName: expected exactly one, got both",
		}},
		{"route-target-neither", []string{
			"spec.traffic[0].configurationName: expected exactly one, got neither",
			"spec.traffic[0].revisionName: expected exactly one, got neither",
		}},
		{"run-as-user-negative", []string{
			"spec.template.spec.containers[0].securityContext.runAsUser: expected 0 <= -1 <= 2147483647",
		}},
		{"security-context-privileged", []string{
			"spec.template.spec.containers[0].securityContext.privileged: must not set the field(s)",
			"spec.template.spec.containers[0].securityContext.capabilities.add: must not set the field(s)",
		}},
		{"service-account-invalid", []string{
			"spec.template.spec.serviceAccountName: invalid value: Bad_SA; a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
		}},
		{"service-autoscaling-annotation", []string{
			"metadata.annotations: invalid key name \"autoscaling.knative.dev/min-scale\"; autoscaling annotations must be put under \"spec.template.metadata.annotations\" to work",
		}},
		{"sidecar-readiness-probe", []string{
			"spec.template.spec.containers[1].readinessProbe: must not set the field(s)",
		}},
		{"template-generatename-invalid", []string{
			"spec.template.metadata.generateName: invalid value: not a DNS 1035 label prefix: [" + dns1035Msg + "]; got \"Hello-\"",
		}},
		{"template-networking-annotation", []string{
			"spec.template.metadata.annotations: invalid key name \"networking.knative.dev/visibility\"",
		}},
		{"termination-message-policy-invalid", []string{
			"spec.template.spec.containers[0].terminationMessagePolicy: invalid value: Sometimes",
		}},
		{"timeout-negative", []string{
			"spec.template.spec.timeoutSeconds: expected 0 <= -5 <= 600",
		}},
		{"timeout-too-large", []string{
			"spec.template.spec.timeoutSeconds: expected 0 <= 601 <= 600",
		}},
		{"traffic-configuration-in-service", []string{
			"spec.traffic[0].configurationName: must not set the field(s)",
		}},
		{"traffic-latest-with-revision", []string{
			"spec.traffic[0].latestRevision: may not set revisionName \"hello-00001\" when latestRevision is true",
		}},
		{"traffic-percent-101", []string{
			"spec.traffic[0].percent: expected 0 <= 101 <= 100",
			"spec.traffic: Traffic targets sum to 101, want 100",
		}},
		{"traffic-percent-negative", []string{
			"spec.traffic[0].percent: expected 0 <= 110 <= 100",
			"spec.traffic[1].percent: expected 0 <= -10 <= 100",
		}},
		{"traffic-pinned-without-revision", []string{
			"spec.traffic[0].latestRevision: may not set revisionName \"\" when latestRevision is false",
		}},
		{"traffic-sum-90", []string{
			"spec.traffic: Traffic targets sum to 90, want 100",
		}},
		{"traffic-tag-duplicate", []string{
			"spec.traffic[0].tag: Multiple definitions for \"canary\"",
			"spec.traffic[1].tag: Multiple definitions for \"canary\"",
		}},
		{"traffic-tag-invalid", []string{
			"spec.traffic.tag[0]: invalid value: not a DNS 1035 label: [" + dns1035Msg + "]; got \"Bad_Tag\"",
		}},
		{"traffic-url-in-spec", []string{
			"spec.traffic[0].url: must not set the field(s)",
		}},
		{"visibility-label-invalid", []string{
			"metadata.labels.networking.knative.dev/visibility: invalid value: public",
		}},
		{"volume-hostpath", []string{
			"spec.template.spec.volumes[0].hostPath: must not set the field(s)",
		}},
		{"volume-mount-dev", []string{
			"spec.template.spec.containers[0].volumeMounts[0].mountPath: mountPath \"/dev\" is a reserved path",
		}},
		{"volume-mount-no-volume", []string{
			"spec.template.spec.containers[0].volumeMounts[0].name: volumeMount has no matching volume; got \"data\"",
		}},
		{"volume-not-mounted", []string{
			"spec.template.spec.volumes[0].name: volume with name \"cfg\" not mounted",
		}},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		seen[tc.file+".yaml"] = true
		t.Run(tc.file, func(t *testing.T) {
			obj := decodeOne(t, filepath.Join("testdata", "invalid", tc.file+".yaml"))
			d := servingv1.StockDefaults()
			obj.SetDefaults(d)
			var got []string
			for _, e := range obj.Validate(d) {
				got = append(got, e.Field+": "+servingv1.Message(e))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Validate() errors (-want +got):\n%s", diff)
			}
		})
	}
	// Every manifest in testdata/invalid has a row.
	files, err := filepath.Glob(filepath.Join("testdata", "invalid", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !seen[filepath.Base(f)] {
			t.Errorf("%s has no test row", f)
		}
	}
	if len(files) < 40 {
		t.Errorf("only %d invalid manifests, want at least 40", len(files))
	}
}

// decodeOne strictly decodes the single object in file.
func decodeOne(t *testing.T, file string) servingv1.Object {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	docs, err := servingv1.Decode(f, servingv1.DecodeOptions{Strict: true})
	if err != nil {
		t.Fatalf("Decode(%s): %v", file, err)
	}
	if len(docs) != 1 {
		t.Fatalf("Decode(%s) = %d documents, want 1", file, len(docs))
	}
	return docs[0].Object
}
