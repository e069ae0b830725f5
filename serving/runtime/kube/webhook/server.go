package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/servekit/servekit/serving"
)

// Names and defaults of what a Server manages.
const (
	// MutatingName and ValidatingName name the webhook configurations and their
	// one webhook each, as Knative Serving names them (so the API server's
	// refusals read `admission webhook "validation.webhook.serving.knative.dev"
	// denied the request: ...`).
	MutatingName   = "webhook.serving.knative.dev"
	ValidatingName = "validation.webhook.serving.knative.dev"
	// DefaultSecretName is the certificate Secret's name.
	DefaultSecretName = "servekit-webhook-certs"
	// ServicePort is the port of Options.Service the API server calls.
	ServicePort = 443
	// DefaultValidity is how long a CA and serving certificate are valid (a
	// week, as Knative's).
	DefaultValidity = 7 * 24 * time.Hour
	// DefaultRotateBefore is how long before expiry they are replaced.
	DefaultRotateBefore = 2 * 24 * time.Hour
	// DefaultResyncInterval is how often the Secret is read again (to pick up
	// another replica's rotation) and the configurations checked.
	DefaultResyncInterval = time.Minute
	// ExcludeLabel on a namespace exempts its objects from the webhooks (Knative's
	// webhooks.knative.dev/exclude).
	ExcludeLabel = "webhooks.knative.dev/exclude"
	// timeoutSeconds is how long the API server waits for an answer.
	timeoutSeconds = 10
)

// Options configure a Server. Client, Listener, Namespace and one of Service and
// URL are required.
type Options struct {
	// Client reads and writes the certificate Secret and the webhook
	// configurations. Required.
	Client kubernetes.Interface
	// Listener is where the webhooks are served over TLS; Run closes it.
	// Required.
	Listener net.Listener
	// Handler answers the reviews; nil means &Handler{} (stock defaults).
	Handler http.Handler
	// Namespace holds the certificate Secret (and Service). Required.
	Namespace string
	// SecretName names the certificate Secret; "" means DefaultSecretName.
	SecretName string
	// Service, in a cluster, is the Service in Namespace that reaches the
	// replicas' Listener on port ServicePort: the configurations name it and the
	// certificate is for its DNS names.
	Service string
	// URL, outside a cluster, is the base URL the API server calls
	// ("https://127.0.0.1:8443"): the configurations carry URL+path and the
	// certificate is for its host. Exactly one of Service and URL is set.
	URL string
	// Validity and RotateBefore: a new CA and serving certificate are valid for
	// Validity and replaced when less than RotateBefore remains. Zero means
	// DefaultValidity and DefaultRotateBefore.
	Validity, RotateBefore time.Duration
	// ResyncInterval is how often the Secret and configurations are checked;
	// zero means DefaultResyncInterval. Until the first check succeeds, it is
	// retried every second and nothing is served.
	ResyncInterval time.Duration
	// Clock is the time source; nil means the real clock.
	Clock clock.WithTicker
	// Logger receives what the server does; nil discards.
	Logger *slog.Logger
}

// Server serves the admission webhooks over TLS and keeps what they need in the
// API server: the certificate Secret (a self-signed CA and a serving certificate
// it signs; made if missing, reused across restarts and by every replica, replaced
// before expiry) and the MutatingWebhookConfiguration and
// ValidatingWebhookConfiguration that point the API server at it with the CA in
// their caBundle (created or corrected; failurePolicy Fail as Knative's). Create
// it with New and call Run once.
type Server struct {
	o     Options
	hosts []string
	log   *slog.Logger
	cert  atomic.Pointer[tls.Certificate]
}

