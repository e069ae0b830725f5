package queue

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// knativeEnv is what Knative's reconciler gives the queue-proxy of the seed sample.
func knativeEnv() map[string]string {
	return map[string]string{
		"CONTAINER_CONCURRENCY":                   "0",
		"QUEUE_SERVING_PORT":                      "8012",
		"QUEUE_SERVING_TLS_PORT":                  "8112",
		"USER_PORT":                               "8080",
		"REVISION_TIMEOUT_SECONDS":                "300",
		"REVISION_RESPONSE_START_TIMEOUT_SECONDS": "0",
		"REVISION_IDLE_TIMEOUT_SECONDS":           "0",
		"SERVING_NAMESPACE":                       "default",
		"SERVING_CONFIGURATION":                   "helloworld-go",
		"SERVING_REVISION":                        "helloworld-go-00001",
		"SERVING_POD":                             "helloworld-go-00001-deployment-5c7f8-abcde",
		"SERVING_POD_IP":                          "10.0.0.7",
		"SERVING_LOGGING_CONFIG":                  "",
		"SERVING_LOGGING_LEVEL":                   "",
		"SERVING_READINESS_PROBE":                 `{"tcpSocket":{"port":8080,"host":"127.0.0.1"},"successThreshold":1}`,
		"ENABLE_HTTP2_AUTO_DETECTION":             "false",
	}
}

