package endpoints

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    *Config
		wantErr string
	}{
		{name: "empty", in: "", want: &Config{}},
		{
			name: "yaml",
			in:   "revisions:\n- namespace: default\n  name: hello\n  containerConcurrency: 1\n  hosts: [Hello.Example.com]\n  addresses: [\"127.0.0.1:8081\"]\n",
			want: &Config{Revisions: []Revision{{Namespace: "default", Name: "hello", ContainerConcurrency: 1, Hosts: []string{"Hello.Example.com"}, Addresses: []string{"127.0.0.1:8081"}}}},
		},
		{
			name: "json",
			in:   `{"revisions":[{"namespace":"a","name":"b","addresses":["10.0.0.1:1","garbage"]}]}`,
			want: &Config{Revisions: []Revision{{Namespace: "a", Name: "b", Addresses: []string{"10.0.0.1:1", "garbage"}}}},
		},
		{name: "unknown field", in: "revisions:\n- namespace: a\n  name: b\n  concurrency: 1\n", wantErr: `unknown field "concurrency"`},
		{name: "no namespace", in: "revisions:\n- name: b\n", wantErr: "revisions[0].namespace: required"},
		{name: "negative cc", in: "revisions:\n- {namespace: a, name: b, containerConcurrency: -1}\n", wantErr: "revisions[0].containerConcurrency: must be >= 0, got -1"},
		{name: "negative timeout", in: "revisions:\n- {namespace: a, name: b, timeoutSeconds: -5}\n", wantErr: "revisions[0].timeoutSeconds: must be >= 0, got -5"},
		{
			name: "h2c",
			in:   "revisions:\n- {namespace: a, name: b, protocol: h2c}\n",
			want: &Config{Revisions: []Revision{{Namespace: "a", Name: "b", Protocol: "h2c"}}},
		},
		{name: "unknown protocol", in: "revisions:\n- {namespace: a, name: b, protocol: http2}\n", wantErr: `revisions[0].protocol: must be "", "http1" or "h2c", got "http2"`},
		{name: "duplicate revision", in: "revisions:\n- {namespace: a, name: b}\n- {namespace: a, name: b}\n", wantErr: "revisions[1]: revision a/b listed twice"},
		{name: "duplicate host", in: "revisions:\n- {namespace: a, name: b, hosts: [x]}\n- {namespace: a, name: c, hosts: [X]}\n", wantErr: `revisions[1].hosts[0]: host "x" already routes to a/b`},
		{name: "not yaml", in: "revisions: [", wantErr: "endpoints file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("revisions:\n- {namespace: a, name: b, hosts: [x], addresses: [\"1.2.3.4:5\"]}\n"))
	f.Add([]byte(`{"revisions":[]}`))
	f.Add([]byte("revisions: ["))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		for _, r := range c.Revisions {
			if r.Namespace == "" || r.Name == "" || r.ContainerConcurrency < 0 || r.TimeoutSeconds < 0 {
				t.Errorf("accepted invalid revision %+v", r)
			}
		}
	})
}

func TestParseRevisionFlag(t *testing.T) {
	got, err := ParseRevisionFlag("ns/rev=127.0.0.1:1, 127.0.0.1:2,", 2, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := Revision{Namespace: "ns", Name: "rev", ContainerConcurrency: 2, TimeoutSeconds: 30, Addresses: []string{"127.0.0.1:1", "127.0.0.1:2"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, bad := range []string{"rev=1.2.3.4:5", "/rev", "ns/"} {
		if _, err := ParseRevisionFlag(bad, 0, 0); err == nil || !strings.Contains(err.Error(), "-revision") {
			t.Errorf("ParseRevisionFlag(%q) = %v, want an error naming -revision", bad, err)
		}
	}
}