// New checks opts.
func New(opts Options) (*Server, error) {
	switch {
	case opts.Client == nil:
		return nil, errors.New("webhook: Options.Client: required")
	case opts.Listener == nil:
		return nil, errors.New("webhook: Options.Listener: required")
	case opts.Namespace == "":
		return nil, errors.New("webhook: Options.Namespace: required")
	case (opts.Service == "") == (opts.URL == ""):
		return nil, errors.New("webhook: Options.Service, Options.URL: exactly one is required (a Service in a cluster, a URL outside)")
	}
	s := &Server{o: opts, log: opts.Logger}
	if opts.URL != "" {
		u, err := url.Parse(opts.URL)
		if err != nil || u.Scheme != "https" || u.Hostname() == "" || u.Path != "" && u.Path != "/" || u.RawQuery != "" {
			return nil, fmt.Errorf("webhook: Options.URL: %q: want https://HOST:PORT (the API server calls it; HOST not empty)", opts.URL)
		}
		s.o.URL = "https://" + u.Host
		s.hosts = []string{u.Hostname()}
	} else {
		svc, ns := opts.Service, opts.Namespace
		s.hosts = []string{svc + "." + ns + ".svc", svc + "." + ns + ".svc.cluster.local", svc + "." + ns, svc}
	}
	if s.o.SecretName == "" {
		s.o.SecretName = DefaultSecretName
	}
	if s.o.Validity <= 0 {
		s.o.Validity = DefaultValidity
	}
	if s.o.RotateBefore <= 0 {
		s.o.RotateBefore = DefaultRotateBefore
	}
	if s.o.RotateBefore >= s.o.Validity {
		return nil, fmt.Errorf("webhook: Options.RotateBefore (%s) must be less than Options.Validity (%s)", s.o.RotateBefore, s.o.Validity)
	}
	if s.o.ResyncInterval <= 0 {
		s.o.ResyncInterval = DefaultResyncInterval
	}
	if s.o.Clock == nil {
		s.o.Clock = clock.RealClock{}
	}
	if s.o.Handler == nil {
		s.o.Handler = &Handler{Logger: opts.Logger}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// Run keeps the Secret and the configurations and serves the webhooks until ctx
// is done; it serves once the Secret has been read or made. It returns nil after a
// clean shutdown (requests in flight get up to 5 s), or the listener's error.
func (s *Server) Run(ctx context.Context) error {
	srv := &http.Server{
		Handler:           s.o.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    64 << 10,
		TLSConfig: &tls.Config{
			MinVersion:     tls.VersionTLS12,
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return s.cert.Load(), nil },
		},
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	served := make(chan error, 1)
	started := false
	defer func() {
		if !started {
			s.o.Listener.Close()
		}
	}()
	retry := time.Second
	t := s.o.Clock.NewTicker(retry)
	defer func() { t.Stop() }()
	for {
		if err := s.Sync(ctx); err != nil {
			s.log.Error("webhook: keeping the certificate and configurations failed; retrying", "error", err)
		} else if !started {
			started = true
			go func() { served <- srv.ServeTLS(s.o.Listener, "", "") }()
			s.log.Info("webhook: serving", "addr", s.o.Listener.Addr().String(), "url", s.o.URL, "service", s.o.Service)
			t.Stop()
			t = s.o.Clock.NewTicker(s.o.ResyncInterval)
		}
		select {
		case <-ctx.Done():
			if !started {
				return nil
			}
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			err := srv.Shutdown(sctx)
			cancel()
			if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
				return serr
			}
			return err
		case err := <-served:
			return fmt.Errorf("webhook: serving: %w", err)
		case <-t.C():
		}
	}
}

// Sync makes sure once that the Secret holds a valid certificate for this
// server's hosts (making or replacing it as needed), serves that certificate, and
// that both webhook configurations point at this server with the Secret's CA
// bundle. Run calls it periodically.
func (s *Server) Sync(ctx context.Context) error {
	c, err := s.ensureSecret(ctx)
	if err != nil {
		return err
	}
	s.cert.Store(&c.pair)
	if err := s.ensureMutating(ctx, c.caBundle); err != nil {
		return err
	}
	return s.ensureValidating(ctx, c.caBundle)
}

func (s *Server) ensureSecret(ctx context.Context) (*certs, error) {
	secrets := s.o.Client.CoreV1().Secrets(s.o.Namespace)
	name := s.o.Namespace + "/" + s.o.SecretName
	now := s.o.Clock.Now()
	sec, err := secrets.Get(ctx, s.o.SecretName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		data, err := makeCerts(s.hosts, now, s.o.Validity, nil)
		if err != nil {
			return nil, fmt.Errorf("webhook: making a certificate: %w", err)
		}
		sec = &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: s.o.SecretName, Namespace: s.o.Namespace,
				Labels: map[string]string{"app.kubernetes.io/managed-by": "servekit"}},
			Type: corev1.SecretTypeOpaque,
			Data: data,
		}
		created, err := secrets.Create(ctx, sec, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			// Another replica made it meanwhile: use theirs.
			created, err = secrets.Get(ctx, s.o.SecretName, metav1.GetOptions{})
		}
		if err != nil {
			return nil, fmt.Errorf("webhook: Secret %s: %w", name, err)
		}
		s.log.Info("webhook: certificate Secret created", "secret", name, "notAfter", now.Add(s.o.Validity))
		sec = created
	} else if err != nil {
		return nil, fmt.Errorf("webhook: Secret %s: %w", name, err)
	}
	c, perr := parseSecret(sec.Data)
	why := ""
	switch {
	case perr != nil:
		why = perr.Error()
	case !c.covers(s.hosts):
		why = fmt.Sprintf("not for %v", s.hosts)
	case c.leaf.NotAfter.Sub(now) < s.o.RotateBefore:
		why = fmt.Sprintf("expires at %s", c.leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if why == "" {
		return c, nil
	}
	var prev []byte
	if c != nil {
		prev = c.caBundle
	}
	data, err := makeCerts(s.hosts, now, s.o.Validity, prev)
	if err != nil {
		return nil, fmt.Errorf("webhook: making a certificate: %w", err)
	}
	next := sec.DeepCopy()
	next.Data = data
	updated, err := secrets.Update(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		// A conflict: another replica replaced it; the next Sync reads theirs.
		return nil, fmt.Errorf("webhook: Secret %s: replacing the certificate (%s): %w", name, why, err)
	}
	s.log.Info("webhook: certificate replaced", "secret", name, "reason", why, "notAfter", now.Add(s.o.Validity))
	c, err = parseSecret(updated.Data)
	if err != nil {
		return nil, fmt.Errorf("webhook: Secret %s: %w", name, err)
	}
	return c, nil
}

// clientConfig is how the API server reaches path.
func (s *Server) clientConfig(path string, caBundle []byte) admissionregistrationv1.WebhookClientConfig {
	cc := admissionregistrationv1.WebhookClientConfig{CABundle: caBundle}
	if s.o.URL != "" {
		u := s.o.URL + path
		cc.URL = &u
	} else {
		port := int32(ServicePort)
		cc.Service = &admissionregistrationv1.ServiceReference{Namespace: s.o.Namespace, Name: s.o.Service, Path: &path, Port: &port}
	}
	return cc
}

// rules are the objects both webhooks see: creates and updates of the four v1 kinds
// and of DomainMappings
// (not their status: the controller's status writes need no admission).
func rules() []admissionregistrationv1.RuleWithOperations {
	scope := admissionregistrationv1.NamespacedScope
	ops := []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}
	return []admissionregistrationv1.RuleWithOperations{{
		Operations: ops,
		Rule: admissionregistrationv1.Rule{
			APIGroups:   []string{serving.GroupName},
			APIVersions: []string{"v1"},
			Resources:   []string{"configurations", "revisions", "routes", "services"},
			Scope:       &scope,
		},
	}, {
		Operations: ops,
		Rule: admissionregistrationv1.Rule{
			APIGroups:   []string{serving.GroupName},
			APIVersions: []string{"v1beta1"},
			Resources:   []string{"domainmappings"},
			Scope:       &scope,
		},
	}}
}