func getenvFrom(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseEnv(t *testing.T) {
	got, err := ParseEnv(getenvFrom(knativeEnv()))
	if err != nil {
		t.Fatal(err)
	}
	want := Env{
		ContainerConcurrency: 0,
		ServingPort:          8012,
		UserPort:             8080,
		RevisionTimeout:      300 * time.Second,
		ReadinessProbes:      []Probe{{TCPSocket: &TCPSocketAction{Host: "127.0.0.1", Port: 8080}, SuccessThreshold: 1}},
		ReadinessProbeJSON:   `{"tcpSocket":{"port":8080,"host":"127.0.0.1"},"successThreshold":1}`,
		Namespace:            "default",
		Configuration:        "helloworld-go",
		Revision:             "helloworld-go-00001",
		PodName:              "helloworld-go-00001-deployment-5c7f8-abcde",
		PodIP:                "10.0.0.7",
		AdminPort:            8022,
		MetricsPort:          9090,
		DrainQuietPeriod:     30 * time.Second,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseEnv (-want +got):\n%s", diff)
	}
	opts := got.ProxyOptions()
	if opts.Target != "127.0.0.1:8080" || opts.Timeout != 300*time.Second || opts.PodName != want.PodName {
		t.Errorf("ProxyOptions = %+v", opts)
	}
}

func TestParseEnvDrainStreamDeadline(t *testing.T) {
	for v, want := range map[string]time.Duration{"": 0, "45": 45 * time.Second, "1m30s": 90 * time.Second, "250ms": 250 * time.Millisecond} {
		env := knativeEnv()
		env[EnvDrainStreamDeadline] = v
		e, err := ParseEnv(getenvFrom(env))
		if err != nil {
			t.Fatalf("%s=%q: %v", EnvDrainStreamDeadline, v, err)
		}
		if e.DrainStreamDeadline != want || e.ProxyOptions().DrainStreamDeadline != want {
			t.Errorf("%s=%q: %v (ProxyOptions %v), want %v", EnvDrainStreamDeadline, v, e.DrainStreamDeadline, e.ProxyOptions().DrainStreamDeadline, want)
		}
	}
}

func TestParseEnvErrors(t *testing.T) {
	tests := []struct {
		name   string
		change map[string]string
		want   []string // each must appear in the error
	}{
		{"missing concurrency", map[string]string{"CONTAINER_CONCURRENCY": ""}, []string{"CONTAINER_CONCURRENCY: required but not set"}},
		{"bad concurrency", map[string]string{"CONTAINER_CONCURRENCY": "ten"}, []string{`CONTAINER_CONCURRENCY: "ten" is not an integer`}},
		{"negative concurrency", map[string]string{"CONTAINER_CONCURRENCY": "-1"}, []string{`CONTAINER_CONCURRENCY: "-1" is not in`}},
		{"missing user port", map[string]string{"USER_PORT": ""}, []string{"USER_PORT: required"}},
		{"port out of range", map[string]string{"QUEUE_SERVING_PORT": "70000"}, []string{`QUEUE_SERVING_PORT: "70000"`}},
		{"bad timeout", map[string]string{"REVISION_TIMEOUT_SECONDS": "5m"}, []string{`REVISION_TIMEOUT_SECONDS: "5m" is not an integer`}},
		{"negative idle", map[string]string{"REVISION_IDLE_TIMEOUT_SECONDS": "-5"}, []string{`REVISION_IDLE_TIMEOUT_SECONDS: "-5"`}},
		{"bad bool", map[string]string{"SERVEKIT_TRUST_KNATIVE_HEADERS": "yes please"}, []string{`SERVEKIT_TRUST_KNATIVE_HEADERS: "yes please" is not a boolean`}},
		{"bad admin port", map[string]string{"QUEUE_ADMIN_PORT": "x"}, []string{`QUEUE_ADMIN_PORT: "x"`}},
		{"bad metrics port", map[string]string{"QUEUE_METRICS_PORT": "0"}, []string{`QUEUE_METRICS_PORT: "0"`}},
		{"bad quiet period", map[string]string{"SERVEKIT_DRAIN_QUIET_PERIOD": "30"}, []string{`SERVEKIT_DRAIN_QUIET_PERIOD: "30" is not a duration`}},
		{"bad stream deadline", map[string]string{"SERVEKIT_DRAIN_STREAM_DEADLINE": "soon"}, []string{`SERVEKIT_DRAIN_STREAM_DEADLINE: "soon" is not a duration`}},
		{"zero stream deadline", map[string]string{"SERVEKIT_DRAIN_STREAM_DEADLINE": "0s"}, []string{`SERVEKIT_DRAIN_STREAM_DEADLINE: "0s" is not a positive duration`}},
		{"bad probe json", map[string]string{"SERVING_READINESS_PROBE": `{"tcpSocket":`}, []string{"SERVING_READINESS_PROBE:"}},
		{"bad probe port", map[string]string{"SERVING_READINESS_PROBE": `{"httpGet":{"port":"http"}}`}, []string{"SERVING_READINESS_PROBE:", "port"}},
		{"several at once", map[string]string{"USER_PORT": "", "REVISION_TIMEOUT_SECONDS": ""}, []string{"USER_PORT", "REVISION_TIMEOUT_SECONDS"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := knativeEnv()
			for k, v := range tc.change {
				env[k] = v
			}
			_, err := ParseEnv(getenvFrom(env))
			if err == nil {
				t.Fatal("ParseEnv succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestParseProbes(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Probe
	}{
		{"empty", "", nil},
		{"tcp with default port", `{"tcpSocket":{}}`, []Probe{{TCPSocket: &TCPSocketAction{Port: 8080}}}},
		{"http", `{"httpGet":{"path":"/healthz","port":8081,"scheme":"HTTP","httpHeaders":[{"name":"X-A","value":"b"}]},"periodSeconds":5,"timeoutSeconds":2,"successThreshold":3,"failureThreshold":4}`,
			[]Probe{{HTTPGet: &HTTPGetAction{Path: "/healthz", Port: 8081, Scheme: "HTTP", Headers: http.Header{"X-A": {"b"}}}, Period: 5 * time.Second, Timeout: 2 * time.Second, SuccessThreshold: 3}}},
		{"string port", `{"httpGet":{"port":"8082"}}`, []Probe{{HTTPGet: &HTTPGetAction{Port: 8082}}}},
		{"grpc", `{"grpc":{"port":9000,"service":"api"}}`, []Probe{{GRPC: &GRPCAction{Port: 9000, Service: "api"}}}},
		{"grpc default port", `{"grpc":{}}`, []Probe{{GRPC: &GRPCAction{Port: 8080}}}},
		{"exec becomes tcp", `{"exec":{"command":["true"]}}`, []Probe{{TCPSocket: &TCPSocketAction{Port: 8080}}}},
		{"array", `[{"tcpSocket":{"port":1}},{"httpGet":{"port":2}}]`, []Probe{{TCPSocket: &TCPSocketAction{Port: 1}}, {HTTPGet: &HTTPGetAction{Port: 2}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseProbes(tc.in, 8080)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseProbes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseProbesErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"not json", `tcp`, "readiness probe"},
		{"two handlers", `{"tcpSocket":{},"httpGet":{}}`, "probe[0].handler"},
		{"no handler", `{}`, "probe[0].handler"},
		{"grpc port", `{"grpc":{"port":-1}}`, "probe[0].grpc.port"},
		{"named port", `{"tcpSocket":{"port":"http"}}`, "port"},
		{"port too big", `{"tcpSocket":{"port":65536}}`, "probe[0].tcpSocket.port"},
		{"https", `{"httpGet":{"scheme":"HTTPS"}}`, "probe[0].httpGet.scheme"},
		{"bad header", `{"httpGet":{"httpHeaders":[{"name":"","value":"x"}]}}`, "probe[0].httpGet.httpHeaders[0]"},
		{"negative period", `{"tcpSocket":{},"periodSeconds":-1}`, "probe[0].periodSeconds"},
		{"second of array", `[{"tcpSocket":{}},{}]`, "probe[1]"},
		{"trailing data", `{"tcpSocket":{}} {}`, "trailing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseProbes(tc.in, 8080)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseProbes(%s) = %v, want an error containing %q", tc.in, err, tc.want)
			}
		})
	}
}

// FuzzParseEnv: ParseEnv never panics, and what it accepts survives a round trip
// through the environment it describes.
func FuzzParseEnv(f *testing.F) {
	f.Add("0", "8012", "8080", "300", "", "", `{"tcpSocket":{"port":8080}}`, "", "", "")
	f.Add("10", "8013", "9000", "0", "10", "5", `[{"httpGet":{"path":"/","port":"9000"}}]`, "8023", "9091", "1s")
	f.Add("x", "-1", "99999", "1e3", "-1", " 3", "{", "0", "abc", "0s")
	f.Fuzz(func(t *testing.T, cc, sp, up, to, rst, idle, probe, admin, metrics, quiet string) {
		in := map[string]string{
			EnvContainerConcurrency: cc, EnvServingPort: sp, EnvUserPort: up, EnvRevisionTimeout: to,
			EnvResponseStartTimeout: rst, EnvIdleTimeout: idle, EnvReadinessProbe: probe,
			EnvAdminPort: admin, EnvMetricsPort: metrics, EnvDrainQuietPeriod: quiet,
		}
		e, err := ParseEnv(getenvFrom(in))
		if err != nil {
			return
		}
		if _, err := NewProxy(e.ProxyOptions()); err != nil {
			t.Fatalf("NewProxy rejects a parsed environment: %v", err)
		}
		probeJSON, err := json.Marshal(e.ReadinessProbes)
		if err != nil {
			t.Fatal(err)
		}
		if e.ReadinessProbes == nil {
			probeJSON = nil
		}
		out := map[string]string{
			EnvContainerConcurrency: strconv.Itoa(e.ContainerConcurrency),
			EnvServingPort:          strconv.Itoa(e.ServingPort),
			EnvUserPort:             strconv.Itoa(e.UserPort),
			EnvRevisionTimeout:      strconv.FormatInt(int64(e.RevisionTimeout/time.Second), 10),
			EnvResponseStartTimeout: strconv.FormatInt(int64(e.ResponseStartTimeout/time.Second), 10),
			EnvIdleTimeout:          strconv.FormatInt(int64(e.IdleTimeout/time.Second), 10),
			EnvReadinessProbe:       string(probeJSON),
			EnvAdminPort:            strconv.Itoa(e.AdminPort),
			EnvMetricsPort:          strconv.Itoa(e.MetricsPort),
			EnvDrainQuietPeriod:     e.DrainQuietPeriod.String(),
		}
		e2, err := ParseEnv(getenvFrom(out))
		if err != nil {
			t.Fatalf("ParseEnv of its own output %v: %v", out, err)
		}
		e.ReadinessProbeJSON, e2.ReadinessProbeJSON = "", ""
		if diff := cmp.Diff(e, e2); diff != "" {
			t.Errorf("round trip (-first +second):\n%s", diff)
		}
	})
}

// FuzzParseProbes: ParseProbes never panics, and accepted probes survive a round
// trip through their JSON.
func FuzzParseProbes(f *testing.F) {
	for _, s := range []string{
		`{"tcpSocket":{"port":8080,"host":"127.0.0.1"},"successThreshold":1}`,
		`{"httpGet":{"path":"/healthz","port":"8080","httpHeaders":[{"name":"A","value":"b"}]},"periodSeconds":1}`,
		`[{"exec":{"command":["x"]}},{"tcpSocket":{}}]`,
		`{"grpc":{"port":1}}`, `[]`, `null`, `{"httpGet":{"port":1e3}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		probes, err := ParseProbes(s, 8080)
		if err != nil || probes == nil {
			return
		}
		b, err := json.Marshal(probes)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseProbes(string(b), 8080)
		if err != nil {
			t.Fatalf("ParseProbes(%s) of its own output: %v", b, err)
		}
		if diff := cmp.Diff(probes, again); diff != "" {
			t.Errorf("round trip (-first +second):\n%s", diff)
		}
	})
}
