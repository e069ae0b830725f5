package local

import (
	"bytes"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// syncBuffer is a log sink the test can read while pods write to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// checkLogLines reports log lines longer than a piece plus its prefix and marker.
func checkLogLines(t *testing.T, log, prefix string) {
	t.Helper()
	limit := len(prefix) + maxLogLine + len(lineContinued)
	for i, l := range strings.Split(strings.TrimSuffix(log, "\n"), "\n") {
		if len(l) > limit {
			t.Fatalf("log line %d is %d bytes, want at most %d", i, len(l), limit)
		}
		if !strings.HasPrefix(l, prefix) {
			t.Fatalf("log line %d = %.40q..., want prefix %q", i, l, prefix)
		}
	}
}

// unsplit joins the pieces of split lines back and drops the prefixes.
func unsplit(log, prefix string) string {
	var out strings.Builder
	for _, l := range strings.SplitAfter(log, "\n") {
		if l == "" {
			continue
		}
		l = strings.TrimPrefix(l, prefix)
		if s, ok := strings.CutSuffix(l, lineContinued+"\n"); ok {
			out.WriteString(s)
			continue
		}
		out.WriteString(l)
	}
	return out.String()
}

func TestPodWriterSplitsLongLines(t *testing.T) {
	binary := make([]byte, 300<<10)
	for i := range binary {
		binary[i] = byte(rand.N(256))
	}
	binary = bytes.ReplaceAll(binary, []byte(lineContinued), []byte("x")) // keep unsplit unambiguous
	tests := []struct {
		name  string
		input string
	}{
		{"short lines", "a\nbb\n\nccc\n"},
		{"exactly the limit", strings.Repeat("a", maxLogLine) + "\nb\n"},
		{"one past the limit", strings.Repeat("a", maxLogLine+1) + "\n"},
		{"1 MB line", strings.Repeat("x", 1<<20) + "\nafter\n"},
		{"binary", string(binary) + "\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var sink syncBuffer
			w := (&prefixWriter{w: &sink}).forPod("p")
			// Write in uneven chunks, as a pipe delivers them.
			in := []byte(tc.input)
			for len(in) > 0 {
				n := min(len(in), 1+rand.N(40<<10))
				got, err := w.Write(in[:n])
				if got != n || err != nil {
					t.Fatalf("Write(%d bytes) = %d, %v; want %d, nil", n, got, err, n)
				}
				in = in[n:]
			}
			log := sink.String()
			checkLogLines(t, log, "p | ")
			if got := unsplit(log, "p | "); got != tc.input {
				t.Errorf("log content differs from the output: got %d bytes, want %d", len(got), len(tc.input))
			}
		})
	}
}

// A pod that writes 1 MB lines and binary output keeps running and writing, and
// serves; before issue 17 it died of SIGPIPE on the write after the first 64 KiB line.
func TestPodSurvivesLongOutputLines(t *testing.T) {
	var sink syncBuffer
	r, _ := startRuntime(t, Options{Output: &sink, BaseEnv: []string{"PATH=" + os.Getenv("PATH")}})
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	key := types.NamespacedName{Namespace: "default", Name: "svc-00001"}
	script := `for i in 1 2 3; do head -c 1048576 /dev/zero | tr '\0' x; echo; done
head -c 200000 /dev/urandom; echo
echo still-writing
exec "$0"`
	c := corev1.Container{
		Image:   "test",
		Command: []string{"/bin/sh", "-c", script, self},
		Env:     []corev1.EnvVar{{Name: helperEnv, Value: "serve"}},
	}
	if err := r.Apply(testRevision(key.Name, c)); err != nil {
		t.Fatal(err)
	}
	if err := r.Scale(key, 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a ready pod", 30*time.Second, func() bool { return len(readyPods(r, key)) == 1 })
	if body := get(t, "http://"+readyPods(r, key)[0].Address+"/"); !strings.HasPrefix(body, "K_SERVICE=svc") {
		t.Errorf("pod answered %q", body)
	}
	waitFor(t, "the line written after the long ones", 10*time.Second, func() bool {
		return strings.Contains(sink.String(), "svc-00001-1 | still-writing\n")
	})
	if p := r.Pods(key)[0]; p.Restarts != 0 {
		t.Errorf("pod restarted %d times (last exit %q), want 0", p.Restarts, p.LastExit)
	}
	log := sink.String()
	checkLogLines(t, log, "svc-00001-1 | ")
	if got, want := strings.Count(unsplit(log, "svc-00001-1 | "), strings.Repeat("x", 1<<20)+"\n"), 3; got != want {
		t.Errorf("log holds %d whole 1 MB lines, want %d", got, want)
	}
}