// Every field the API server would default is set, so that a configuration read
// back compares equal and is not rewritten at each Sync.
func common() (fail *admissionregistrationv1.FailurePolicyType, none *admissionregistrationv1.SideEffectClass,
	match *admissionregistrationv1.MatchPolicyType, ns, obj *metav1.LabelSelector, timeout *int32) {
	f := admissionregistrationv1.Fail
	n := admissionregistrationv1.SideEffectClassNone
	m := admissionregistrationv1.Equivalent
	t := int32(timeoutSeconds)
	return &f, &n, &m,
		&metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: ExcludeLabel, Operator: metav1.LabelSelectorOpDoesNotExist}}},
		&metav1.LabelSelector{}, &t
}

func (s *Server) ensureMutating(ctx context.Context, caBundle []byte) error {
	fail, none, match, ns, obj, timeout := common()
	never := admissionregistrationv1.NeverReinvocationPolicy
	want := []admissionregistrationv1.MutatingWebhook{{
		Name: MutatingName, ClientConfig: s.clientConfig(DefaultingPath, caBundle), Rules: rules(),
		FailurePolicy: fail, SideEffects: none, MatchPolicy: match, NamespaceSelector: ns, ObjectSelector: obj,
		TimeoutSeconds: timeout, AdmissionReviewVersions: []string{"v1"}, ReinvocationPolicy: &never,
	}}
	api := s.o.Client.AdmissionregistrationV1().MutatingWebhookConfigurations()
	cur, err := api.Get(ctx, MutatingName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = api.Create(ctx, &admissionregistrationv1.MutatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: MutatingName, Labels: map[string]string{"app.kubernetes.io/managed-by": "servekit"}},
			Webhooks:   want,
		}, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("webhook: MutatingWebhookConfiguration %s: created meanwhile; next sync: %w", MutatingName, err)
		}
	} else if err == nil && !apiequality.Semantic.DeepEqual(cur.Webhooks, want) {
		next := cur.DeepCopy()
		next.Webhooks = want
		_, err = api.Update(ctx, next, metav1.UpdateOptions{})
		if err == nil {
			s.log.Info("webhook: MutatingWebhookConfiguration updated", "name", MutatingName)
		}
	}
	if err != nil {
		return fmt.Errorf("webhook: MutatingWebhookConfiguration %s: %w", MutatingName, err)
	}
	return nil
}

