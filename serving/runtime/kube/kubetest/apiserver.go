// Package kubetest starts a real kube-apiserver backed by a real etcd on loopback
// for tests, the way controller-runtime's envtest does: no kubelet, no
// controller-manager, no scheduler — objects are stored, validated, defaulted and
// watched, and nothing acts on them.
//
// The binaries come from hack/testbin.sh, which builds them once per machine into
// ${SERVEKIT_TESTBIN:-$HOME/.cache/servekit/testbin}. When they are missing, Start
// skips the test with a message naming the script, unless SERVEKIT_REQUIRE_APISERVER=1,
// in which case the test fails.
package kubetest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/servekit/servekit/config/crd"
)

// KubeVersion is the kube-apiserver version hack/testbin.sh builds (it matches the
// module's client-go).
const KubeVersion = "v1.37.2"

// RequireEnv, set to 1, makes Start fail instead of skip when the binaries are missing
// (CI sets it once it has run hack/testbin.sh).
const RequireEnv = "SERVEKIT_REQUIRE_APISERVER"

// CRDGVR is the resource of CustomResourceDefinitions.
var CRDGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// Binaries returns the paths of kube-apiserver and etcd in the testbin cache, or an
// error saying what is missing and how to build it.
func Binaries() (apiserver, etcd string, err error) {
	dir := os.Getenv("SERVEKIT_TESTBIN")
	if dir == "" {
		home, herr := os.UserHomeDir()
		if herr != nil {
			return "", "", fmt.Errorf("apiserver: no SERVEKIT_TESTBIN and no home directory: %w", herr)
		}
		dir = filepath.Join(home, ".cache", "servekit", "testbin")
	}
	apiserver = filepath.Join(dir, "kube-apiserver-"+KubeVersion, "kube-apiserver")
	if !executable(apiserver) {
		return "", "", fmt.Errorf("apiserver: %s not found: run hack/testbin.sh to build kube-apiserver %s and etcd", apiserver, KubeVersion)
	}
	etcds, _ := filepath.Glob(filepath.Join(dir, "etcd-*", "etcd"))
	slices.Sort(etcds)
	for i := len(etcds) - 1; i >= 0; i-- {
		if executable(etcds[i]) {
			return apiserver, etcds[i], nil
		}
	}
	return "", "", fmt.Errorf("apiserver: no %s: run hack/testbin.sh to install etcd", filepath.Join(dir, "etcd-*", "etcd"))
}

func executable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// Start starts etcd and kube-apiserver on free loopback ports for the test, waits until
// the API server is ready, installs the serving.knative.dev CRDs from config/crd and
// waits until they are served, and returns a client config with cluster-admin rights.
// Both processes are stopped when the test ends. Without the binaries the test is
// skipped (or fails, see RequireEnv).
func Start(t testing.TB) *rest.Config {
	t.Helper()
	apiserverBin, etcdBin, err := Binaries()
	if err != nil {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("%v (%s=1 requires the real API server)", err, RequireEnv)
		}
		t.Skipf("skipping the real-API-server test: %v", err)
	}
	dir := t.TempDir()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	etcdURL, err := startEtcd(t, etcdBin, dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := startAPIServer(ctx, t, apiserverBin, dir, etcdURL)
	if err != nil {
		t.Fatal(err)
	}
	if err := InstallCRDs(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// freePorts returns n distinct free TCP ports on 127.0.0.1 (chosen by the OS, then
// released for the child process to bind).
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("apiserver: free port: %w", err)
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// process runs a child whose output goes to a log file, stopped (SIGTERM, then SIGKILL
// after 15s) when the test ends.
type process struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

func startProcess(t testing.TB, name, logPath, bin string, args ...string) (*process, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("apiserver: starting %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	t.Cleanup(func() { p.stop(t) })
	return p, nil
}

func (p *process) stop(t testing.TB) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		t.Logf("%s did not stop within 15s of SIGINT; killing it", p.name)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// exited returns an error with the tail of the log if the process has exited.
func (p *process) exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("apiserver: %s exited: %v\n%s", p.name, p.err, tail(p.log, 40))
	default:
		return nil
	}
}

func tail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

func startEtcd(t testing.TB, bin, dir string) (string, error) {
	ports, err := freePorts(2)
	if err != nil {
		return "", err
	}
	client := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peer := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	p, err := startProcess(t, "etcd", filepath.Join(dir, "etcd.log"), bin,
		"--name", "servekit-test",
		"--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", client,
		"--advertise-client-urls", client,
		"--listen-peer-urls", peer,
		"--initial-advertise-peer-urls", peer,
		"--initial-cluster", "servekit-test="+peer,
		"--log-level", "warn",
	)
	if err != nil {
		return "", err
	}
	// Wait until etcd answers its health endpoint.
	deadline := time.Now().Add(30 * time.Second)
	c := &http.Client{Timeout: time.Second}
	for {
		if err := p.exited(); err != nil {
			return "", err
		}
		resp, err := c.Get(client + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return client, nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("apiserver: etcd not healthy after 30s: %v\n%s", err, tail(p.log, 40))
		}
		time.Sleep(50 * time.Millisecond) // polling a child process: there is no event to wait on
	}
}

// writeCerts writes a CA, a serving certificate for 127.0.0.1 signed by it, and a
// service-account signing key. It returns the CA in PEM.
func writeCerts(dir string) (caPEM []byte, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "servekit-test-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	files := map[string][]byte{
		"ca.crt":     caPEM,
		"server.crt": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER}),
	}
	for name, key := range map[string]*ecdsa.PrivateKey{"server.key": srvKey, "sa.key": saKey} {
		der, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return nil, err
		}
		files[name] = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return nil, err
		}
	}
	return caPEM, nil
}

