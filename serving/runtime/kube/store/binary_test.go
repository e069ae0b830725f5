package store_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/servekit/servekit/serving/runtime/kube/kubetest"
	"github.com/servekit/servekit/serving/runtime/kube/store"
)

// syncBuffer is a bytes.Buffer safe for a child's output and the test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func writeKubeconfig(t *testing.T, cfg *rest.Config) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ca.crt"), cfg.CAData, 0o600); err != nil {
		t.Fatal(err)
	}
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
current-context: test
clusters:
- name: test
  cluster: {server: %q, certificate-authority: ca.crt}
contexts:
- name: test
  context: {cluster: test, user: admin}
users:
- name: admin
  user: {token: %q}
`, cfg.Host, cfg.BearerToken)
	path := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(path, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestRealControllerBinaryClusterMode builds examples/controller and runs it with
// --kubeconfig against a real API server: it takes the Lease, turns the seed Service
// into its children and status, and stops cleanly on SIGINT. Skipped with -short (it
// builds the binary).
func TestRealControllerBinaryClusterMode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the controller binary")
	}
	cfg := kubetest.Start(t)
	ctx := context.Background()
	dyn := dynamic.NewForConfigOrDie(cfg)
	cs := kubernetes.NewForConfigOrDie(cfg)
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "servekit"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// --config: config-deployment's progress-deadline reaches the Deployments.
	configDir := t.TempDir()
	deployment := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-deployment\ndata:\n  progress-deadline: 120s\n"
	if err := os.WriteFile(filepath.Join(configDir, "config-deployment.yaml"), []byte(deployment), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "controller")
	build := exec.Command("go", "build", "-o", bin, "github.com/servekit/servekit/examples/controller")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// freeAddr's ports are free when it returns, not when the binary binds them:
	// another process on the machine may take one meanwhile. A start that fails so
	// within its first seconds is retried with new ports.
	var (
		admin  string
		logs   *syncBuffer
		cmd    *exec.Cmd
		exited chan error
	)
	for attempt := 1; ; attempt++ {
		admin = freeAddr(t)
		logs = &syncBuffer{}
		cmd = exec.Command(bin, "--kubeconfig", writeKubeconfig(t, cfg), "--queue-image", "example.com/servekit/queue-proxy:v1",
			"--listen", freeAddr(t), "--admin", admin, "--identity", "replica-1", "--webhook-listen", "127.0.0.1:0",
			"--ingress-service", "servekit-ingress", "--config", configDir)
		cmd.Stdout, cmd.Stderr = logs, logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited = make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case err := <-exited:
			if attempt < 3 && strings.Contains(logs.String(), "address already in use") {
				t.Logf("attempt %d: a port was taken before the binary bound it: %s", attempt, logs.String())
				continue
			}
			t.Fatalf("the controller exited at start-up: %v\n%s", err, logs.String())
		case <-time.After(5 * time.Second):
		}
		break
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("controller output:\n%s", logs.String())
		}
	})

	// The binary's admission webhooks (--webhook-listen): an invalid Service is
	// refused once the API server has taken up their configurations, and the
	// seed is stored with its defaults.
	invalid := seed(t)
	invalid.SetName("invalid")
	if err := unstructured.SetNestedField(invalid.Object, int64(-1), "spec", "template", "spec", "containerConcurrency"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the binary's validating webhook to refuse an invalid Service", func() bool {
		_, err := dyn.Resource(store.ServicesGVR).Namespace("default").Create(ctx, invalid, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err != nil && strings.Contains(err.Error(), "validation failed: expected 0 <= -1 <= 1000: spec.template.spec.containerConcurrency")
	})
	created, err := dyn.Resource(store.ServicesGVR).Namespace("default").Create(ctx, seed(t), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if timeout, _, _ := unstructured.NestedInt64(created.Object, "spec", "template", "spec", "timeoutSeconds"); timeout != 300 {
		t.Errorf("stored timeoutSeconds = %d, want 300 (defaulted at admission)", timeout)
	}
	waitFor(t, "the Service's status from the binary", func() bool {
		got, err := get(ctx, dyn, store.ServicesGVR, "helloworld-go")
		if err != nil {
			return false
		}
		name, _, _ := unstructured.NestedString(got.Object, "status", "latestCreatedRevisionName")
		return name == "helloworld-go-00001"
	})
	var dep *appsv1.Deployment
	waitFor(t, "the Deployment", func() bool {
		dep, err = cs.AppsV1().Deployments("default").Get(ctx, "helloworld-go-00001-deployment", metav1.GetOptions{})
		return err == nil
	})
	if d := dep.Spec.ProgressDeadlineSeconds; d == nil || *d != 120 {
		t.Errorf("the Deployment's progressDeadlineSeconds = %v, want config-deployment's 120", d)
	}
	// --ingress-service: the Route's placeholder Service, an ExternalName to the
	// ingress's Service in --lease-namespace; and the binary's Events.
	waitFor(t, "the Route's placeholder Service, ExternalName to servekit-ingress", func() bool {
		ph, err := cs.CoreV1().Services("default").Get(ctx, "helloworld-go", metav1.GetOptions{})
		return err == nil && ph.Spec.Type == corev1.ServiceTypeExternalName && ph.Spec.ExternalName == "servekit-ingress.servekit.svc.cluster.local"
	})
	waitFor(t, "the Service's Created Events from servekit-controller", func() bool {
		list, err := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.uid=" + string(created.GetUID())})
		if err != nil {
			return false
		}
		for _, e := range list.Items {
			if e.Reason == "Created" && e.Message == `Created Route "helloworld-go"` && e.Source.Component == "servekit-controller" {
				return true
			}
		}
		return false
	})
	lease, err := cs.CoordinationV1().Leases("servekit").Get(ctx, "servekit-controller", metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity != "replica-1" {
		t.Errorf("lease = %+v, %v; want held by replica-1", lease, err)
	}
	resp, err := http.Get("http://" + admin + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz of the leader = %d %q, want 200", resp.StatusCode, body)
	}

	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("controller exit: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("controller did not stop within 60s of SIGINT")
	}
	if !strings.Contains(logs.String(), "servekit: stopped") {
		t.Errorf("no clean stop in the output:\n%s", logs.String())
	}
	// The Lease was released on the way out.
	lease, err = cs.CoordinationV1().Leases("servekit").Get(ctx, "servekit-controller", metav1.GetOptions{})
	if err == nil && lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity != "" {
		t.Errorf("lease still held by %q after a clean stop", *lease.Spec.HolderIdentity)
	}
}