func (s *Server) ensureValidating(ctx context.Context, caBundle []byte) error {
	fail, none, match, ns, obj, timeout := common()
	want := []admissionregistrationv1.ValidatingWebhook{{
		Name: ValidatingName, ClientConfig: s.clientConfig(ValidationPath, caBundle), Rules: rules(),
		FailurePolicy: fail, SideEffects: none, MatchPolicy: match, NamespaceSelector: ns, ObjectSelector: obj,
		TimeoutSeconds: timeout, AdmissionReviewVersions: []string{"v1"},
	}}
	api := s.o.Client.AdmissionregistrationV1().ValidatingWebhookConfigurations()
	cur, err := api.Get(ctx, ValidatingName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = api.Create(ctx, &admissionregistrationv1.ValidatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: ValidatingName, Labels: map[string]string{"app.kubernetes.io/managed-by": "servekit"}},
			Webhooks:   want,
		}, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("webhook: ValidatingWebhookConfiguration %s: created meanwhile; next sync: %w", ValidatingName, err)
		}
	} else if err == nil && !apiequality.Semantic.DeepEqual(cur.Webhooks, want) {
		next := cur.DeepCopy()
		next.Webhooks = want
		_, err = api.Update(ctx, next, metav1.UpdateOptions{})
		if err == nil {
			s.log.Info("webhook: ValidatingWebhookConfiguration updated", "name", ValidatingName)
		}
	}
	if err != nil {
		return fmt.Errorf("webhook: ValidatingWebhookConfiguration %s: %w", ValidatingName, err)
	}
	return nil
}