func startAPIServer(ctx context.Context, t testing.TB, bin, dir, etcdURL string) (*rest.Config, error) {
	certs := filepath.Join(dir, "certs")
	if err := os.MkdirAll(certs, 0o700); err != nil {
		return nil, err
	}
	caPEM, err := writeCerts(certs)
	if err != nil {
		return nil, fmt.Errorf("apiserver: certificates: %w", err)
	}
	tokenBytes := make([]byte, 16)
	if _, err := rand.Read(tokenBytes); err != nil {
		return nil, err
	}
	token := hex.EncodeToString(tokenBytes)
	tokenFile := filepath.Join(certs, "tokens.csv")
	if err := os.WriteFile(tokenFile, []byte(token+`,servekit-admin,servekit-admin,"system:masters"`+"\n"), 0o600); err != nil {
		return nil, err
	}
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	host := "127.0.0.1:" + strconv.Itoa(ports[0])
	p, err := startProcess(t, "kube-apiserver", filepath.Join(dir, "kube-apiserver.log"), bin,
		"--etcd-servers", etcdURL,
		"--etcd-prefix", "/servekit-test",
		"--bind-address", "127.0.0.1",
		"--advertise-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(ports[0]),
		"--cert-dir", certs,
		"--tls-cert-file", filepath.Join(certs, "server.crt"),
		"--tls-private-key-file", filepath.Join(certs, "server.key"),
		"--client-ca-file", filepath.Join(certs, "ca.crt"),
		"--token-auth-file", tokenFile,
		"--authorization-mode", "RBAC",
		"--service-account-issuer", "https://"+host,
		"--service-account-key-file", filepath.Join(certs, "sa.key"),
		"--service-account-signing-key-file", filepath.Join(certs, "sa.key"),
		"--service-cluster-ip-range", "10.0.0.0/24",
		"--allow-privileged=true",
		// The "kubernetes" Service's endpoints cannot point at loopback; nothing needs them.
		"--endpoint-reconciler-type", "none",
		// No controller-manager mints service-account tokens here.
		"--disable-admission-plugins", "ServiceAccount",
		"--v", "1",
	)
	if err != nil {
		return nil, err
	}
	cfg := &rest.Config{
		Host:            "https://" + host,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: caPEM},
		QPS:             200,
		Burst:           400,
		Timeout:         30 * time.Second,
	}
	// Wait for /readyz.
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 2 * time.Second}
	var last string
	for {
		if err := p.exited(); err != nil {
			return nil, err
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, cfg.Host+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := c.Do(req)
		if err == nil {
			body := make([]byte, 512)
			n, _ := resp.Body.Read(body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return cfg, nil
			}
			last = fmt.Sprintf("status %d: %s", resp.StatusCode, body[:n])
		} else {
			last = err.Error()
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("apiserver: kube-apiserver not ready (%s)\n%s", last, tail(p.log, 40))
		}
		time.Sleep(100 * time.Millisecond) // polling a child process: there is no event to wait on
	}
}

// InstallCRDs creates (or replaces) the CRDs of config/crd and waits until each is
// Established and its resource can be listed.
func InstallCRDs(ctx context.Context, cfg *rest.Config) error {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	files, err := fs.Glob(crd.FS, "*.yaml")
	if err != nil {
		return err
	}
	var served []schema.GroupVersionResource
	for _, f := range files {
		b, err := fs.ReadFile(crd.FS, f)
		if err != nil {
			return err
		}
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(bytes.TrimPrefix(b, []byte("---\n")), &obj.Object); err != nil {
			return fmt.Errorf("apiserver: %s: %w", f, err)
		}
		if _, err := dyn.Resource(CRDGVR).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("apiserver: creating CRD %s: %w", f, err)
		}
		group, _, _ := unstructured.NestedString(obj.Object, "spec", "group")
		plural, _, _ := unstructured.NestedString(obj.Object, "spec", "names", "plural")
		version := "v1"
		if vs, _, _ := unstructured.NestedSlice(obj.Object, "spec", "versions"); len(vs) > 0 {
			if m, ok := vs[0].(map[string]any); ok && m["name"] != nil {
				version, _ = m["name"].(string) // DomainMapping's is v1beta1
			}
		}
		served = append(served, schema.GroupVersionResource{Group: group, Version: version, Resource: plural})
		if err := waitEstablished(ctx, dyn, obj.GetName()); err != nil {
			return err
		}
	}
	for _, gvr := range served {
		for {
			_, err := dyn.Resource(gvr).Namespace("default").List(ctx, metav1.ListOptions{Limit: 1})
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("apiserver: %s not served: %w", gvr, err)
			}
			time.Sleep(50 * time.Millisecond) // discovery catches up asynchronously
		}
	}
	return nil
}

func waitEstablished(ctx context.Context, dyn dynamic.Interface, name string) error {
	for {
		got, err := dyn.Resource(CRDGVR).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
			for _, c := range conds {
				m, _ := c.(map[string]any)
				if m["type"] == "Established" && m["status"] == "True" {
					return nil
				}
			}
		}
		if ctx.Err() != nil {
			return errors.Join(fmt.Errorf("apiserver: CRD %s not established", name), err, ctx.Err())
		}
		time.Sleep(50 * time.Millisecond) // the CRD controller works asynchronously
	}
}
